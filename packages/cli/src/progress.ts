import { type Step, StepStatus } from "@mcp/proto/agent/v1";
import type { Style, Writer } from "./output.js";

/** Shows the steps of a long operation as they arrive. */
export interface StepRenderer {
  onStep(step: Step): void;
  /** Stops any spinner; call on success and on failure alike. */
  stop(): void;
}

/** "pull web", "allocate ports", "register dns (mcq)": a step's name for people. */
export function stepLabel(
  step: Pick<Step, "name" | "component" | "service">,
  withService = false,
): string {
  const parts = [step.name.replaceAll("-", " ").replaceAll("_", " ")];
  if (step.component) parts.push(step.component);
  let label = parts.join(" ");
  if (withService && step.service) label = `${step.service}: ${label}`;
  return label;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

function key(step: Step): string {
  return `${step.service}\u0000${step.name}\u0000${step.component}`;
}

interface Outcome {
  symbol: string;
  text: string;
}

/** The line a finished step leaves behind; undefined for a step that only started. */
export function outcomeLine(
  step: Step,
  style: Style,
  elapsedMs: number | undefined,
  withService: boolean,
): Outcome | undefined {
  const label = stepLabel(step, withService);
  const took = elapsedMs === undefined ? "" : style.dim(` (${seconds(elapsedMs)})`);
  const detail = step.message ? style.dim(`: ${step.message}`) : "";
  switch (step.status) {
    case StepStatus.DONE:
      return { symbol: style.green("✔"), text: `${label}${took}${detail}` };
    case StepStatus.SKIPPED:
      return { symbol: style.dim("-"), text: `${label} ${style.dim("skipped")}${detail}` };
    case StepStatus.FAILED:
      return {
        symbol: style.red("✖"),
        text: `${label} ${style.red("failed")}${step.message ? `: ${step.message}` : ""}`,
      };
    case StepStatus.UNDONE:
      return { symbol: style.yellow("↩"), text: `${label} ${style.yellow("undone")}${detail}` };
    default:
      return undefined;
  }
}

/**
 * For pipes and logs: one line per event, including "started", so that a slow pull shows up
 * in a CI log before it finishes.
 */
export function createPlainRenderer(
  out: Writer,
  style: Style,
  opts: { now?: () => number; withService?: boolean } = {},
): StepRenderer {
  const now = opts.now ?? Date.now;
  const started = new Map<string, number>();
  return {
    onStep(step) {
      if (step.status === StepStatus.STARTED) {
        started.set(key(step), now());
        out.write(`${style.cyan("…")} ${stepLabel(step, opts.withService)}\n`);
        return;
      }
      const t0 = started.get(key(step));
      started.delete(key(step));
      const line = outcomeLine(
        step,
        style,
        t0 === undefined ? undefined : now() - t0,
        opts.withService ?? false,
      );
      if (line) out.write(`${line.symbol} ${line.text}\n`);
    },
    stop() {},
  };
}

/** The part of ora this renderer uses, so tests can watch what it is told. */
export interface Spinner {
  text: string;
  start(text?: string): unknown;
  stop(): unknown;
  stopAndPersist(opts: { symbol: string; text: string }): unknown;
  readonly isSpinning: boolean;
}

/**
 * For a terminal: a spinner over the steps that are running (several at once when components
 * deploy in parallel), and one persistent line per finished step.
 */
export function createSpinnerRenderer(
  spinner: Spinner,
  style: Style,
  opts: { now?: () => number; withService?: boolean } = {},
): StepRenderer {
  const now = opts.now ?? Date.now;
  const running = new Map<string, { label: string; t0: number }>();
  const refresh = () => {
    if (running.size === 0) {
      if (spinner.isSpinning) spinner.stop();
      return;
    }
    const text = [...running.values()].map((r) => r.label).join(", ");
    if (spinner.isSpinning) spinner.text = text;
    else spinner.start(text);
  };
  return {
    onStep(step) {
      const k = key(step);
      if (step.status === StepStatus.STARTED) {
        running.set(k, { label: stepLabel(step, opts.withService), t0: now() });
        refresh();
        return;
      }
      const r = running.get(k);
      running.delete(k);
      const line = outcomeLine(
        step,
        style,
        r ? now() - r.t0 : undefined,
        opts.withService ?? false,
      );
      if (line) {
        // stopAndPersist replaces the spinner line with the finished step; the spinner then
        // restarts below it for whatever is still running.
        if (!spinner.isSpinning) spinner.start();
        spinner.stopAndPersist(line);
      }
      refresh();
    },
    stop() {
      running.clear();
      if (spinner.isSpinning) spinner.stop();
    },
  };
}

/** The renderer for this output: a spinner on a terminal, plain lines otherwise. */
export async function createStepRenderer(
  out: Writer,
  style: Style,
  opts: { withService?: boolean } = {},
): Promise<StepRenderer> {
  // A terminal of unknown width (a pty nobody sized, as in some CI runners) makes ora redraw
  // as if each line wrapped endlessly; plain lines are the safe choice there.
  const columns = (out as { columns?: number }).columns ?? 0;
  if (!out.isTTY || !(columns > 0)) return createPlainRenderer(out, style, opts);
  const { default: ora } = await import("ora");
  // isTTY is true, so this is a real terminal stream.
  const spinner = ora({
    stream: out as NodeJS.WritableStream,
    color: style.enabled ? "cyan" : false,
    discardStdin: false,
  });
  return createSpinnerRenderer(spinner, style, opts);
}
