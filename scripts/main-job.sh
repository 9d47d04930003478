#!/usr/bin/env bash
# MCP's main job for the Quick start. For now: lint the example service definitions.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/toolchain.sh
pnpm -s mcp-servicedef lint examples/
echo "All example service definitions in examples/ are valid."
