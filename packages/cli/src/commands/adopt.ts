import { readdir, readFile } from "node:fs/promises";
import type { AdoptResponse } from "@mcp/proto/agent/v1";
import { splitContainerName } from "@mcp/servicedef";
import { parse as parseToml } from "smol-toml";
import type { NodeConfig } from "../config.js";
import { type Context, findNode } from "../context.js";
import { definitionPath } from "../definition.js";
import { CliError, ExitCode, notFoundError, usageError } from "../errors.js";
import { askNodes } from "../fleet.js";
import { renderJson } from "../output.js";
import { callNode } from "../unary.js";

export interface AdoptArgs {
  service: string;
  dryRun: boolean;
  node?: string | undefined;
}

/** What a local definition file says, read leniently: adopting comes before a valid file. */
interface LocalHint {
  node?: string;
  components: Set<string>;
}

async function readLocal(servicesDir: string, service: string): Promise<LocalHint> {
  const components = new Set<string>();
  try {
    const raw = parseToml(await readFile(definitionPath(servicesDir, service), "utf8")) as {
      node?: unknown;
      components?: unknown;
    };
    if (Array.isArray(raw.components)) {
      for (const c of raw.components) {
        const name = (c as { name?: unknown }).name;
        if (typeof name === "string") components.add(name);
      }
    }
    return typeof raw.node === "string" ? { node: raw.node, components } : { components };
  } catch {
    return { components };
  }
}

async function localServiceNames(servicesDir: string): Promise<string[]> {
  try {
    return (await readdir(servicesDir))
      .filter((f) => f.endsWith(".toml"))
      .map((f) => f.slice(0, -".toml".length));
  } catch {
    return [];
  }
}

/**
 * Every way `container` splits into `<service>-<component>` given the services known anywhere
 * (definition files, the agent) and the services its own name could hide: `mc-demo-web`
 * adopted for `mc` might as well be `mc-demo`'s `web`. Only `service` and longer names
 * count, longest first, as the agent splits. More than one way, with nothing local to
 * settle it, is ambiguous.
 */
export function containerSplits(
  container: string,
  service: string,
  known: Iterable<string>,
): { service: string; component: string }[] {
  const names = new Set(known);
  names.add(service);
  if (container.startsWith(`${service}-`)) {
    const parts = container.slice(service.length + 1).split("-");
    // Proper prefixes only: the whole name as a service would make every container ambiguous.
    for (let i = 1; i < parts.length; i++) names.add(`${service}-${parts.slice(0, i).join("-")}`);
  }
  // Shorter services lose to this one by longest-first, as they do on the agent.
  return splitContainerName(container, names)
    .candidates.filter((c) => c.service.length >= service.length)
    .map((c) => ({ service: c.service, component: c.component }));
}

export interface Ambiguity {
  container: string;
  candidates: { service: string; component: string }[];
}

/** The containers the agent would adopt whose names do not say for sure whose they are. */
export function findAmbiguities(
  adopted: readonly { container: string; component: string }[],
  service: string,
  known: Iterable<string>,
  localComponents: ReadonlySet<string>,
): Ambiguity[] {
  const out: Ambiguity[] = [];
  const knownList = [...known];
  for (const a of adopted) {
    // The operator's own definition names this component: the split is settled.
    if (localComponents.has(a.component)) continue;
    const candidates = containerSplits(a.container, service, knownList);
    if (candidates.length > 1) out.push({ container: a.container, candidates });
  }
  return out;
}

/** The node to adopt on: --node, the definition's node, the only node, or the one that has them. */
async function chooseNode(
  ctx: Context,
  args: AdoptArgs,
  local: LocalHint,
): Promise<{ node: NodeConfig; preview?: AdoptResponse }> {
  const config = await ctx.config();
  if (args.node) return { node: findNode(config, args.node) };
  if (local.node) return { node: findNode(config, local.node) };
  const only = config.nodes.length === 1 ? config.nodes[0] : undefined;
  if (only) return { node: only };
  const answers = await askNodes(ctx, config.nodes, (c) =>
    c.adopt({ service: args.service, dryRun: true }, { timeoutMs: ctx.timeoutMs }),
  );
  const holders = answers.filter((a) => a.ok && a.value.adopted.length > 0);
  if (holders.length > 1) {
    throw usageError(
      `containers of ${args.service} run on several nodes: ${holders.map((h) => h.node.name).join(", ")}`,
      "choose one with --node",
    );
  }
  const holder = holders[0];
  if (holder?.ok) return { node: holder.node, preview: holder.value };
  const silent = answers.filter((a) => !a.ok).map((a) => a.node.name);
  throw notFoundError(
    `no node runs a container named ${args.service}-<component> to adopt`,
    silent.length > 0
      ? `these nodes did not answer: ${silent.join(", ")}`
      : "check the names with `mcp ps -a`",
  );
}

/**
 * `mcp adopt <service>` (bootstrap step 8): the agent takes over containers `<service>-*`
 * started by hand, without recreating them. A preview (dry run) comes first so that an
 * ambiguous name is refused before anything is recorded.
 */
export async function adopt(ctx: Context, args: AdoptArgs): Promise<number> {
  const config = await ctx.config();
  const local = await readLocal(config.servicesDir, args.service);
  const chosen = await chooseNode(ctx, args, local);
  const node = chosen.node;
  const [preview, agentServices, localNames] = await Promise.all([
    chosen.preview ??
      callNode(ctx, node, (c, o) => c.adopt({ service: args.service, dryRun: true }, o)),
    callNode(ctx, node, (c, o) => c.listServices({}, o)),
    localServiceNames(config.servicesDir),
  ]);
  const known = [...localNames, ...agentServices.services.map((s) => s.name)];
  const ambiguous = findAmbiguities(preview.adopted, args.service, known, local.components);
  if (ambiguous.length > 0) {
    throw new CliError(
      `refusing to adopt for ${args.service}: ${ambiguous.length === 1 ? "a container name is" : "container names are"} ambiguous`,
      {
        exitCode: ExitCode.Usage,
        details: ambiguous.map(
          (a) =>
            `${a.container} could be ${a.candidates.map((c) => `${c.service}/${c.component}`).join(" or ")}`,
        ),
        hint: `adopt the longer service first, or list the component in ${definitionPath(config.servicesDir, args.service)}`,
      },
    );
  }
  const res = args.dryRun
    ? preview
    : await callNode(ctx, node, (c, o) => c.adopt({ service: args.service, dryRun: false }, o));
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        node: node.name,
        service: args.service,
        dryRun: args.dryRun,
        adopted: res.adopted.map((a) => ({
          container: a.container,
          component: a.component,
          image: a.image,
        })),
        skipped: res.skipped,
      }),
    );
    return 0;
  }
  const s = ctx.style;
  const verb = args.dryRun ? "would adopt" : "adopted";
  for (const a of res.adopted) {
    ctx.stdout.write(
      `${args.dryRun ? s.cyan("~") : s.green("✔")} ${verb} ${a.container} as ${args.service}/${a.component} ${s.dim(`(${a.image})`)}\n`,
    );
  }
  for (const k of res.skipped) ctx.stdout.write(`${s.dim("-")} skipped ${k}\n`);
  if (res.adopted.length === 0) {
    ctx.stdout.write(`${s.dim("=")} nothing to adopt for ${args.service} on ${node.name}\n`);
  } else if (!args.dryRun) {
    ctx.stdout.write(
      `${s.dim("next:")} mcp service export ${args.service}, complete the file, then mcp sync\n`,
    );
  }
  return 0;
}
