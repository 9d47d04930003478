import type { FleetNode, NodeUpgradeResult, UpgradeProgress, UpgradeSummary } from "@mcp/fleet";
import type { NodeConfig } from "../config.js";
import { agentClient, type Context, findNode } from "../context.js";
import { ExitCode, usageError } from "../errors.js";
import {
  artifactsDir,
  type FleetDeps,
  fleetNode,
  fromFleetError,
  realFleetDeps,
} from "../fleet-config.js";
import { renderJson, type Style } from "../output.js";
import { renderTable } from "../table.js";

export interface AgentUpgradeArgs {
  node?: string | undefined;
  artifacts?: string | undefined;
  release?: string | undefined;
  concurrency: number;
  deadline: string;
  force: boolean;
}

/** "60s", "2m", "1m30s", "90" (seconds) → ms; anything else is a usage error naming the flag. */
export function parseDeadline(text: string, flag = "--deadline"): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const m = /^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(t);
  if (t !== "" && m && (m[1] !== undefined || m[2] !== undefined)) {
    const ms = Math.round((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000);
    if (ms > 0) return ms;
  }
  throw usageError(`${flag} "${text}" is not a duration`, 'write it like "60s", "2m" or "1m30s"');
}

/** "1.2s", "45s", "2m05s": how long a node took. */
export function formatElapsed(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

export const upgradeHeaders = ["NODE", "ARCH", "FROM", "TO", "RESULT", "TIME"];

function resultCell(r: NodeUpgradeResult, style: Style): string {
  if (r.status === "upgraded") return style.green("upgraded");
  if (r.status === "unchanged") return "unchanged";
  const how = r.rolledBack
    ? r.rollbackVerified === false
      ? "rolled back, not answering"
      : "rolled back"
    : "nothing swapped";
  return style.red(`FAILED at ${r.phase ?? "?"} (${how})`);
}

export function upgradeRows(results: readonly NodeUpgradeResult[], style: Style): string[][] {
  return results.map((r) => [
    r.node,
    r.arch,
    r.from ?? "-",
    r.to,
    resultCell(r, style),
    formatElapsed(r.durationMs),
  ]);
}

export function upgradeJson(summary: UpgradeSummary): unknown {
  return {
    ok: summary.ok,
    results: summary.results.map((r) => ({
      node: r.node,
      arch: r.arch,
      status: r.status,
      from: r.from ?? null,
      to: r.to,
      phase: r.phase ?? null,
      error: r.error ?? null,
      rolledBack: r.rolledBack,
      rollbackVerified: r.rollbackVerified ?? null,
      durationMs: r.durationMs,
      restartToReadyMs: r.restartToReadyMs ?? null,
    })),
  };
}

/** One line per phase event, prefixed by the node, for people watching (stderr). */
export function progressLine(p: UpgradeProgress, width: number, style: Style): string {
  const mark =
    p.state === "start" ? style.dim("…") : p.state === "done" ? style.green("✓") : style.red("✗");
  const detail = p.detail ? ` ${p.state === "failed" ? p.detail : style.dim(p.detail)}` : "";
  return `${style.cyan(p.node.padEnd(width))}  ${mark} ${p.phase}${detail}\n`;
}

/** Asks a node's agent for its version over the CLI's usual agent RPC (TLS + token). */
export function rpcVersion(ctx: Context, nodes: readonly NodeConfig[]) {
  return async (node: FleetNode | { name: string }): Promise<string> => {
    const nc = nodes.find((n) => n.name === node.name);
    if (!nc) throw new Error(`${node.name} is not in mcp.toml`);
    const info = await agentClient(await ctx.transport(nc)).nodeInfo(
      {},
      { timeoutMs: ctx.timeoutMs },
    );
    return info.agentVersion;
  };
}

/**
 * `mcp agent upgrade [node]`: every node (or one) gets the release artifact for its arch
 * over SSH, checked on the node, swapped in, restarted, and must answer NodeInfo with the new
 * version within the deadline, or the previous version is put back. Exit 1 if any node failed.
 */
export async function agentUpgrade(
  ctx: Context,
  args: AgentUpgradeArgs,
  _signal?: AbortSignal,
  deps?: FleetDeps,
): Promise<number> {
  const config = await ctx.config();
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1) {
    throw usageError(`--concurrency must be a whole number of at least 1, not ${args.concurrency}`);
  }
  const deadlineMs = parseDeadline(args.deadline);
  const { upgradeAgents } = await import("@mcp/fleet");
  const chosen = args.node ? [findNode(config, args.node)] : config.nodes;
  if (chosen.length === 0) {
    throw usageError(
      `no [[nodes]] in ${config.path}`,
      "add one with `mcp node add <name> <address>`",
    );
  }
  const nodes = chosen.map((n) => fleetNode(n, config));
  // Token and CA problems are the same for every node: find them before any node is touched.
  await Promise.all(chosen.map((n) => ctx.transport(n)));
  const d = deps ?? (await realFleetDeps(config, ctx.timeoutMs));
  const width = Math.max(...nodes.map((n) => n.name.length));
  const progress = ctx.json
    ? () => {}
    : (p: UpgradeProgress) => ctx.stderr.write(progressLine(p, width, ctx.errStyle));

  let summary: UpgradeSummary;
  try {
    summary = await upgradeAgents(
      {
        nodes,
        artifactsDir: artifactsDir(args.artifacts, config, ctx.cwd),
        ...(args.release ? { version: args.release } : {}),
        ops: d.ops,
        verify: rpcVersion(ctx, chosen),
        concurrency: args.concurrency,
        deadlineMs,
        force: args.force,
      },
      progress,
    );
  } catch (e) {
    throw fromFleetError(e);
  }

  if (ctx.json) {
    ctx.stdout.write(renderJson(upgradeJson(summary)));
  } else {
    ctx.stdout.write(
      renderTable(upgradeHeaders, upgradeRows(summary.results, ctx.style), ctx.style),
    );
  }
  const failed = summary.results.filter((r) => r.status === "failed");
  if (failed.length === 0) return ExitCode.Ok;
  for (const r of failed) {
    ctx.stderr.write(`${ctx.errStyle.red("error:")} ${r.error ?? `${r.node}: upgrade failed`}\n`);
  }
  ctx.stderr.write(
    `${ctx.errStyle.red("error:")} agent upgrade failed on ${failed.map((r) => r.node).join(", ")}\n`,
  );
  return ExitCode.Failed;
}
