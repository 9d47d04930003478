import type { Context } from "../context.js";
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
  return 0;
}
