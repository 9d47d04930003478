#!/usr/bin/env bash
# MCP's main job for the Quick start: lint the example service definitions, then bring up a
# whole local platform (sim MCIAS/Metacrypt/mc-proxy/MCNS, a real registry, an mcp-agent on
# rootless Podman) in .mcp-demo/, build and deploy the demo service with `mcp`, and fetch it
# over HTTPS through the proxy by its DNS name. Safe to run again: it reuses what runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/toolchain.sh
t0=$(date +%s%N)
step() { printf '\n--> %s\n' "$*"; }

step "Lint the example service definitions"
pnpm -s mcp-servicedef lint examples/
echo "All example service definitions in examples/ are valid."

step "Local platform: pnpm mcp-sim up --dir .mcp-demo"
pnpm -s mcp-sim up --dir .mcp-demo
export MCP_CONFIG="$PWD/.mcp-demo/mcp.toml"
node examples/demo/demo.mjs install .mcp-demo

step "Build, push and deploy the demo (mcp sync builds what the registry lacks)"
pnpm -s mcp sync

step "mcp status"
pnpm -s mcp status
pnpm -s mcp ps

step "The demo through mc-proxy, by its name from MCNS, over TLS"
node examples/demo/demo.mjs fetch .mcp-demo demo

t1=$(date +%s%N)
cat <<MSG

Demo done in $(( (t1 - t0) / 1000000 )) ms. The local platform keeps running. Go on with:

  . ./env.sh; export MCP_CONFIG=\$PWD/.mcp-demo/mcp.toml; pnpm mcp ps
  pnpm mcp logs demo; pnpm mcp status demo; pnpm mcp build demo
  pnpm mcp-sim down --dir .mcp-demo      # stop it (state stays in .mcp-demo/)
MSG
