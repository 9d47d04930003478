import { errorLine, StepFailedError } from "../errors.ts";

export type StepStatus = "started" | "done" | "unchanged" | "skipped" | "failed" | "undone";

/** Progress of an operation, streamed to the CLI. */
export interface StepEvent {
  name: string;
  component: string;
  service: string;
  status: StepStatus;
  message: string;
}

export type Emit = (event: StepEvent) => void;

export interface StepOutcome {
  status: "done" | "unchanged" | "skipped";
  message?: string;
}

/**
 * One small named unit of an operation. `undo` compensates what `do` changed; it runs when
 * `do` reported "done" and a later step failed, and when `do` itself failed part-way — so
 * it must undo only what `do` got to.
 */
export interface Step {
  name: string;
  component?: string;
  do(): Promise<StepOutcome>;
  undo?(): Promise<void>;
}

export const unchanged = (message = "unchanged"): StepOutcome => ({ status: "unchanged", message });
export const done = (message = ""): StepOutcome => ({ status: "done", message });
export const skipped = (message: string): StepOutcome => ({ status: "skipped", message });
export const NOT_CONFIGURED = "skipped (not configured)";

/**
 * Runs steps in order, reporting each. When one fails, undoes the completed ones in reverse
 * order (reporting "undone") and throws StepFailedError naming the failed step. Returns
 * whether any step changed something.
 */
export async function runSteps(
  service: string,
  steps: Step[],
  emit: Emit,
  onStep?: (step: Step) => void,
): Promise<{ changed: boolean }> {
  const completed: Step[] = [];
  let changed = false;
  const report = (s: Step, status: StepStatus, message = "") =>
    emit({ name: s.name, component: s.component ?? "", service, status, message });
  for (const step of steps) {
    onStep?.(step);
    report(step, "started");
    let outcome: StepOutcome;
    try {
      outcome = await step.do();
    } catch (e) {
      const why = errorLine(e);
      report(step, "failed", why);
      // The failed step's own undo runs first: steps undo only what their `do` got to.
      for (const prev of [step, ...completed.reverse()]) {
        if (!prev.undo) continue;
        try {
          await prev.undo();
          report(prev, "undone");
        } catch (undoError) {
          report(prev, "failed", `undo failed: ${errorLine(undoError)}`);
        }
      }
      const where = step.component ? `${step.name} (${step.component})` : step.name;
      throw new StepFailedError(step.name, step.component ?? "", `${where} failed: ${why}`, {
        cause: e,
      });
    }
    report(step, outcome.status, outcome.message ?? "");
    if (outcome.status === "done") {
      changed = true;
      completed.push(step);
      crashAfterForTests(step.name);
    }
  }
  return { changed };
}

/**
 * TEST ONLY: with `MCP_AGENT_TEST_CRASH_AFTER=<step name>` in the environment, the agent
 * kills itself with SIGKILL right after that step changed something, so the fault tests
 * (test/faults/) can check what a restart makes of an operation cut off at that point.
 * Never set in production; unset, this is one environment lookup per completed step.
 */
function crashAfterForTests(step: string): void {
  if (process.env.MCP_AGENT_TEST_CRASH_AFTER === step) process.kill(process.pid, "SIGKILL");
}
