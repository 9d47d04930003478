import type { Context } from "../context.js";
import { registerSyncedOnEdges, storedDefinition, writeEdgeOutcomes } from "../edge.js";
import { ExitCode } from "../errors.js";
import { locateService } from "../locate.js";
import { runWithProgress, writeResult } from "../operation.js";

export interface StartArgs {
  service: string;
  component?: string | undefined;
}

/** `mcp start <service> [component]`: start stopped containers and register them again. */
export async function start(ctx: Context, args: StartArgs, signal?: AbortSignal): Promise<number> {
  const node = await locateService(ctx, args.service);
  const target = args.component ? `${args.service}/${args.component}` : args.service;
  const result = await runWithProgress(ctx, {
    node,
    what: `start of ${target}`,
    signal,
    call: (client, s) =>
      client.start(
        { service: args.service, ...(args.component ? { component: args.component } : {}) },
        { signal: s },
      ),
  });
  writeResult(ctx, node, result, "started");
  if (args.component) return 0;
  // Back on the edge nodes, with the ports the service runs on.
  const config = await ctx.config();
  const def = await storedDefinition(ctx, config, node, args.service);
  if (!def) return 0;
  const edge = await registerSyncedOnEdges(ctx, config, [{ node, def }]);
  writeEdgeOutcomes(ctx, edge);
  for (const e of edge.errors) {
    ctx.stderr.write(`${ctx.errStyle.red("error:")} edge route: ${e.message}\n`);
  }
  return edge.errors.length > 0 ? ExitCode.Failed : 0;
}
