import type { Context } from "../context.js";
import { locateService } from "../locate.js";
import { resultJson, runWithProgress, writeResult } from "../operation.js";
import { renderJson } from "../output.js";
import { planJson, renderPlan } from "../plan.js";

export interface RollbackArgs {
  service: string;
  to?: string | undefined;
  dryRun: boolean;
}

/**
 * `mcp rollback <service> [--to VERSION]`: deploy the spec of an earlier successful deployment
 * (the previous one by default), with progress like `mcp deploy`. A failed step exits non-zero
 * through the stream's error, as a failed deploy does.
 */
export async function rollback(
  ctx: Context,
  args: RollbackArgs,
  signal?: AbortSignal,
): Promise<number> {
  const node = await locateService(ctx, args.service);
  const target = args.to ? ` to ${args.to}` : "";
  const result = await runWithProgress(ctx, {
    node,
    what: args.dryRun
      ? `dry run of the rollback of ${args.service}${target}`
      : `rollback of ${args.service}${target}`,
    signal,
    call: (client, s) =>
      client.rollback(
        { service: args.service, dryRun: args.dryRun, ...(args.to ? { version: args.to } : {}) },
        { signal: s },
      ),
  });
  if (args.dryRun) {
    if (ctx.json) {
      ctx.stdout.write(
        renderJson({ ...resultJson(node, result), dryRun: true, plan: planJson(result.plan) }),
      );
    } else {
      ctx.stdout.write(
        `Rollback of ${args.service} on ${node.name} to ${result.version || "?"} (dry run, nothing changed):\n`,
      );
      ctx.stdout.write(renderPlan(result.plan, ctx.style));
    }
    return 0;
  }
  writeResult(ctx, node, result, "rolled back");
  return 0;
}
