import type { Context, ImageTools } from "./context.js";
import { CliError, ExitCode, isCliError } from "./errors.js";
import { type BuildTarget, LineTail } from "./images.js";
import type { Spinner } from "./progress.js";

export interface BuildOneOptions {
  push: boolean;
  /** Every line of the build output, not only the last one. */
  verbose: boolean;
  /** No progress at all (`sync --json`). */
  quiet?: boolean;
  signal?: AbortSignal | undefined;
}

/** How many lines of build output a failure shows. */
export const FAILURE_TAIL = 20;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** One line of progress for a build or push phase, live on a terminal, plain otherwise. */
interface Phase {
  line(text: string): void;
  done(): void;
  failed(): void;
}

async function startPhase(ctx: Context, label: string, opts: BuildOneOptions): Promise<Phase> {
  const t0 = Date.now();
  const s = ctx.style;
  if (opts.quiet) return { line() {}, done() {}, failed() {} };
  if (ctx.json) {
    const event = (status: string) =>
      ctx.stdout.write(
        `${JSON.stringify({ type: "build", step: label, status, time: new Date().toISOString() })}\n`,
      );
    event("started");
    return {
      line: opts.verbose
        ? (text) =>
            ctx.stdout.write(`${JSON.stringify({ type: "output", step: label, line: text })}\n`)
        : () => {},
      done: () => event("done"),
      failed: () => event("failed"),
    };
  }
  const columns = (ctx.stdout as { columns?: number }).columns ?? 0;
  if (ctx.stdout.isTTY && columns > 0 && !opts.verbose) {
    const { default: ora } = await import("ora");
    const spinner: Spinner = ora({
      stream: ctx.stdout as NodeJS.WritableStream,
      color: s.enabled ? "cyan" : false,
      discardStdin: false,
    });
    spinner.start(label);
    const width = Math.max(20, columns - label.length - 6);
    return {
      line(text) {
        const t = text.trim();
        if (t)
          spinner.text = `${label} ${s.dim(t.length > width ? `${t.slice(0, width - 1)}…` : t)}`;
      },
      done: () =>
        spinner.stopAndPersist({
          symbol: s.green("✔"),
          text: `${label}${s.dim(` (${seconds(Date.now() - t0)})`)}`,
        }),
      failed: () =>
        spinner.stopAndPersist({ symbol: s.red("✖"), text: `${label} ${s.red("failed")}` }),
    };
  }
  ctx.stdout.write(`${s.cyan("…")} ${label}\n`);
  return {
    line: opts.verbose ? (text) => ctx.stdout.write(`${s.dim("│")} ${text}\n`) : () => {},
    done: () =>
      ctx.stdout.write(`${s.green("✔")} ${label}${s.dim(` (${seconds(Date.now() - t0)})`)}\n`),
    failed: () => ctx.stdout.write(`${s.red("✖")} ${label} ${s.red("failed")}\n`),
  };
}

/**
 * Builds one image (context, Dockerfile, `--build-arg VERSION=<tag>`, tagged with the
 * component's reference) and pushes it unless told not to. A failed build throws exit 1 with
 * the last lines of its output; a failed push throws the registry's error (3 or 4).
 */
export async function buildOne(
  ctx: Context,
  tools: ImageTools,
  t: BuildTarget,
  opts: BuildOneOptions,
): Promise<void> {
  const tail = new LineTail(FAILURE_TAIL);
  const build = await startPhase(ctx, `build ${t.image}`, opts);
  try {
    await tools.build(
      t,
      (line) => {
        tail.push(line);
        build.line(line);
      },
      opts.signal,
    );
    build.done();
  } catch (e) {
    build.failed();
    if (isCliError(e)) throw e;
    if (opts.signal?.aborted) throw interrupted(t, e);
    const detail = (e as { detail?: string }).detail ?? (e as Error).message;
    throw new CliError(`build of ${t.image} failed: ${detail}`, {
      exitCode: ExitCode.Failed,
      hint: `the last lines of the build output are above (${t.dockerfile}); --verbose shows all of it`,
      details: tail.lines.map((l) => `  ${l}`),
      cause: e,
    });
  }
  if (!opts.push) return;
  const push = await startPhase(ctx, `push ${t.image}`, opts);
  try {
    await tools.push(t, opts.signal);
    push.done();
  } catch (e) {
    push.failed();
    if (opts.signal?.aborted) throw interrupted(t, e);
    throw e;
  }
}

function interrupted(t: BuildTarget, cause: unknown): CliError {
  return new CliError(`interrupted: ${t.image} was not built and pushed completely`, {
    exitCode: ExitCode.Interrupted,
    hint: "run the command again; a partial build leaves only cache behind",
    cause,
  });
}
