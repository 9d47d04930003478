import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Deployment, DeployOutcome } from "@mcp/proto/agent/v1";
import type { Context } from "../context.js";
import { usageError } from "../errors.js";
import { locateService } from "../locate.js";
import { renderJson, type Style } from "../output.js";
import { renderTable } from "../table.js";
import { callNode, formatTime } from "../unary.js";

export interface HistoryArgs {
  service: string;
  limit?: number | undefined;
}

export const historyHeaders = ["TIME", "VERSION", "OUTCOME", "MESSAGE"];

export function outcomeName(o: DeployOutcome): string {
  switch (o) {
    case DeployOutcome.SUCCEEDED:
      return "succeeded";
    case DeployOutcome.FAILED:
      return "failed";
    case DeployOutcome.ROLLED_BACK:
      return "rolled back";
    default:
      return "unknown";
  }
}

export function historyRows(deployments: readonly Deployment[], style: Style): string[][] {
  return deployments.map((d) => {
    const outcome = outcomeName(d.outcome);
    return [
      formatTime(d.time ? timestampDate(d.time) : undefined),
      d.version || "-",
      d.outcome === DeployOutcome.SUCCEEDED
        ? style.green(outcome)
        : d.outcome === DeployOutcome.FAILED
          ? style.red(outcome)
          : style.yellow(outcome),
      d.message,
    ];
  });
}

export function deploymentJson(d: Deployment): unknown {
  return {
    id: d.id.toString(),
    version: d.version,
    time: d.time ? timestampDate(d.time).toISOString() : null,
    outcome: outcomeName(d.outcome).replace(" ", "_"),
    message: d.message,
  };
}

/** `mcp history <service>`: the versions deployed, newest first, with their outcome. */
export async function history(ctx: Context, args: HistoryArgs): Promise<number> {
  if (args.limit !== undefined && (!Number.isInteger(args.limit) || args.limit < 1)) {
    throw usageError(`--limit ${args.limit} is not a positive whole number`);
  }
  const node = await locateService(ctx, args.service);
  const res = await callNode(ctx, node, (c, o) =>
    c.history({ service: args.service, ...(args.limit ? { limit: args.limit } : {}) }, o),
  );
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        node: node.name,
        service: args.service,
        deployments: res.deployments.map(deploymentJson),
      }),
    );
  } else if (res.deployments.length === 0) {
    ctx.stdout.write(`${ctx.style.dim(`no deployments of ${args.service} recorded`)}\n`);
  } else {
    ctx.stdout.write(
      renderTable(historyHeaders, historyRows(res.deployments, ctx.style), ctx.style),
    );
  }
  return 0;
}
