#!/usr/bin/env bash
# System setup for rootless Podman and a local OCI registry (Debian 12, run as root).
# Idempotent and quick when already done: every step checks before it changes anything.
# Prints one line per step.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"

MCP_USER="${MCP_USER:-mcp}"
MCP_HOME="${MCP_HOME:-/srv/mcp}"
say() { printf 'setup-system: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "setup-system: must run as root (it installs packages and creates the user $MCP_USER)" >&2
  exit 2
fi

# 1. Packages. apt-get update only when something is missing, so a re-run costs nothing.
# openssh-server/-client stand in for a node in the fleet tests; systemd gives
# systemd-analyze to verify the agent's unit; openssl makes test certificates; the agent
# preloads libjemalloc2 when it is installed (its memory goes back down after a load).
packages=(podman runc uidmap slirp4netns fuse-overlayfs busybox-static docker-registry catatonit
  netavark aardvark-dns ca-certificates openssh-server openssh-client systemd openssl libjemalloc2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  # The docker-registry package would start a registry on :5000 (and openssh-server an
  # sshd on :22) that nobody controls; tests start their own on random loopback ports. A policy-rc.d that answers 101 keeps
  # invoke-rc.d from starting any service during this install (kept if one already exists).
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
else
  say "packages already installed: ${packages[*]}"
fi

# 2. The Debian registry service, if the init system started or enabled it: stop and disable.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  if systemctl is-enabled docker-registry >/dev/null 2>&1 || systemctl is-active docker-registry >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
    say "docker-registry system service stopped and disabled (tests run their own)"
  else
    say "docker-registry system service not running"
  fi
elif [ -x /etc/init.d/docker-registry ] && /etc/init.d/docker-registry status >/dev/null 2>&1; then
  /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  say "docker-registry init service stopped (tests run their own)"
else
  say "docker-registry system service not running"
fi

# 3. containers.conf: runc (crun fails on hybrid cgroups here), ulimits within the hard
# nofile limit of 20000, no session keyring per container (kernel.keys.maxkeys=200 caps
# rootless Podman at ~196 running containers otherwise), cgroupfs and file events because
# the agent's user has no systemd user session; netavark + aardvark-dns so that networks
# get DNS (container names resolve), which Debian's default CNI backend does not give.
conf=/etc/containers/containers.conf
want_conf="# Written by MCP scripts/setup-system.sh
[containers]
default_ulimits = [\"nofile=20000:20000\", \"nproc=4096:4096\"]
keyring = false

[engine]
runtime = \"runc\"
network_backend = \"netavark\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
"
if [ -f "$conf" ] && [ "$(cat "$conf")" = "$(printf '%s' "$want_conf")" ]; then
  say "$conf already configured (runc, ulimits, keyring=false, cgroupfs)"
else
  mkdir -p /etc/containers
  [ -f "$conf" ] && ! grep -q "Written by MCP" "$conf" && cp "$conf" "$conf.orig-mcp"
  printf '%s' "$want_conf" >"$conf"
  say "wrote $conf (runc, ulimits, keyring=false, cgroupfs)"
fi

# 4. The unprivileged user that runs rootless Podman (and, in production, the agent).
if id "$MCP_USER" >/dev/null 2>&1; then
  say "user $MCP_USER exists (uid $(id -u "$MCP_USER"))"
else
  useradd --system --create-home --home-dir "$MCP_HOME" --shell /bin/bash --user-group "$MCP_USER"
  say "created system user $MCP_USER with home $MCP_HOME"
fi
mcp_uid="$(id -u "$MCP_USER")"
mcp_home="$(getent passwd "$MCP_USER" | cut -d: -f6)"
mkdir -p "$mcp_home"
chown "$MCP_USER:" "$mcp_home"

# useradd gives no subordinate ids to system users; rootless Podman needs a range.
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  if grep -q "^$MCP_USER:" "$f"; then
    say "$f has a range for $MCP_USER"
  else
    # Next free range above every existing one, at least 100000, 65536 ids wide.
    start="$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "$f")"
    echo "$MCP_USER:$start:65536" >>"$f"
    say "added $MCP_USER:$start:65536 to $f"
  fi
done

# 5. The user's runtime directory (XDG_RUNTIME_DIR); /run is a tmpfs, so check every time.
rundir="/run/user/$mcp_uid"
# Where /run is not a tmpfs (a container, a restored snapshot), the directory outlives the
# processes that wrote it: Podman then finds its "alive" marker, believes no reboot
# happened, tries to join a pause process or conmon that no longer exists, and fails every
# call with "invalid internal status". With no process of the user left, nothing in it is
# in use, so it is cleared, as logind does when a user's last session ends; Podman then
# refreshes its state as after a reboot.
if [ -d "$rundir" ] && ! pgrep -u "$mcp_uid" >/dev/null && [ -n "$(ls -A "$rundir")" ]; then
  # A leftover mount (a network namespace bind) cannot be deleted; Podman copes with
  # those, so clearing goes as far as it can instead of failing the set-up.
  find "$rundir" -mindepth 1 -delete 2>/dev/null || true
  say "cleared stale $rundir (no process of $MCP_USER is running)"
fi
if [ -d "$rundir" ] && [ "$(stat -c '%U %a' "$rundir")" = "$MCP_USER 700" ]; then
  say "$rundir exists (owner $MCP_USER, 0700)"
else
  mkdir -p "$rundir"
  chown "$MCP_USER:" "$rundir"
  chmod 0700 "$rundir"
  say "made $rundir (owner $MCP_USER, 0700)"
fi

# 6. Devices: slirp4netns needs /dev/net/tun for published ports; fuse-overlayfs needs
# /dev/fuse, without which rootless storage falls back to the slow vfs driver.
for dev in /dev/net/tun /dev/fuse; do
  if [ -c "$dev" ]; then
    if [ "$(stat -c '%a' "$dev")" = 666 ]; then
      say "$dev usable by $MCP_USER (0666)"
    else
      chmod 666 "$dev"
      say "chmod 666 $dev"
    fi
  else
    say "$dev not present (skipped)"
  fi
done

# 7. The user's storage: overlay through fuse-overlayfs (vfs copies every layer in full).
# Only written when absent, so an operator's own storage.conf is left alone.
storage_conf="$mcp_home/.config/containers/storage.conf"
if [ -f "$storage_conf" ]; then
  say "$storage_conf exists (left as is)"
elif [ -c /dev/fuse ] && command -v fuse-overlayfs >/dev/null; then
  mkdir -p "$(dirname "$storage_conf")"
  printf '[storage]\ndriver = "overlay"\n\n[storage.options.overlay]\nmount_program = "%s"\n' \
    "$(command -v fuse-overlayfs)" >"$storage_conf"
  chown -R "$MCP_USER:" "$mcp_home/.config"
  say "wrote $storage_conf (overlay via fuse-overlayfs)"
fi

# 8. Podman works for the user (also migrates its storage after a Podman upgrade).
as_mcp() { runuser -u "$MCP_USER" -- env -i HOME="$mcp_home" USER="$MCP_USER" \
  XDG_RUNTIME_DIR="$rundir" PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
err="$(mktemp)"
if out="$(cd / && as_mcp podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}} {{.Host.NetworkBackend}} rootless={{.Host.Security.Rootless}}' 2>"$err")"; then
  say "rootless podman ready for $MCP_USER: $out"
  rm -f "$err"
else
  echo "setup-system: rootless podman does not work for $MCP_USER: $(cat "$err")" >&2
  rm -f "$err"
  exit 1
fi
