import type { Context } from "../context.js";
import { removeFromEdges, storedPublicRoutes, writeEdgeOutcomes } from "../edge.js";
import { locateService } from "../locate.js";
import { runWithProgress, writeResult } from "../operation.js";

export interface UndeployArgs {
  service: string;
}

/** `mcp undeploy <service>`: full teardown on the service's node. */
export async function undeploy(
  ctx: Context,
  args: UndeployArgs,
  signal?: AbortSignal,
): Promise<number> {
  const node = await locateService(ctx, args.service);
  const config = await ctx.config();
  // Read before the agent forgets the service: which routes its edge nodes carry.
  const edgeRoutes = await storedPublicRoutes(ctx, config, node, args.service);
  const result = await runWithProgress(ctx, {
    node,
    what: `undeploy of ${args.service}`,
    signal,
    call: (client, s) => client.undeploy({ service: args.service }, { signal: s }),
  });
  writeResult(ctx, node, result, "undeployed");
  writeEdgeOutcomes(ctx, { outcomes: await removeFromEdges(ctx, config, node, edgeRoutes) });
  return 0;
}
