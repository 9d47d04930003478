import type { Artifact } from "./artifact.ts";
import { ChecksumMismatchError, isRemoteCommandError } from "./errors.ts";
import { DEFAULT_AGENT_DIR, type FleetNode, type ServiceManager } from "./node.ts";
import { describeTarget, runScript, type Ssh } from "./ssh.ts";

/*
 * Layout on a node (dir = /srv/mcp):
 *   versions/<version>/      one unpacked artifact per version (launcher, lib/, manifest)
 *   current -> versions/<v>  swapped with `mv -T` (rename(2) of a symlink: atomic)
 *   previous -> versions/<v> what `current` pointed to before the last upgrade
 *   mcp-agent -> current/mcp-agent   the path systemd's ExecStart names, never rewritten
 */

const EXIT_CHECKSUM = 65;

/** Streams stdin into a fresh private temp file and prints its name. */
export const UPLOAD_SCRIPT = `umask 077
f=$(mktemp "\${TMPDIR:-/tmp}/mcp-agent-upload.XXXXXX")
cat > "$f"
echo "$f"`;

/** $1 dir, $2 version, $3 uploaded file, $4 expected sha256. Verifies, then unpacks. */
export const INSTALL_SCRIPT = `set -eu
dir=$1 version=$2 upload=$3 sum=$4
trap 'rm -f "$upload"' EXIT
actual=$(sha256sum "$upload" | cut -d" " -f1)
if [ "$actual" != "$sum" ]; then
  echo "sha256 of the uploaded artifact is $actual, expected $sum" >&2
  exit ${EXIT_CHECKSUM}
fi
mkdir -p "$dir/versions"
if [ "$(readlink "$dir/current" 2>/dev/null || true)" = "versions/$version" ]; then
  echo "current"
  exit 0
fi
tmp="$dir/versions/.$version.partial"
rm -rf "$tmp"
mkdir "$tmp"
tar -xzf "$upload" -C "$tmp" --no-same-owner
if [ ! -x "$tmp/mcp-agent" ]; then
  echo "the artifact has no executable mcp-agent launcher" >&2
  exit 66
fi
rm -rf "$dir/versions/$version"
mv "$tmp" "$dir/versions/$version"
echo "installed"`;

/** $1 dir, $2 version, $3 "rollback" to leave \`previous\` alone. Prints the old version. */
export const ACTIVATE_SCRIPT = `set -eu
dir=$1 version=$2 mode=\${3:-}
if [ ! -x "$dir/versions/$version/mcp-agent" ]; then
  echo "version $version is not installed in $dir/versions" >&2
  exit 66
fi
prev=$(readlink "$dir/current" 2>/dev/null || true)
ln -sfn "versions/$version" "$dir/.current.new"
mv -T "$dir/.current.new" "$dir/current"
if [ ! -L "$dir/mcp-agent" ]; then
  if [ -e "$dir/mcp-agent" ]; then mv "$dir/mcp-agent" "$dir/mcp-agent.pre-versions"; fi
  ln -sfn current/mcp-agent "$dir/.mcp-agent.new"
  mv -T "$dir/.mcp-agent.new" "$dir/mcp-agent"
fi
if [ "$mode" != rollback ] && [ -n "$prev" ] && [ "$prev" != "versions/$version" ]; then
  ln -sfn "$prev" "$dir/.previous.new"
  mv -T "$dir/.previous.new" "$dir/previous"
fi
echo "\${prev#versions/}"`;

/** $1 dir. Removes every version but current and previous. */
export const PRUNE_SCRIPT = `set -eu
dir=$1
cur=$(readlink "$dir/current" 2>/dev/null || true)
prev=$(readlink "$dir/previous" 2>/dev/null || true)
for d in "$dir"/versions/*/; do
  [ -d "$d" ] || continue
  v="versions/$(basename "$d")"
  if [ "$v" != "$cur" ] && [ "$v" != "$prev" ]; then rm -rf "$d"; fi
done`;

/** The remote steps of an upgrade on one node; the real one runs them over SSH. */
export interface NodeOps {
  /** The version `current` points to, or undefined on a node never upgraded. */
  currentVersion(node: FleetNode): Promise<string | undefined>;
  /** Copies the artifact to the node; returns the remote temp path. */
  upload(node: FleetNode, artifact: Artifact): Promise<string>;
  /** Verifies the sha256 on the node and unpacks into versions/<version>. */
  install(node: FleetNode, artifact: Artifact, uploaded: string): Promise<void>;
  /** Points `current` at `version` atomically; returns the version it pointed to before. */
  activate(node: FleetNode, version: string, mode?: "rollback"): Promise<string | undefined>;
  restart(node: FleetNode): Promise<void>;
  /** Deletes versions other than current and previous. */
  prune(node: FleetNode): Promise<void>;
}

export interface SshNodeOpsOptions {
  ssh: Ssh;
  service: ServiceManager;
  /** Per SSH call. Default 120 s (uploads of a few MB over a slow link). */
  timeoutMs?: number;
}

/** NodeOps over SSH: each step is one `ssh` call running a fixed script with arguments. */
export class SshNodeOps implements NodeOps {
  readonly #o: SshNodeOpsOptions;
  constructor(options: SshNodeOpsOptions) {
    this.#o = options;
  }

  #run(node: FleetNode, script: string, args: string[], extra: { inputFile?: string } = {}) {
    return runScript(this.#o.ssh, node.ssh, script, args, {
      sudo: node.sudo ?? false,
      timeoutMs: this.#o.timeoutMs ?? 120_000,
      ...extra,
    });
  }

  async currentVersion(node: FleetNode): Promise<string | undefined> {
    const r = await this.#run(node, 'readlink "$1/current" || true', [
      node.dir ?? DEFAULT_AGENT_DIR,
    ]);
    const link = r.stdout.trim();
    return link.startsWith("versions/") ? link.slice("versions/".length) : undefined;
  }

  async upload(node: FleetNode, artifact: Artifact): Promise<string> {
    // Not through sudo: the file is private to the SSH user until root reads it.
    const r = await runScript(this.#o.ssh, node.ssh, UPLOAD_SCRIPT, [], {
      inputFile: artifact.path,
      timeoutMs: this.#o.timeoutMs ?? 120_000,
    });
    return r.stdout.trim();
  }

  async install(node: FleetNode, artifact: Artifact, uploaded: string): Promise<void> {
    try {
      await this.#run(node, INSTALL_SCRIPT, [
        node.dir ?? DEFAULT_AGENT_DIR,
        artifact.version,
        uploaded,
        artifact.sha256,
      ]);
    } catch (e) {
      if (isRemoteCommandError(e) && e.exitCode === EXIT_CHECKSUM) {
        throw new ChecksumMismatchError(
          `${node.name}: the artifact arrived corrupted (${e.stderrTail.trim()}); nothing was changed`,
          describeTarget(node.ssh),
          { cause: e },
        );
      }
      throw e;
    }
  }

  async activate(node: FleetNode, version: string, mode?: "rollback"): Promise<string | undefined> {
    const r = await this.#run(node, ACTIVATE_SCRIPT, [
      node.dir ?? DEFAULT_AGENT_DIR,
      version,
      mode ?? "",
    ]);
    const prev = r.stdout.trim();
    return prev === "" ? undefined : prev;
  }

  restart(node: FleetNode): Promise<void> {
    return this.#o.service.restart(node);
  }

  async prune(node: FleetNode): Promise<void> {
    await this.#run(node, PRUNE_SCRIPT, [node.dir ?? DEFAULT_AGENT_DIR]);
  }
}
