import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { PushDefinitionsResponse, ServiceSpec, ServiceSyncResult } from "@mcp/proto/agent/v1";
import { SyncAction } from "@mcp/proto/agent/v1";
import type { NodeConfig } from "../config.js";
import { agentClient, type Context } from "../context.js";
import {
  checkDefinition,
  type Definition,
  formatDiagnostic,
  toServiceSpec,
} from "../definition.js";
import { CliError, configError, ExitCode, isCliError, usageError } from "../errors.js";
import { STREAM_IDLE_MS } from "../operation.js";
import { renderJson, type Style } from "../output.js";
import { createStepRenderer } from "../progress.js";
import { consumeStream } from "../stream.js";
import { renderTable } from "../table.js";

export interface SyncArgs {
  dryRun: boolean;
}

/** What happened on one node: the per-service results, or why the node could not be synced. */
export interface NodeSync {
  node: NodeConfig;
  services: string[];
  results: ServiceSyncResult[];
  error?: CliError | undefined;
}

export const syncHeaders = ["NODE", "SERVICE", "ACTION", "VERSION", "DETAIL"];

export function actionName(a: SyncAction): string {
  return SyncAction[a]?.toLowerCase() ?? "unspecified";
}

function actionCell(r: ServiceSyncResult, style: Style, dryRun: boolean): string {
  const name = actionName(r.action);
  const shown =
    dryRun && r.action !== SyncAction.UNCHANGED && r.action !== SyncAction.FAILED
      ? `would be ${name}`
      : name;
  if (r.action === SyncAction.FAILED) return style.red(shown);
  if (r.action === SyncAction.UNCHANGED) return style.dim(shown);
  return style.green(shown);
}

/** The closing table of `mcp sync`: one row per service, a node that failed on every row. */
export function syncRows(outcomes: readonly NodeSync[], style: Style, dryRun: boolean): string[][] {
  const rows: string[][] = [];
  for (const o of outcomes) {
    const seen = new Set<string>();
    for (const r of [...o.results].sort((a, b) => a.service.localeCompare(b.service))) {
      seen.add(r.service);
      rows.push([
        o.node.name,
        r.service,
        actionCell(r, style, dryRun),
        r.version || "-",
        r.message || (r.built ? "image built" : ""),
      ]);
    }
    for (const s of o.services) {
      if (seen.has(s)) continue;
      rows.push([
        o.node.name,
        s,
        style.red(o.error ? "not synced" : "no answer"),
        "-",
        o.error ? o.error.message : "the agent reported nothing for it",
      ]);
    }
  }
  return rows;
}

/** Reads and validates every `*.toml` of the services directory; all problems at once. */
export async function readDefinitions(dir: string): Promise<Definition[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".toml")).sort();
  } catch (e) {
    throw configError(
      `cannot read the services directory ${dir}: ${(e as { code?: string }).code ?? e}`,
      "create it, or set services_dir in mcp.toml",
      e,
    );
  }
  const defs: Definition[] = [];
  const details: string[] = [];
  let bad = 0;
  for (const name of names) {
    const file = join(dir, name);
    try {
      defs.push(checkDefinition(await readFile(file, "utf8"), file, basename(name, ".toml")));
    } catch (e) {
      if (!isCliError(e)) throw e;
      bad++;
      details.push(...e.details, ...(e.details.length === 0 ? [e.message] : []));
    }
  }
  if (bad > 0) {
    throw new CliError(
      `${bad} of ${names.length} definitions in ${dir} are invalid; nothing was pushed`,
      {
        exitCode: ExitCode.Failed,
        hint: "fix the lines above (`mcp edit <service>`), then sync again",
        details,
      },
    );
  }
  return defs;
}

/**
 * `mcp sync`: push every definition to its node; each agent applies them (`active = false`
 * means stopped); services that have no file are left alone. Everything is validated before
 * anything is sent, and only nodes with at least one definition are contacted.
 */
export async function sync(ctx: Context, args: SyncArgs, signal?: AbortSignal): Promise<number> {
  const config = await ctx.config();
  const defs = await readDefinitions(config.servicesDir);
  for (const d of defs) {
    for (const w of d.warnings)
      ctx.stderr.write(`${ctx.errStyle.yellow("warning:")} ${formatDiagnostic(d.file, w)}\n`);
  }
  const byNode = new Map<string, { node: NodeConfig; specs: ServiceSpec[] }>();
  for (const d of defs) {
    const node = config.nodes.find((n) => n.name === d.def.node);
    if (!node) {
      throw usageError(
        `${d.file}: node "${d.def.node}" is not in ${config.path}; nothing was pushed`,
        `add a [[nodes]] table for it (nodes configured: ${config.nodes.map((n) => n.name).join(", ") || "none"})`,
      );
    }
    const entry = byNode.get(node.name) ?? { node, specs: [] };
    entry.specs.push(toServiceSpec(d.def, d.text));
    byNode.set(node.name, entry);
  }
  if (byNode.size === 0) {
    ctx.stdout.write(
      ctx.json
        ? renderJson({ dryRun: args.dryRun, nodes: [] })
        : `no definitions in ${config.servicesDir}\n`,
    );
    return 0;
  }

  const renderer = ctx.json
    ? undefined
    : await createStepRenderer(ctx.stdout, ctx.style, { withService: true });
  let outcomes: NodeSync[];
  try {
    outcomes = await Promise.all(
      // In the order of mcp.toml, like every fleet-wide table.
      config.nodes
        .flatMap((n) => byNode.get(n.name) ?? [])
        .map(async ({ node, specs }): Promise<NodeSync> => {
          const outcome: NodeSync = { node, services: specs.map((s) => s.name), results: [] };
          const client = agentClient(await ctx.transport(node));
          try {
            await consumeStream<PushDefinitionsResponse>({
              open: (s) =>
                client.pushDefinitions({ specs, dryRun: args.dryRun, built: [] }, { signal: s }),
              target: { node: node.name, address: node.address },
              what: "sync",
              idleMs: STREAM_IDLE_MS,
              signal,
              onMessage: (m) => {
                if (m.event.case === "step") renderer?.onStep(m.event.value);
                else if (m.event.case === "serviceResult") outcome.results.push(m.event.value);
              },
            });
          } catch (e) {
            if (!isCliError(e)) throw e;
            if (e.exitCode === ExitCode.Interrupted) throw e;
            outcome.error = e;
          }
          return outcome;
        }),
    );
  } finally {
    renderer?.stop();
  }

  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        dryRun: args.dryRun,
        nodes: outcomes.map((o) => ({
          node: o.node.name,
          ok: !o.error,
          ...(o.error
            ? {
                error: {
                  message: o.error.message,
                  hint: o.error.hint ?? null,
                  exitCode: o.error.exitCode,
                },
              }
            : {}),
          services: o.results.map((r) => ({
            service: r.service,
            action: actionName(r.action),
            built: r.built,
            version: r.version,
            message: r.message,
          })),
        })),
      }),
    );
  } else {
    if (args.dryRun) ctx.stdout.write(ctx.style.dim("dry run: nothing was changed\n"));
    ctx.stdout.write(
      renderTable(syncHeaders, syncRows(outcomes, ctx.style, args.dryRun), ctx.style),
    );
  }
  for (const o of outcomes) {
    if (!o.error) continue;
    ctx.stderr.write(`${ctx.errStyle.red("error:")} ${o.error.message}\n`);
    if (o.error.hint) ctx.stderr.write(`${ctx.errStyle.dim("hint:")} ${o.error.hint}\n`);
  }
  const nodeFailure = outcomes.find((o) => o.error)?.error;
  if (nodeFailure) return nodeFailure.exitCode;
  const failed = outcomes.some((o) => o.results.some((r) => r.action === SyncAction.FAILED));
  return failed ? ExitCode.Failed : ExitCode.Ok;
}
