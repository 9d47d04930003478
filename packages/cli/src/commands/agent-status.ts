import type { NodeInfoResponse } from "@mcp/proto/agent/v1";
import type { Context } from "../context.js";
import { ExitCode } from "../errors.js";
import { askNodes, fleetExitCode, type NodeAnswer } from "../fleet.js";
import { renderJson, type Style } from "../output.js";
import { renderTable } from "../table.js";

declare const MCP_CLI_VERSION: string | undefined;

export interface AgentStatusArgs {
  strict: boolean;
}

export interface VersionRow {
  node: string;
  version?: string | undefined;
}

export interface Skew {
  /** The version most agents run (ties: the highest by string order, so the answer is stable). */
  fleetVersion?: string;
  /** Why a node's version stands out, by node name. */
  notes: Map<string, string>;
  /** One warning per kind of skew, for stderr. */
  warnings: string[];
}

/** `v1.2.0` and `1.2.0` are the same release: tags carry the v, package versions do not. */
export function sameVersion(a: string, b: string): boolean {
  return a.replace(/^v/, "") === b.replace(/^v/, "");
}

const RELEASE_RE = /^v?\d+\.\d+\.\d+$/;

/**
 * Version skew among the agents that answered, and between them and the CLI. Only releases
 * (`1.2.0`, `v1.2.0`) are compared with the CLI: a development build on either side (`*-dev`,
 * an untagged `git describe` like `65a3d85-dirty`) has no release to compare with.
 */
export function versionSkew(rows: readonly VersionRow[], cliVersion: string): Skew {
  const counts = new Map<string, number>();
  for (const r of rows) {
    if (r.version !== undefined) counts.set(r.version, (counts.get(r.version) ?? 0) + 1);
  }
  const notes = new Map<string, string>();
  const warnings: string[] = [];
  if (counts.size === 0) return { notes, warnings };
  const fleetVersion = [...counts.entries()].sort(
    (a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1),
  )[0]?.[0] as string;
  const odd = rows.filter((r) => r.version !== undefined && r.version !== fleetVersion);
  for (const r of odd) notes.set(r.node, `differs from the fleet (${fleetVersion})`);
  if (odd.length > 0) {
    warnings.push(
      `version skew among agents: ${odd.map((r) => `${r.node} runs ${r.version}`).join(", ")}; the others run ${fleetVersion} (mcp agent upgrade)`,
    );
  }
  if (RELEASE_RE.test(cliVersion)) {
    const behind = rows.filter(
      (r) =>
        r.version !== undefined &&
        RELEASE_RE.test(r.version) &&
        !sameVersion(r.version, cliVersion),
    );
    for (const r of behind) {
      const prior = notes.get(r.node);
      notes.set(
        r.node,
        prior ? `${prior}; differs from the CLI` : `differs from the CLI (${cliVersion})`,
      );
    }
    if (behind.length > 0) {
      warnings.push(
        `version skew with the CLI: mcp is ${cliVersion}, ${behind.length === rows.filter((r) => r.version !== undefined).length ? "no agent runs it" : `${behind.map((r) => r.node).join(", ")} ${behind.length === 1 ? "does" : "do"} not run it`}`,
      );
    }
  }
  return { fleetVersion, notes, warnings };
}

export const agentStatusHeaders = ["NODE", "ARCH", "VERSION", "SKEW"];

function reason(message: string): string {
  const i = message.lastIndexOf(": ");
  return i >= 0 ? message.slice(i + 2) : message;
}

export function agentStatusRows(
  answers: readonly NodeAnswer<NodeInfoResponse>[],
  skew: Skew,
  style: Style,
): string[][] {
  return answers.map((a) => [
    a.node.name,
    a.node.arch ?? "amd64",
    a.ok ? a.value.agentVersion || "-" : style.red(`unreachable: ${reason(a.error.message)}`),
    a.ok
      ? skew.notes.has(a.node.name)
        ? style.yellow(skew.notes.get(a.node.name) as string)
        : "-"
      : "-",
  ]);
}

/** The CLI's own version, stamped in by the bundler. */
export function cliVersion(): string {
  return typeof MCP_CLI_VERSION === "string" ? MCP_CLI_VERSION : "0.0.0-dev";
}

/**
 * `mcp agent status`: every agent's version (NodeInfo, all nodes at once) and any skew.
 * Skew is a warning (exit 0) unless `--strict` (exit 1); a node that does not answer gives
 * the exit code of its failure (3 unreachable, 4 token), as in `mcp node list`.
 */
export async function agentStatus(
  ctx: Context,
  args: AgentStatusArgs,
  _signal?: AbortSignal,
  version: string = cliVersion(),
): Promise<number> {
  const config = await ctx.config();
  const answers = await askNodes(ctx, config.nodes, (client) =>
    client.nodeInfo({}, { timeoutMs: ctx.timeoutMs }),
  );
  const skew = versionSkew(
    answers.map((a) => ({ node: a.node.name, version: a.ok ? a.value.agentVersion : undefined })),
    version,
  );
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        cliVersion: version,
        fleetVersion: skew.fleetVersion ?? null,
        skew: skew.warnings.length > 0,
        warnings: skew.warnings,
        nodes: answers.map((a) => ({
          name: a.node.name,
          arch: a.node.arch ?? "amd64",
          ok: a.ok,
          version: a.ok ? a.value.agentVersion : null,
          skew: skew.notes.get(a.node.name) ?? null,
          error: a.ok ? null : { message: a.error.message, exitCode: a.error.exitCode },
        })),
      }),
    );
  } else {
    ctx.stdout.write(
      renderTable(agentStatusHeaders, agentStatusRows(answers, skew, ctx.style), ctx.style),
    );
    for (const w of skew.warnings) ctx.stderr.write(`${ctx.errStyle.yellow("warning:")} ${w}\n`);
  }
  const unreachable = fleetExitCode(answers);
  if (unreachable !== 0) return unreachable;
  return args.strict && skew.warnings.length > 0 ? ExitCode.Failed : ExitCode.Ok;
}
