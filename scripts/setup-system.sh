#!/usr/bin/env bash
# Debian packages the project needs. Needs root (as on this machine kind); idempotent.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
echo "setup: no system packages needed yet"
