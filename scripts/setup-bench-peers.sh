#!/usr/bin/env bash
# The peers the benchmarks measure MCP against (not needed for the tests): podman-compose
# and Ansible with the containers.podman collection, from Debian's packages. Idempotent.
set -euo pipefail
missing=()
for p in podman-compose ansible; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-bench-peers: installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup-bench-peers: podman-compose and ansible already installed"
fi
