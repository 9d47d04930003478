import { type Artifact, findArtifact, verifyLocalArtifact } from "./artifact.ts";
import { errorLine, FleetInputError, RemoteCommandError } from "./errors.ts";
import { DEFAULT_AGENT_DIR, type FleetNode } from "./node.ts";
import type { NodeOps } from "./remote.ts";
import { runScript, type Ssh } from "./ssh.ts";
import {
  type AgentConfigInput,
  renderAgentConfig,
  renderContainersConf,
  SYSTEMD_UNIT,
} from "./templates.ts";

export const PODMAN_PACKAGES = [
  "podman",
  "runc",
  "uidmap",
  "slirp4netns",
  "fuse-overlayfs",
  "catatonit",
  // The agent preloads jemalloc when it is there: its memory goes back down after a load.
  "libjemalloc2",
] as const;

/**
 * The provisioning script. Every step checks before it acts and prints one line
 * `step <name> <status> <detail>`, status one of: changed, unchanged, kept (an existing
 * file differs and was left alone; the template went to .new), would-change (check mode),
 * skipped. Running it twice changes nothing the second time.
 *
 * $1 root prefix for files ("" on a real node), $2 system mode: apply | check (check never
 * touches packages, users, subordinate ids or linger), $3 user, $4 agent dir,
 * $5 containers.conf for cgroups v2, $6 containers.conf with runc, $7 unit template,
 * $8 agent config, $9 extra directories (space separated).
 */
export const PROVISION_SCRIPT = `set -eu
root=$1 mode=$2 user=$3 dir=$4 conf_v2=$5 conf_runc=$6 unit=$7 config=$8 extra_dirs=$9
say() { echo "step $*"; }
systemd_up() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

# Writes $2 to $1 when different; prints changed/unchanged. $3 mode, $4 owner.
put() {
  if [ -f "$1" ] && [ "$(cat "$1"; echo x)" = "$(printf '%s' "$2"; echo x)" ]; then echo unchanged; return; fi
  mkdir -p "$(dirname "$1")"
  printf '%s' "$2" > "$1.tmp.$$"
  chmod "$3" "$1.tmp.$$"
  [ -z "\${4:-}" ] || chown "$4" "$1.tmp.$$"
  mv -f "$1.tmp.$$" "$1"
  echo changed
}

# 1. packages
missing=""
for p in podman runc uidmap slirp4netns fuse-overlayfs catatonit libjemalloc2; do
  dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then say packages unchanged "podman runc uidmap slirp4netns fuse-overlayfs catatonit libjemalloc2"
elif [ "$mode" = check ]; then say packages would-change "missing:$missing"
else
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  say packages changed "installed:$missing"
fi

# 2. user
if getent passwd "$user" >/dev/null; then
  home=$(getent passwd "$user" | cut -d: -f6)
  if [ "$home" = "$dir" ]; then say user unchanged "$user home $home"
  else say user unchanged "$user exists with home $home (expected $dir; not changed)"; fi
elif [ "$mode" = check ]; then say user would-change "create system user $user home $dir"
else
  useradd --system --user-group --home-dir "$dir" --create-home --shell /usr/sbin/nologin "$user"
  say user changed "created $user uid $(id -u "$user")"
fi

# 3. subordinate ids (useradd --system allocates none)
sub_missing=""
for f in /etc/subuid /etc/subgid; do grep -q "^$user:" "$f" 2>/dev/null || sub_missing="$sub_missing $f"; done
if [ -z "$sub_missing" ]; then say subids unchanged "$(grep "^$user:" /etc/subuid | head -n1)"
elif [ "$mode" = check ]; then say subids would-change "missing in$sub_missing"
else
  start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: 'BEGIN{m=100000} NF==3 && $2+$3>m {m=$2+$3} END{print m}')
  end=$((start + 65535))
  usermod --add-subuids "$start-$end" --add-subgids "$start-$end" "$user"
  say subids changed "$start-$end"
fi

# 4. linger: /run/user/<uid> exists from boot, not only while someone is logged in
if [ -e "/var/lib/systemd/linger/$user" ]; then say linger unchanged enabled
elif [ "$mode" = check ]; then say linger would-change "enable-linger $user"
elif systemd_up; then loginctl enable-linger "$user"; say linger changed enabled
else mkdir -p /var/lib/systemd/linger && touch "/var/lib/systemd/linger/$user"; say linger changed "enabled (systemd not running: linger file written)"
fi

owner=""
getent passwd "$user" >/dev/null && owner="$user:$(id -gn "$user")"

# 5. directories
made=""
for d in "$dir" "$dir/certs" "$dir/versions" "$dir/.config/containers" $extra_dirs; do
  p="$root$d"
  if [ ! -d "$p" ]; then mkdir -p "$p"; made="$made $d"; fi
  if [ -n "$owner" ] && [ "$(stat -c %U "$p")" != "$user" ]; then chown "$owner" "$p"; made="$made $d(owner)"; fi
done
if [ "$(stat -c %a "$root$dir/certs")" != 700 ]; then chmod 700 "$root$dir/certs"; made="$made $dir/certs(mode)"; fi
if [ -z "$made" ]; then say dirs unchanged "$dir"; else say dirs changed "$made"; fi

# 6. containers.conf of the mcp user (runc where cgroups are not v2-only: crun fails there)
if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then conf=$conf_v2 rt=crun; else conf=$conf_runc rt=runc; fi
s=$(put "$root$dir/.config/containers/containers.conf" "$conf" 644 "$owner")
say containers-conf "$s" "runtime $rt, keyring=false, ulimits"

# 7. agent config: never overwritten
cfg="$root$dir/mcp-agent.toml"
if [ ! -e "$cfg" ]; then s=$(put "$cfg" "$config" 600 "$owner"); say config "$s" "$dir/mcp-agent.toml"
elif [ "$(cat "$cfg"; echo x)" = "$(printf '%s' "$config"; echo x)" ]; then say config unchanged "$dir/mcp-agent.toml"
else
  s=$(put "$cfg.new" "$config" 600 "$owner")
  say config kept "$dir/mcp-agent.toml differs from the template: left alone, template in $dir/mcp-agent.toml.new"
fi

# 8. systemd unit, with the uid pinned
if uid=$(id -u "$user" 2>/dev/null); then
  text=$(printf '%s' "$unit" | sed "s/@MCP_UID@/$uid/g"; echo x)
  text=\${text%x}
  s=$(put "$root/etc/systemd/system/mcp-agent.service" "$text" 644 "")
  if systemd_up; then
    [ "$s" = unchanged ] || systemctl daemon-reload
    if ! systemctl is-enabled --quiet mcp-agent.service; then systemctl enable --quiet mcp-agent.service; s=changed; fi
    say unit "$s" "mcp-agent.service enabled (XDG_RUNTIME_DIR=/run/user/$uid)"
  else
    say unit "$s" "mcp-agent.service (XDG_RUNTIME_DIR=/run/user/$uid; systemd not running here: not enabled)"
  fi
else
  say unit skipped "user $user does not exist"
fi
`;

export type StepStatus = "changed" | "unchanged" | "kept" | "would-change" | "skipped";

export interface ProvisionStep {
  name: string;
  status: StepStatus;
  detail: string;
}

const STATUSES = new Set<string>(["changed", "unchanged", "kept", "would-change", "skipped"]);

/** Parses the script's `step <name> <status> <detail>` lines; other lines are ignored. */
export function parseSteps(stdout: string): ProvisionStep[] {
  const steps: ProvisionStep[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^step (\S+) (\S+) ?(.*)$/.exec(line);
    if (m && STATUSES.has(m[2] as string)) {
      steps.push({ name: m[1] as string, status: m[2] as StepStatus, detail: (m[3] ?? "").trim() });
    }
  }
  return steps;
}

export interface ProvisionOptions {
  node: FleetNode;
  ssh: Ssh;
  /** Installs the artifact (upload, node-side sha256, unpack, first activation). */
  ops: NodeOps;
  artifactsDir: string;
  version?: string;
  config: AgentConfigInput;
  /**
   * Write files under this prefix instead of / and only check (never change) packages,
   * users, subordinate ids and linger. For tests against a machine that is not a fresh node.
   */
  root?: string;
  user?: string;
  /** More directories to create, owned by the user. Default /srv/mc-proxy/certs. */
  extraDirs?: string[];
  timeoutMs?: number;
}

export interface ProvisionResult {
  node: string;
  steps: ProvisionStep[];
  /** Something was changed (or, in check mode, would be). */
  changed: boolean;
}

const ABS_RE = /^\/[A-Za-z0-9._/-]*$/;

/**
 * `mcp node provision <name>` for a Debian node: runs the provisioning script over SSH
 * (as root, or through sudo when `node.sudo`), then installs the agent artifact. One
 * progress call per step.
 */
export async function provisionNode(
  o: ProvisionOptions,
  progress: (s: ProvisionStep & { node: string }) => void = () => {},
): Promise<ProvisionResult> {
  const dir = o.node.dir ?? DEFAULT_AGENT_DIR;
  const root = o.root ?? "";
  const extra = o.extraDirs ?? ["/srv/mc-proxy", "/srv/mc-proxy/certs"];
  for (const p of [dir, ...extra, ...(root ? [root] : [])]) {
    if (!ABS_RE.test(p))
      throw new FleetInputError(`${p}: expected an absolute path of plain characters`);
  }
  const user = o.user ?? "mcp";
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user))
    throw new FleetInputError(`user ${JSON.stringify(user)} is not a user name`);
  const config = renderAgentConfig({ ...o.config, dir });
  const artifact: Artifact = await findArtifact(o.artifactsDir, o.node.arch, o.version);
  await verifyLocalArtifact(artifact);

  const unit = SYSTEMD_UNIT.replaceAll("/srv/mcp", dir)
    .replaceAll("User=mcp", `User=${user}`)
    .replaceAll("Group=mcp", `Group=${user}`);
  const r = await runScript(
    o.ssh,
    o.node.ssh,
    PROVISION_SCRIPT,
    [
      root,
      root ? "check" : "apply",
      user,
      dir,
      renderContainersConf({ runc: false }),
      renderContainersConf({ runc: true }),
      unit,
      config,
      extra.join(" "),
    ],
    { sudo: o.node.sudo ?? false, timeoutMs: o.timeoutMs ?? 600_000 },
  );
  const steps = parseSteps(r.stdout);
  if (steps.length < 8) {
    throw new RemoteCommandError(
      `${o.node.name}: provisioning stopped after ${steps.length} steps`,
      o.node.name,
      0,
      r.stderr,
    );
  }
  for (const s of steps) progress({ node: o.node.name, ...s });

  // The agent files live under the (prefixed) agent dir like every later upgrade's.
  const agentNode: FleetNode = { ...o.node, dir: `${root}${dir}` };
  let agent: ProvisionStep;
  try {
    const current = await o.ops.currentVersion(agentNode);
    if (current) {
      agent = {
        name: "agent",
        status: "unchanged",
        detail:
          current === artifact.version
            ? `mcp-agent ${current}`
            : `mcp-agent ${current} installed (mcp agent upgrade installs ${artifact.version})`,
      };
    } else {
      const uploaded = await o.ops.upload(agentNode, artifact);
      await o.ops.install(agentNode, artifact, uploaded);
      await o.ops.activate(agentNode, artifact.version);
      agent = {
        name: "agent",
        status: "changed",
        detail: `mcp-agent ${artifact.version} installed at ${dir}/mcp-agent`,
      };
    }
  } catch (e) {
    throw new RemoteCommandError(
      `${o.node.name}: installing the agent failed: ${errorLine(e)}`,
      o.node.name,
      1,
      "",
      {
        cause: e,
      },
    );
  }
  progress({ node: o.node.name, ...agent });
  steps.push(agent);
  return {
    node: o.node.name,
    steps,
    changed: steps.some((s) => s.status === "changed" || s.status === "would-change"),
  };
}
