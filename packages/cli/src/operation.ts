import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { OperationResult, Step } from "@mcp/proto/agent/v1";
import { StepStatus } from "@mcp/proto/agent/v1";
import type { NodeConfig } from "./config.js";
import { type AgentClient, agentClient, type Context } from "./context.js";
import { createStepRenderer } from "./progress.js";
import { type OperationEvent, runOperation } from "./stream.js";

/**
 * How long a stream may stay silent. Dead connections are caught sooner by HTTP/2 PINGs
 * (transport.ts); this only bounds an agent that is alive but stuck, so it must allow for the
 * longest quiet step, a large image pull.
 */
export const STREAM_IDLE_MS = 300_000;

export interface OperationSpec {
  node: NodeConfig;
  /** "deploy of mcq". */
  what: string;
  call(client: AgentClient, signal: AbortSignal): AsyncIterable<OperationEvent>;
  signal?: AbortSignal | undefined;
}

/** A step as `--json` prints it, one object per line. */
export function stepJson(step: Step): unknown {
  return {
    type: "step",
    service: step.service,
    component: step.component,
    name: step.name,
    status: StepStatus[step.status]?.toLowerCase() ?? "unspecified",
    message: step.message,
    time: step.time ? timestampDate(step.time).toISOString() : null,
  };
}

export function resultJson(node: NodeConfig, result: OperationResult): Record<string, unknown> {
  return {
    type: "result",
    node: node.name,
    service: result.service,
    version: result.version,
    changed: result.changed,
    ports: { ...result.ports },
  };
}

/**
 * Runs an operation stream with live progress: a spinner and step lines for people, one JSON
 * object per line for scripts (`--json`: each step as it happens, then the result).
 */
export async function runWithProgress(ctx: Context, spec: OperationSpec): Promise<OperationResult> {
  const client = agentClient(await ctx.transport(spec.node));
  const renderer = ctx.json ? undefined : await createStepRenderer(ctx.stdout, ctx.style);
  try {
    return await runOperation({
      open: (signal) => spec.call(client, signal),
      target: { node: spec.node.name, address: spec.node.address },
      what: spec.what,
      idleMs: STREAM_IDLE_MS,
      signal: spec.signal,
      onStep: (step) => {
        if (renderer) renderer.onStep(step);
        else ctx.stdout.write(`${JSON.stringify(stepJson(step))}\n`);
      },
    });
  } finally {
    renderer?.stop();
  }
}

/** "rest=10001, grpc=10002". */
export function formatPortMap(ports: Record<string, number>): string {
  return Object.entries(ports)
    .map(([name, port]) => `${name || "default"}=${port}`)
    .join(", ");
}

/** The closing line of an operation for people, or its JSON for scripts. */
export function writeResult(
  ctx: Context,
  node: NodeConfig,
  result: OperationResult,
  done: string,
): void {
  if (ctx.json) {
    ctx.stdout.write(`${JSON.stringify(resultJson(node, result))}\n`);
    return;
  }
  const s = ctx.style;
  if (!result.changed) {
    ctx.stdout.write(`${s.dim("=")} ${result.service} on ${node.name}: nothing to change\n`);
    return;
  }
  const version = result.version ? ` ${result.version}` : "";
  const ports =
    Object.keys(result.ports).length > 0 ? s.dim(` (ports ${formatPortMap(result.ports)})`) : "";
  ctx.stdout.write(`${s.green("✔")} ${done} ${result.service}${version} on ${node.name}${ports}\n`);
}
