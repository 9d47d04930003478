import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import type { NodeEntry } from "@mcp/fleet";
import { parseConfig } from "../config.js";
import { agentClient, type Context } from "../context.js";
import { configError, ExitCode, usageError } from "../errors.js";
import { fromFleetError } from "../fleet-config.js";
import { renderJson } from "../output.js";
import { fromRpcError } from "../rpc-errors.js";

export interface NodeAddArgs {
  name: string;
  address: string;
  ssh?: string | undefined;
  arch?: string | undefined;
  role?: string | undefined;
}

const ROLES = new Set(["compute", "edge"]);

/** The `[[nodes]]` table for an entry, as TOML text (basic strings, JSON escaping is TOML's). */
export function nodeTable(entry: NodeEntry, role?: string): string {
  const lines = [
    "[[nodes]]",
    `name = ${JSON.stringify(entry.name)}`,
    `address = ${JSON.stringify(entry.address)}`,
    `ssh = ${JSON.stringify(entry.ssh)}`,
    `arch = ${JSON.stringify(entry.arch)}`,
  ];
  if (role !== undefined) lines.push(`role = ${JSON.stringify(role)}`);
  return `${lines.join("\n")}\n`;
}

/**
 * The file with the table appended: every byte before it kept (comments, order, spacing), one
 * blank line between. An array-of-tables header may follow any table, so the end is always a
 * valid place for it.
 */
export function appendNode(text: string, table: string): string {
  if (text.trim() === "") return table;
  const base = text.endsWith("\n") ? text : `${text}\n`;
  return `${base}${base.endsWith("\n\n") ? "" : "\n"}${table}`;
}

/**
 * `mcp node add <name> <address>`: checks the entry, appends it to mcp.toml (refusing a
 * duplicate), then asks the new node's agent for its version. An agent that does not answer
 * yet is reported, not an error: adding usually comes before or right after provisioning.
 */
export async function nodeAdd(ctx: Context, args: NodeAddArgs): Promise<number> {
  const config = await ctx.config();
  const { checkNodeEntry } = await import("@mcp/fleet");
  let entry: NodeEntry;
  try {
    entry = checkNodeEntry(
      {
        name: args.name,
        address: args.address,
        ...(args.ssh !== undefined ? { ssh: args.ssh } : {}),
        ...(args.arch !== undefined ? { arch: args.arch } : {}),
      },
      config.nodes,
    );
  } catch (e) {
    throw fromFleetError(e);
  }
  if (args.role !== undefined && !ROLES.has(args.role)) {
    throw usageError(`node ${args.name}: role "${args.role}": expected compute or edge`);
  }

  const path = config.path;
  const before = await readFile(path, "utf8");
  const after = appendNode(before, nodeTable(entry, args.role));
  // The file must still parse as a config with the new node in it before it replaces the old.
  const parsed = parseConfig(after, { path, env: {}, home: ctx.home, cwd: ctx.cwd });
  const added = parsed.nodes.find((n) => n.name === entry.name);
  if (!added)
    throw configError(`${path}: the appended [[nodes]] table did not parse as node ${entry.name}`);
  // Written beside the file and renamed over it: an interrupted add leaves the old file whole.
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, after, { mode: (await stat(path)).mode & 0o777 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw configError(
      `cannot write ${path}: ${(e as { code?: string }).code ?? String(e)}`,
      undefined,
      e,
    );
  }

  let version: string | undefined;
  let unreachable: string | undefined;
  try {
    const info = await agentClient(await ctx.transport(added)).nodeInfo(
      {},
      { timeoutMs: ctx.timeoutMs },
    );
    version = info.agentVersion;
  } catch (e) {
    unreachable = fromRpcError(e, { node: added.name, address: added.address }).message;
  }

  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        added: { ...entry, ...(args.role ? { role: args.role } : {}) },
        config: path,
        agent: version !== undefined ? { ok: true, version } : { ok: false, error: unreachable },
      }),
    );
    return ExitCode.Ok;
  }
  ctx.stdout.write(
    `added node ${entry.name} (${entry.address}, ssh ${entry.ssh}, ${entry.arch}) to ${path}\n`,
  );
  if (version !== undefined) {
    ctx.stdout.write(`${entry.name}: agent ${version || "(no version)"} answers\n`);
  } else {
    ctx.stdout.write(`${entry.name}: agent not reachable yet: ${unreachable}\n`);
    ctx.stdout.write(
      `${ctx.style.dim("hint:")} provision it with \`mcp node provision ${entry.name}\`, or check the address\n`,
    );
  }
  return ExitCode.Ok;
}
