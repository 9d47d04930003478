#!/usr/bin/env bash
# Quick start, step 2 of 2: runs every test (unit, integration against real rootless Podman,
# a real registry and the sim services, end to end). Run ./setup.sh once first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/toolchain.sh
[ -x .tools/bin/node ] || { echo "test: the toolchain is missing; run ./setup.sh first" >&2; exit 2; }

rm -f packages/*/test-results.json apps/*/test-results.json tests/*/test-results.json
pnpm -s turbo run build --output-logs=errors-only
status=0
# Static checks first: Biome over the whole repo, tsc and publint per package.
biome check . --max-diagnostics=50 || status=$?
pnpm -s turbo run typecheck lint --output-logs=errors-only || status=$?
# One package at a time: integration suites share one rootless Podman and must not race.
pnpm -s turbo run test --concurrency=1 --continue --output-logs=full "$@" || status=$?
node scripts/test-summary.mjs || status=$?
exit "$status"
