import { type Context, findNode } from "../context.js";
import { formatDiagnostic, loadDefinition, toServiceSpec } from "../definition.js";
import { registerOnEdges, writeEdgeOutcomes } from "../edge.js";
import { resultJson, runWithProgress, writeResult } from "../operation.js";
import { renderJson } from "../output.js";
import { planJson, renderPlan } from "../plan.js";

export interface DeployArgs {
  service: string;
  dryRun: boolean;
  component?: string | undefined;
}

/**
 * `mcp deploy <service>`: validate the definition here (the agent validates again), send it
 * to its node and show each step as the agent reports it.
 */
export async function deploy(
  ctx: Context,
  args: DeployArgs,
  signal?: AbortSignal,
): Promise<number> {
  const config = await ctx.config();
  const def = await loadDefinition(config.servicesDir, args.service);
  for (const w of def.warnings)
    ctx.stderr.write(`${ctx.errStyle.yellow("warning:")} ${formatDiagnostic(def.file, w)}\n`);
  const node = findNode(config, def.def.node);
  const spec = toServiceSpec(def.def, def.text);
  const result = await runWithProgress(ctx, {
    node,
    what: args.dryRun ? `dry run of the deploy of ${args.service}` : `deploy of ${args.service}`,
    signal,
    call: (client, s) =>
      client.deploy(
        { spec, dryRun: args.dryRun, ...(args.component ? { component: args.component } : {}) },
        { signal: s },
      ),
  });
  if (args.dryRun) {
    if (ctx.json) {
      ctx.stdout.write(
        renderJson({ ...resultJson(node, result), dryRun: true, plan: planJson(result.plan) }),
      );
    } else {
      ctx.stdout.write(`Plan for ${args.service} on ${node.name} (dry run, nothing changed):\n`);
      ctx.stdout.write(renderPlan(result.plan, ctx.style));
    }
    return 0;
  }
  writeResult(ctx, node, result, "deployed");
  // Public routes go on the edge nodes too; with --component only, the others are as they were.
  writeEdgeOutcomes(ctx, await registerOnEdges(ctx, config, node, def.def, result.ports));
  return 0;
}
