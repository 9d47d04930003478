# Source this (`. ./env.sh`) to put the project's Node 24 and pnpm on PATH in your shell,
# so that `pnpm mcp ...`, `pnpm mcp-servicedef ...` and friends work from the repo root.
# shellcheck shell=bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/scripts/toolchain.sh"
