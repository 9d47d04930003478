import type { Context } from "../context.js";
import { locateService } from "../locate.js";
import { runWithProgress, writeResult } from "../operation.js";

export interface RestartArgs {
  service: string;
  component?: string | undefined;
}

/** `mcp restart <service> [component]`: restart containers in place. */
export async function restart(
  ctx: Context,
  args: RestartArgs,
  signal?: AbortSignal,
): Promise<number> {
  const node = await locateService(ctx, args.service);
  const target = args.component ? `${args.service}/${args.component}` : args.service;
  const result = await runWithProgress(ctx, {
    node,
    what: `restart of ${target}`,
    signal,
    call: (client, s) =>
      client.restart(
        { service: args.service, ...(args.component ? { component: args.component } : {}) },
        { signal: s },
      ),
  });
  writeResult(ctx, node, result, "restarted");
  return 0;
}
