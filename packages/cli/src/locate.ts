import { readFile } from "node:fs/promises";
import { parse as parseToml } from "smol-toml";
import type { NodeConfig } from "./config.js";
import { type Context, findNode } from "./context.js";
import { definitionPath } from "./definition.js";
import { notFoundError, usageError } from "./errors.js";
import { askNodes } from "./fleet.js";

/**
 * The node a service lives on: the `node` of its definition file when there is one (even one
 * that would not validate: stopping a service must not wait for its file to be fixed), else
 * whichever agent knows it.
 */
export async function locateService(ctx: Context, service: string): Promise<NodeConfig> {
  const config = await ctx.config();
  const file = definitionPath(config.servicesDir, service);
  let fromFile: string | undefined;
  try {
    const raw = parseToml(await readFile(file, "utf8")) as { node?: unknown };
    if (typeof raw.node === "string") fromFile = raw.node;
  } catch {
    // No file, or not TOML: ask the fleet instead.
  }
  if (fromFile !== undefined) return findNode(config, fromFile);

  const answers = await askNodes(ctx, config.nodes, (client) =>
    client.listServices({}, { timeoutMs: ctx.timeoutMs }),
  );
  const holders = answers.filter((a) => a.ok && a.value.services.some((s) => s.name === service));
  if (holders.length === 1 && holders[0]) return holders[0].node;
  if (holders.length > 1) {
    throw usageError(
      `service "${service}" is known to several nodes: ${holders.map((h) => h.node.name).join(", ")}`,
      `write ${file} with the node it belongs to`,
    );
  }
  const silent = answers.filter((a) => !a.ok).map((a) => a.node.name);
  throw notFoundError(
    `no node knows service "${service}" and ${file} does not exist`,
    silent.length > 0
      ? `these nodes did not answer and might have it: ${silent.join(", ")}`
      : "check the name with `mcp status`",
  );
}
