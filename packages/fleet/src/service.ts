import { DEFAULT_AGENT_DIR, type FleetNode, type ServiceManager } from "./node.ts";
import { runScript, type Ssh } from "./ssh.ts";

/** `systemctl restart mcp-agent` over SSH (via sudo when the node says so). */
export class SystemdServiceManager implements ServiceManager {
  readonly #ssh: Ssh;
  readonly #unit: string;
  readonly #timeoutMs: number;
  constructor(options: { ssh: Ssh; unit?: string; timeoutMs?: number }) {
    this.#ssh = options.ssh;
    this.#unit = options.unit ?? "mcp-agent.service";
    this.#timeoutMs = options.timeoutMs ?? 90_000;
  }

  async restart(node: FleetNode): Promise<void> {
    await this.#ssh.exec(
      node.ssh,
      [...(node.sudo ? ["sudo", "-n"] : []), "systemctl", "restart", this.#unit],
      {
        timeoutMs: this.#timeoutMs,
      },
    );
  }
}

/*
 * The detached agent's parent is gone, so it is reaped by whatever PID 1 is, which need
 * not be quick about it: `kill -0` still succeeds on a zombie. A process counts as gone
 * once /proc says it is a zombie (state Z) or it has no /proc entry.
 */
const ALIVE = `alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]; }`;

/**
 * Stops the process named by $1 (pidfile) — TERM, then KILL after 5 s — and starts
 * $3... detached, appending its output to $2, recording its pid. Restarting a process
 * that is not running just starts it.
 */
export const PIDFILE_RESTART_SCRIPT = `set -eu
pidfile=$1 log=$2
shift 2
${ALIVE}
if [ -s "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    i=0
    while alive "$pid" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null || true
  fi
fi
setsid "$@" </dev/null >>"$log" 2>&1 &
echo $! >"$pidfile"`;

export const PIDFILE_STOP_SCRIPT = `pidfile=$1
[ -s "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
${ALIVE}
kill "$pid" 2>/dev/null || exit 0
i=0
while alive "$pid" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 "$pid" 2>/dev/null || true
rm -f "$pidfile"`;

export interface PidfileServiceManagerOptions {
  ssh: Ssh;
  /** The command, run on the node. Default `<dir>/mcp-agent server --config <dir>/mcp-agent.toml`. */
  command?: (node: FleetNode) => string[];
  /** Environment for the command (e.g. MCP_AGENT_NODE, XDG_RUNTIME_DIR). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * A stand-in for systemd where it is not PID 1 (containers, CI): the agent runs detached
 * with its pid in `<dir>/mcp-agent.pid` and its output in `<dir>/mcp-agent.log`.
 * The same contract as the systemd unit: restart = stop the old process, start the one
 * `<dir>/mcp-agent` now points to.
 */
export class PidfileServiceManager implements ServiceManager {
  readonly #o: PidfileServiceManagerOptions;
  constructor(options: PidfileServiceManagerOptions) {
    this.#o = options;
  }

  #paths(node: FleetNode) {
    const dir = node.dir ?? DEFAULT_AGENT_DIR;
    return { dir, pidfile: `${dir}/mcp-agent.pid`, log: `${dir}/mcp-agent.log` };
  }

  async restart(node: FleetNode): Promise<void> {
    const { dir, pidfile, log } = this.#paths(node);
    const cmd = this.#o.command?.(node) ?? [
      `${dir}/mcp-agent`,
      "server",
      "--config",
      `${dir}/mcp-agent.toml`,
    ];
    const env = Object.entries(this.#o.env ?? {}).map(([k, v]) => `${k}=${v}`);
    await runScript(
      this.#o.ssh,
      node.ssh,
      PIDFILE_RESTART_SCRIPT,
      [pidfile, log, "env", ...env, ...cmd],
      {
        sudo: node.sudo ?? false,
        timeoutMs: this.#o.timeoutMs ?? 30_000,
      },
    );
  }

  async stop(node: FleetNode): Promise<void> {
    await runScript(this.#o.ssh, node.ssh, PIDFILE_STOP_SCRIPT, [this.#paths(node).pidfile], {
      sudo: node.sudo ?? false,
      timeoutMs: this.#o.timeoutMs ?? 30_000,
    });
  }
}
