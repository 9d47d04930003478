# shellcheck shell=bash
# Sourced by setup.sh, test.sh and env.sh. Puts the project's own Node 24 and pnpm
# (both from the npm registry, kept under .tools/, no root needed) first on PATH.
MCP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MCP_TOOLS="$MCP_ROOT/.tools"
export PATH="$MCP_TOOLS/bin:$MCP_ROOT/node_modules/.bin:$PATH"
# The machine's NODE_EXTRA_CA_CERTS is harmless on Node 24 (read lazily), so it stays.
export npm_config_loglevel="${npm_config_loglevel:-error}"
export TURBO_TELEMETRY_DISABLED=1
export DO_NOT_TRACK=1
