import type { Context } from "../context.js";
import { removeFromEdges, storedPublicRoutes, writeEdgeOutcomes } from "../edge.js";
import { locateService } from "../locate.js";
import { runWithProgress, writeResult } from "../operation.js";

export interface StopArgs {
  service: string;
  component?: string | undefined;
}

/**
 * `mcp stop <service> [component]`: remove DNS and routes, then stop the containers; a whole
 * service also leaves the edge nodes.
 */
export async function stop(ctx: Context, args: StopArgs, signal?: AbortSignal): Promise<number> {
  const node = await locateService(ctx, args.service);
  const config = await ctx.config();
  // A stopped service serves nothing: its public routes leave the edge nodes as well (read
  // now, from the stored definition). Stopping one component leaves them.
  const edgeRoutes = args.component
    ? []
    : await storedPublicRoutes(ctx, config, node, args.service);
  const target = args.component ? `${args.service}/${args.component}` : args.service;
  const result = await runWithProgress(ctx, {
    node,
    what: `stop of ${target}`,
    signal,
    call: (client, s) =>
      client.stop(
        { service: args.service, ...(args.component ? { component: args.component } : {}) },
        { signal: s },
      ),
  });
  writeResult(ctx, node, result, "stopped");
  writeEdgeOutcomes(ctx, { outcomes: await removeFromEdges(ctx, config, node, edgeRoutes) });
  return 0;
}
