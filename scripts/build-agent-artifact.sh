#!/usr/bin/env bash
# Builds the mcp-agent release artifacts (linux amd64 and arm64) into dist/artifacts/:
#   mcp-agent-<git describe>-linux-<arch>.tar.gz and .sha256
# Usage: scripts/build-agent-artifact.sh [--arch amd64|arm64]... [--out-dir DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/toolchain.sh
version=$(git describe --tags --always --dirty)
turbo run build --filter=@mcp/fleet --output-logs=errors-only >/dev/null
exec node packages/fleet/dist/build-artifact-cli.js \
  --agent-dir packages/agent --out-dir "$root/dist/artifacts" --version "$version" "$@"
