import type { NodeConfig } from "./config.js";
import { type AgentClient, agentClient, type Context } from "./context.js";
import type { CliError } from "./errors.js";
import { fromRpcError } from "./rpc-errors.js";

/** One node's answer to a fleet-wide question: a value, or why there is none. */
export type NodeAnswer<T> =
  | { node: NodeConfig; ok: true; value: T }
  | { node: NodeConfig; ok: false; error: CliError };

/**
 * Asks every node at once and waits for all of them: one node that does not answer (each call
 * has its own deadline) costs at most the timeout and never hides what the others said.
 * Answers come back in the order of mcp.toml.
 */
export async function askNodes<T>(
  ctx: Context,
  nodes: readonly NodeConfig[],
  ask: (client: AgentClient, node: NodeConfig) => Promise<T>,
): Promise<NodeAnswer<T>[]> {
  return Promise.all(
    nodes.map(async (node): Promise<NodeAnswer<T>> => {
      // Config and token problems are the same for every node: they abort the command.
      const client = agentClient(await ctx.transport(node));
      try {
        return { node, ok: true, value: await ask(client, node) };
      } catch (e) {
        return {
          node,
          ok: false,
          error: fromRpcError(e, { node: node.name, address: node.address }),
        };
      }
    }),
  );
}

/** The exit code of a fleet-wide command: 0 when every node answered, else the first failure's. */
export function fleetExitCode(answers: readonly NodeAnswer<unknown>[]): number {
  for (const a of answers) if (!a.ok) return a.error.exitCode;
  return 0;
}

/** "orion (10.0.0.3:9444): did not answer: ECONNREFUSED" lines for the nodes that failed. */
export function writeNodeFailures(ctx: Context, answers: readonly NodeAnswer<unknown>[]): void {
  for (const a of answers) {
    if (a.ok) continue;
    ctx.stderr.write(`${ctx.errStyle.red("error:")} ${a.error.message}\n`);
    if (a.error.hint) ctx.stderr.write(`${ctx.errStyle.dim("hint:")} ${a.error.hint}\n`);
  }
}
