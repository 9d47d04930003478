#!/usr/bin/env bash
# Quick start, step 1 of 2: sets everything up on a fresh Debian machine, then runs MCP's main job.
# Safe to run again: each step checks what is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/toolchain.sh

step() { printf '\n==> %s\n' "$*"; }

step "System packages (Debian): Podman, registry, test peers"
bash scripts/setup-system.sh

step "Toolchain: Node 24 and pnpm from the npm registry"
bash scripts/install-toolchain.sh

step "Dependencies"
pnpm install --frozen-lockfile

step "Build"
pnpm -s turbo run build --output-logs=errors-only

step "Main job"
bash scripts/main-job.sh
