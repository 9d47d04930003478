import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { PushDefinitionsResponse, ServiceSpec, ServiceSyncResult } from "@mcp/proto/agent/v1";
import { ServiceSyncResultSchema, SyncAction } from "@mcp/proto/agent/v1";
import { buildOne } from "../build-run.js";
import type { Config, NodeConfig } from "../config.js";
import { agentClient, type Context } from "../context.js";
import {
  checkDefinition,
  type Definition,
  formatDiagnostic,
  toServiceSpec,
} from "../definition.js";
import { registerSyncedOnEdges, writeEdgeOutcomes } from "../edge.js";
import { CliError, configError, ExitCode, isCliError, usageError } from "../errors.js";
import { type BuildTarget, buildTargets, componentImages, missingSource } from "../images.js";
import { STREAM_IDLE_MS } from "../operation.js";
import { renderJson, type Style } from "../output.js";
import { createStepRenderer } from "../progress.js";
import { consumeStream } from "../stream.js";
import { renderTable } from "../table.js";

export interface SyncArgs {
  dryRun: boolean;
  verbose?: boolean;
}

/** What the CLI did (or, with --dry-run, would do) about images before pushing. */
export interface ImagePlan {
  /** Service → images built and pushed (or to be, on a dry run). */
  built: Map<string, string[]>;
  /** Service → why it is not deployed: image missing and not buildable, or its build failed. */
  failed: Map<string, string>;
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

function builtDetail(
  r: ServiceSyncResult,
  images: readonly string[] | undefined,
  dryRun: boolean,
): string {
  const what = images?.length
    ? `${dryRun ? "would build" : "built"} ${images.join(", ")}`
    : r.built
      ? "image built"
      : "";
  return [what, r.message].filter(Boolean).join("; ");
}

/**
 * The image step of `mcp sync`: checks every active service's images in the registry (one
 * concurrent, bounded pass), builds and pushes the missing ones that have a source tree,
 * and marks the services whose images are missing and cannot be built as failed. A check
 * the registry did not answer is a warning: the agent pulls as before and reports its own
 * failure.
 */
export async function prepareImages(
  ctx: Context,
  defs: readonly Definition[],
  config: Config,
  args: SyncArgs,
  signal: AbortSignal | undefined,
): Promise<ImagePlan> {
  const plan: ImagePlan = { built: new Map(), failed: new Map() };
  const active = defs.filter((d) => d.def.active);
  const refs = [...new Set(active.flatMap((d) => componentImages(d.def)))];
  if (refs.length === 0) return plan;
  const tools = await ctx.images();
  try {
    const checks = await tools.check(refs);
    const missing = new Set<string>();
    const warned = new Set<string>();
    for (const c of checks) {
      if (c.error) {
        if (!warned.has(c.error.message)) {
          warned.add(c.error.message);
          ctx.stderr.write(
            `${ctx.errStyle.yellow("warning:")} ${c.error.message}; left to the agent's pull\n`,
          );
        }
      } else if (!c.exists) missing.add(c.ref);
    }
    const toBuild: BuildTarget[] = [];
    for (const d of active) {
      const absent = componentImages(d.def).filter((r) => missing.has(r));
      if (absent.length === 0) continue;
      const reason = await unbuildable(d, absent, config);
      if (typeof reason === "string") plan.failed.set(d.def.name, reason);
      else toBuild.push(...reason);
    }
    for (const t of toBuild) {
      if (plan.failed.has(t.service)) continue;
      if (!args.dryRun) {
        try {
          await buildOne(ctx, tools, t, {
            push: true,
            verbose: args.verbose ?? false,
            quiet: ctx.json,
            signal,
          });
        } catch (e) {
          if (!isCliError(e) || e.exitCode === ExitCode.Interrupted) throw e;
          if (!ctx.json) for (const line of e.details) ctx.stderr.write(`${line}\n`);
          plan.failed.set(t.service, e.message);
          plan.built.delete(t.service);
          continue;
        }
      }
      plan.built.set(t.service, [...(plan.built.get(t.service) ?? []), t.image]);
    }
  } finally {
    await tools.close();
  }
  return plan;
}

/** The targets that build a service's absent images, or why they cannot be built here. */
async function unbuildable(
  d: Definition,
  absent: readonly string[],
  config: Config,
): Promise<BuildTarget[] | string> {
  const first = absent[0];
  if (!config.build.workspace) {
    return `image ${first} is not in the registry, and [build] workspace is not set to build it`;
  }
  let targets: BuildTarget[];
  try {
    targets = buildTargets(d.def, config.build.workspace);
  } catch (e) {
    if (isCliError(e)) return e.message;
    throw e;
  }
  const out: BuildTarget[] = [];
  for (const ref of absent) {
    const t = targets.find((x) => x.image === ref);
    if (!t) return `image ${ref} is not in the registry, and [build.images] does not build it`;
    const why = await missingSource(t);
    if (why) return `image ${ref} is not in the registry and cannot be built here: ${why}`;
    out.push(t);
  }
  return out;
}

/** The closing table of `mcp sync`: one row per service, a node that failed on every row. */
export function syncRows(
  outcomes: readonly NodeSync[],
  style: Style,
  dryRun: boolean,
  built: ReadonlyMap<string, readonly string[]> = new Map(),
): string[][] {
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
        builtDetail(r, built.get(r.service), dryRun),
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
  for (const d of defs) {
    if (!config.nodes.some((n) => n.name === d.def.node)) {
      throw usageError(
        `${d.file}: node "${d.def.node}" is not in ${config.path}; nothing was pushed`,
        `add a [[nodes]] table for it (nodes configured: ${config.nodes.map((n) => n.name).join(", ") || "none"})`,
      );
    }
  }
  const images = await prepareImages(ctx, defs, config, args, signal);
  const byNode = new Map<
    string,
    { node: NodeConfig; specs: ServiceSpec[]; failed: ServiceSyncResult[] }
  >();
  for (const d of defs) {
    const node = config.nodes.find((n) => n.name === d.def.node) as NodeConfig;
    const entry = byNode.get(node.name) ?? { node, specs: [], failed: [] };
    const reason = images.failed.get(d.def.name);
    if (reason === undefined) entry.specs.push(toServiceSpec(d.def, d.text));
    else {
      entry.failed.push(
        create(ServiceSyncResultSchema, {
          service: d.def.name,
          action: SyncAction.FAILED,
          message: `not deployed: ${reason}`,
        }),
      );
    }
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
        .map(async ({ node, specs, failed }): Promise<NodeSync> => {
          const outcome: NodeSync = {
            node,
            services: specs.map((s) => s.name),
            results: [...failed],
          };
          if (specs.length === 0) return outcome;
          const built = specs.map((s) => s.name).filter((n) => images.built.has(n));
          const client = agentClient(await ctx.transport(node));
          try {
            await consumeStream<PushDefinitionsResponse>({
              open: (s) =>
                client.pushDefinitions({ specs, dryRun: args.dryRun, built }, { signal: s }),
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

  // Public routes of the services that run go on the edge nodes, and those of services that
  // do not (or no longer have them) come off (edge.ts).
  const running = args.dryRun
    ? []
    : outcomes.flatMap((o) =>
        o.results
          .filter((r) => r.action !== SyncAction.FAILED)
          .flatMap((r) => {
            const d = defs.find((x) => x.def.name === r.service);
            if (!d) return [];
            // An inactive service serves nothing: without routes, its edges drop what they
            // carried for it.
            return [{ node: o.node, def: d.def.active ? d.def : { ...d.def, components: [] } }];
          }),
      );
  const edge = await registerSyncedOnEdges(ctx, config, running);
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        dryRun: args.dryRun,
        nothingToDo: nothingToDo(outcomes, images),
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
            built: r.built || images.built.has(r.service),
            images: images.built.get(r.service) ?? [],
            version: r.version,
            message: r.message,
          })),
        })),
        edgeRoutes: edge.outcomes,
        edgeSkipped: edge.skipped,
        edgeErrors: edge.errors.map((e) => ({ message: e.message, exitCode: e.exitCode })),
      }),
    );
  } else {
    if (args.dryRun) ctx.stdout.write(ctx.style.dim("dry run: nothing was changed\n"));
    ctx.stdout.write(
      renderTable(syncHeaders, syncRows(outcomes, ctx.style, args.dryRun, images.built), ctx.style),
    );
    if (nothingToDo(outcomes, images)) {
      ctx.stdout.write(
        `nothing to do: all ${defs.length} service${defs.length === 1 ? " is" : "s are"} up to date\n`,
      );
    }
  }
  if (!ctx.json) writeEdgeOutcomes(ctx, edge);
  for (const o of outcomes) {
    if (!o.error) continue;
    ctx.stderr.write(`${ctx.errStyle.red("error:")} ${o.error.message}\n`);
    if (o.error.hint) ctx.stderr.write(`${ctx.errStyle.dim("hint:")} ${o.error.hint}\n`);
  }
  for (const e of edge.errors) {
    ctx.stderr.write(`${ctx.errStyle.red("error:")} edge route: ${e.message}\n`);
    if (e.hint) ctx.stderr.write(`${ctx.errStyle.dim("hint:")} ${e.hint}\n`);
  }
  const nodeFailure = outcomes.find((o) => o.error)?.error;
  if (nodeFailure) return nodeFailure.exitCode;
  const failed = outcomes.some((o) => o.results.some((r) => r.action === SyncAction.FAILED));
  return failed || edge.errors.length > 0 ? ExitCode.Failed : ExitCode.Ok;
}

/** True when nothing was built, nothing failed, and every agent left every service alone. */
export function nothingToDo(outcomes: readonly NodeSync[], images: ImagePlan): boolean {
  return (
    images.built.size === 0 &&
    images.failed.size === 0 &&
    outcomes.every((o) => !o.error && o.results.every((r) => r.action === SyncAction.UNCHANGED))
  );
}
