import { execa } from "execa";
import type { Alert } from "./evaluate.ts";

export interface AlertLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface AlertRunnerOptions {
  /** A command that has not finished by then is killed (its whole process group). */
  timeoutMs?: number;
  /** Alert commands running at once; more wait in a queue. */
  maxConcurrent?: number;
  /** Alerts waiting beyond this are dropped (and logged): a stuck command must not grow memory. */
  maxQueued?: number;
  log: AlertLog;
}

/** The details of an alert, as the environment of `alert_command`. */
export function alertEnv(a: Alert): Record<string, string> {
  return {
    MCP_ALERT_KIND: a.kind,
    MCP_ALERT_NODE: a.node,
    MCP_ALERT_SERVICE: a.service,
    MCP_ALERT_COMPONENT: a.component,
    MCP_ALERT_FROM: a.from,
    MCP_ALERT_TO: a.to,
    MCP_ALERT_TIME: a.time,
    MCP_ALERT_MESSAGE: a.message,
  };
}

/**
 * Runs `alert_command` (an argument list, no shell) once per alert, in the background: the
 * monitor hands alerts over and never waits for them. A command that hangs is killed after
 * the timeout; one that fails is logged. Commands run in their own process group so that a
 * script's children die with it (otherwise a `sleep` they started keeps the pipes open).
 */
export class AlertRunner {
  readonly #argv: readonly string[];
  readonly #timeoutMs: number;
  readonly #maxConcurrent: number;
  readonly #maxQueued: number;
  readonly #log: AlertLog;
  readonly #queue: Alert[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #groups = new Set<number>();
  #closed = false;

  constructor(argv: readonly string[], options: AlertRunnerOptions) {
    if (argv.length === 0 || !argv[0]) throw new Error("alert_command must name a program");
    this.#argv = argv;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxConcurrent = options.maxConcurrent ?? 4;
    this.#maxQueued = options.maxQueued ?? 100;
    this.#log = options.log;
  }

  get pending(): number {
    return this.#queue.length + this.#running.size;
  }

  send(alert: Alert): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#maxQueued) {
      this.#log.warn(
        { service: alert.service, component: alert.component, kind: alert.kind },
        "alert dropped: too many alert commands waiting",
      );
      return;
    }
    this.#queue.push(alert);
    this.#pump();
  }

  /** Resolves when no alert command is running or waiting (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Drops waiting alerts and kills running commands. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue.length = 0;
    for (const pgid of this.#groups) killGroup(pgid, "SIGKILL");
    await this.idle();
  }

  #pump(): void {
    while (this.#running.size < this.#maxConcurrent && this.#queue.length > 0) {
      const alert = this.#queue.shift() as Alert;
      const p = this.#run(alert).finally(() => {
        this.#running.delete(p);
        this.#pump();
      });
      this.#running.add(p);
    }
  }

  async #run(alert: Alert): Promise<void> {
    const [file, ...args] = this.#argv as [string, ...string[]];
    const fields = { service: alert.service, component: alert.component, kind: alert.kind };
    const child = execa(file, args, {
      env: alertEnv(alert),
      extendEnv: true,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      detached: true,
      reject: false,
      maxBuffer: { stderr: 16 * 1024 },
      stripFinalNewline: true,
    });
    const pgid = child.pid;
    if (pgid !== undefined) this.#groups.add(pgid);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pgid === undefined) return;
      killGroup(pgid, "SIGTERM");
      setTimeout(() => killGroup(pgid, "SIGKILL"), 1000).unref();
    }, this.#timeoutMs);
    timer.unref();
    try {
      const r = await child;
      if (timedOut) {
        this.#log.warn(
          { ...fields, timeoutMs: this.#timeoutMs },
          "alert command timed out and was killed",
        );
      } else if (r.failed) {
        const stderr = typeof r.stderr === "string" ? r.stderr.split("\n")[0] : "";
        this.#log.warn(
          {
            ...fields,
            exitCode: r.exitCode,
            signal: r.signal,
            error: r.code ?? r.shortMessage?.split("\n")[0],
            stderr,
          },
          "alert command failed",
        );
      } else {
        this.#log.info(fields, "alert command ran");
      }
    } catch (e) {
      this.#log.warn({ ...fields, error: String(e) }, "alert command could not run");
    } finally {
      clearTimeout(timer);
      if (pgid !== undefined) {
        // Children the command left behind in its group go too.
        killGroup(pgid, "SIGKILL");
        this.#groups.delete(pgid);
      }
    }
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}
