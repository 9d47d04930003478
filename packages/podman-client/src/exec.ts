/**
 * Runs the podman binary: argument arrays (never a shell), an explicit environment, a
 * timeout on every call, and failures mapped to this package's errors.
 */
import { createInterface, type Interface } from "node:readline";
import { execa, type Options } from "execa";
import {
  classifyFailure,
  commandName,
  PodmanAbortedError,
  PodmanMissingError,
  PodmanTimeoutError,
  podmanErrorLine,
} from "./errors.ts";

export interface Runner {
  /** Absolute path of the podman binary. */
  file: string;
  env: Record<string, string>;
  uid: number | undefined;
  gid: number | undefined;
  cwd: string;
}

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** What the call is about, for error messages. */
  subject?: string;
  /** Exit codes that are answers rather than failures (e.g. 1 of `exists`). */
  okExitCodes?: readonly number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function baseOptions(r: Runner): Options {
  return {
    env: r.env,
    extendEnv: false,
    cwd: r.cwd,
    ...(r.uid === undefined ? {} : { uid: r.uid }),
    ...(r.gid === undefined ? {} : { gid: r.gid }),
    stdin: "ignore",
    stripFinalNewline: false,
    // A podman that ignores SIGTERM on timeout or abort gets SIGKILL 2 s later.
    forceKillAfterDelay: 2000,
  };
}

function missing(r: Runner, cause: unknown, args: readonly string[]) {
  return new PodmanMissingError(`podman could not be started from ${r.file}`, {
    cause,
    command: args,
  });
}

export async function run(r: Runner, args: readonly string[], o: RunOptions): Promise<RunResult> {
  const result = await execa(r.file, args, {
    ...baseOptions(r),
    timeout: o.timeoutMs,
    ...(o.signal ? { cancelSignal: o.signal } : {}),
    reject: false,
    maxBuffer: 512 * 1024 * 1024,
  });
  const stdout = String(result.stdout ?? "");
  const stderr = String(result.stderr ?? "");
  if (result.timedOut) {
    throw new PodmanTimeoutError(
      o.timeoutMs,
      `podman ${commandName(args)}${o.subject ? ` (${o.subject})` : ""}: no answer within ${o.timeoutMs} ms`,
      { command: args, detail: podmanErrorLine(stderr), cause: result },
    );
  }
  if (result.isCanceled) {
    throw new PodmanAbortedError(`podman ${commandName(args)}: aborted by the caller`, {
      command: args,
      cause: result,
    });
  }
  if (result.exitCode === undefined) {
    if ((result as { code?: string }).code === "ENOENT" || /ENOENT/.test(result.message ?? "")) {
      throw missing(r, result, args);
    }
    throw classifyFailure({
      args,
      stderr: stderr || (result.message ?? ""),
      exitCode: undefined,
      ...sub(o),
    });
  }
  if (result.exitCode !== 0 && !(o.okExitCodes ?? []).includes(result.exitCode)) {
    throw classifyFailure({ args, stderr, exitCode: result.exitCode, ...sub(o) });
  }
  return { stdout, stderr, exitCode: result.exitCode };
}

function sub(o: { subject?: string }) {
  return o.subject === undefined ? {} : { subject: o.subject };
}

export interface StreamLine {
  stream: "stdout" | "stderr";
  line: string;
}

export interface StreamOptions {
  signal?: AbortSignal | undefined;
  /** Overall limit; undefined for streams that run until aborted (logs -f, events). */
  timeoutMs?: number | undefined;
  subject?: string;
  /**
   * stderr lines are held back until the next line or the exit, so that Podman's own
   * "Error: …" line is reported as the error rather than handed out as output.
   */
  holdStderrErrors?: boolean;
}

/** Lines queued before the reader pauses the pipes (backpressure across both streams). */
const HIGH_WATER = 512;
const LOW_WATER = 64;

/**
 * Streams a podman process's output line by line, stdout and stderr merged in arrival
 * order, without keeping more than a bounded number of lines in memory: when the consumer
 * falls behind, both pipes are paused, so the process blocks rather than the heap growing.
 * Ends quietly when the signal aborts; throws the mapped error when podman fails.
 */
export async function* streamLines(
  r: Runner,
  args: readonly string[],
  o: StreamOptions,
): AsyncGenerator<StreamLine, void, undefined> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  o.signal?.addEventListener("abort", onAbort, { once: true });
  if (o.signal?.aborted) return;
  const sp = execa(r.file, args, {
    ...baseOptions(r),
    cancelSignal: controller.signal,
    ...(o.timeoutMs === undefined ? {} : { timeout: o.timeoutMs }),
    reject: false,
    buffer: false,
  });

  const queue: StreamLine[] = [];
  const tail: string[] = [];
  let wake: (() => void) | undefined;
  let open = 2;
  const readers: Interface[] = [];
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const attach = (stream: NodeJS.ReadableStream | null, name: "stdout" | "stderr") => {
    if (!stream) {
      open--;
      return;
    }
    const rl = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
    readers.push(rl);
    rl.on("line", (line) => {
      queue.push({ stream: name, line });
      if (name === "stderr") {
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
      if (queue.length >= HIGH_WATER) for (const x of readers) x.pause();
      notify();
    });
    rl.on("close", () => {
      open--;
      notify();
    });
  };
  attach(sp.stdout, "stdout");
  attach(sp.stderr, "stderr");
  let spawnError: unknown;
  let exited = false;
  const done = sp.then(
    (res) => {
      exited = true;
      return res;
    },
    (e: unknown) => {
      spawnError = e;
      exited = true;
      return undefined;
    },
  );

  let held: StreamLine | undefined;
  try {
    for (;;) {
      if (queue.length === 0) {
        if (open <= 0) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const item = queue.shift()!;
      if (queue.length <= LOW_WATER) for (const x of readers) x.resume();
      if (o.holdStderrErrors) {
        if (held) {
          yield held;
          held = undefined;
        }
        if (item.stream === "stderr" && item.line.startsWith("Error:")) {
          held = item;
          continue;
        }
      }
      yield item;
    }
    const res = await done;
    if (o.signal?.aborted) return;
    if (spawnError !== undefined || !res) throw missing(r, spawnError, args);
    if (res.timedOut) {
      throw new PodmanTimeoutError(
        o.timeoutMs ?? 0,
        `podman ${commandName(args)}${o.subject ? ` (${o.subject})` : ""}: no answer within ${o.timeoutMs} ms`,
        { command: args, detail: podmanErrorLine(tail.join("\n")) },
      );
    }
    if (res.exitCode === undefined && /ENOENT/.test(res.message ?? "")) throw missing(r, res, args);
    if (res.exitCode !== 0) {
      throw classifyFailure({
        args,
        stderr: tail.join("\n") || (res.message ?? ""),
        exitCode: res.exitCode,
        ...sub(o),
      });
    }
    if (held) yield held;
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    if (!exited) controller.abort();
    for (const x of readers) x.close();
    await done;
  }
}
