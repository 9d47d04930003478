import type { OperationResult, Step } from "@mcp/proto/agent/v1";
import { CliError, ExitCode, isCliError } from "./errors.js";
import { fromRpcError, isConnectionFailure, type Target } from "./rpc-errors.js";

/** The shape every long operation's response shares: a step, or the final result. */
export type OperationEvent = {
  event:
    | { case: "step"; value: Step }
    | { case: "result"; value: OperationResult }
    | { case: undefined; value?: undefined };
};

export interface StreamOptions<T> {
  /** Opens the stream; the signal aborts it. */
  open(signal: AbortSignal): AsyncIterable<T>;
  target: Target;
  /** What is being done, for messages: "deploy of web". */
  what: string;
  /** Longest silence from the agent before giving up, in ms. */
  idleMs: number;
  /** Called with each message, in order. */
  onMessage(message: T): void;
  /** Ctrl-C. */
  signal?: AbortSignal | undefined;
}

/**
 * Reads a server stream to its end with an idle timeout: the clock restarts on every message,
 * so a deploy may take as long as it needs while it keeps reporting. Returns how many messages
 * arrived. A stream that breaks after it started (the agent restarted, the network went) is
 * reported as such, because the operation may have been half done on the node.
 */
export async function consumeStream<T>(opts: StreamOptions<T>): Promise<number> {
  const controller = new AbortController();
  let idled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idled = true;
      controller.abort(new Error("idle"));
    }, opts.idleMs);
  };
  let received = 0;
  // Rejects when the controller aborts, so that a stream which ignores its signal cannot hold
  // the command past the idle limit or Ctrl-C.
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener("abort", () => reject(controller.signal.reason), {
      once: true,
    });
  });
  aborted.catch(() => {});
  const onOuterAbort = () => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  if (opts.signal?.aborted) onOuterAbort();
  arm();
  let iterator: AsyncIterator<T> | undefined;
  try {
    iterator = opts.open(controller.signal)[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) break;
      received++;
      arm();
      opts.onMessage(next.value);
    }
    return received;
  } catch (e) {
    if (isCliError(e)) throw e;
    const where = `node ${opts.target.node} (${opts.target.address})`;
    if (idled) {
      throw new CliError(
        `no word from ${where} for ${(opts.idleMs / 1000).toFixed(opts.idleMs < 10_000 ? 1 : 0)}s during the ${opts.what}`,
        {
          exitCode: ExitCode.Unavailable,
          hint: "the agent may be stuck or unreachable; check `mcp status` before retrying",
          cause: e,
        },
      );
    }
    if (opts.signal?.aborted) {
      throw new CliError(`interrupted during the ${opts.what}`, {
        exitCode: ExitCode.Interrupted,
        hint: "the agent goes on with what it started (or undoes it); check `mcp status`",
        cause: e,
      });
    }
    if (received > 0 && isConnectionFailure(e)) {
      throw new CliError(`the connection to ${where} broke during the ${opts.what}`, {
        exitCode: ExitCode.Unavailable,
        hint: "the agent may have restarted; check `mcp status` to see what was done before retrying",
        cause: e,
      });
    }
    throw fromRpcError(e, opts.target);
  } finally {
    clearTimeout(timer);
    if (controller.signal.aborted) void iterator?.return?.()?.catch(() => {});
    opts.signal?.removeEventListener("abort", onOuterAbort);
  }
}

/**
 * Runs one operation stream (deploy, stop, start, restart, undeploy) and returns its result.
 * A stream that ends cleanly without a result broke too: the agent always sends one.
 */
export async function runOperation(
  opts: Omit<StreamOptions<OperationEvent>, "onMessage"> & { onStep(step: Step): void },
): Promise<OperationResult> {
  let result: OperationResult | undefined;
  await consumeStream<OperationEvent>({
    ...opts,
    onMessage: (m) => {
      if (m.event.case === "step") opts.onStep(m.event.value);
      else if (m.event.case === "result") result = m.event.value;
    },
  });
  if (!result) {
    throw new CliError(
      `node ${opts.target.node} (${opts.target.address}) ended the ${opts.what} without a result`,
      {
        exitCode: ExitCode.Unavailable,
        hint: "the agent may have restarted; check `mcp status` to see what was done before retrying",
      },
    );
  }
  return result;
}
