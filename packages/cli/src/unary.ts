import type { NodeConfig } from "./config.js";
import { type AgentClient, agentClient, type Context } from "./context.js";
import { fromRpcError } from "./rpc-errors.js";

/** One unary call to one node's agent, its failure turned into a CliError naming the node. */
export async function callNode<T>(
  ctx: Context,
  node: NodeConfig,
  call: (client: AgentClient, opts: { timeoutMs: number }) => Promise<T>,
): Promise<T> {
  const client = agentClient(await ctx.transport(node));
  try {
    return await call(client, { timeoutMs: ctx.timeoutMs });
  } catch (e) {
    throw fromRpcError(e, { node: node.name, address: node.address });
  }
}

/** An ISO time for JSON, or null. */
export function isoOrNull(d: Date | undefined): string | null {
  return d ? d.toISOString() : null;
}

/** "2026-03-26 15:04:05" in UTC: sortable, and the same on every operator's machine. */
export function formatTime(d: Date | undefined): string {
  if (!d) return "-";
  return `${d.toISOString().slice(0, 19).replace("T", " ")}`;
}
