import type { Context } from "../context.js";
import { locateService } from "../locate.js";
import { runWithProgress, writeResult } from "../operation.js";

export interface StopArgs {
  service: string;
  component?: string | undefined;
}

/** `mcp stop <service> [component]`: remove DNS and routes, then stop the containers. */
export async function stop(ctx: Context, args: StopArgs, signal?: AbortSignal): Promise<number> {
  const node = await locateService(ctx, args.service);
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
  return 0;
}
