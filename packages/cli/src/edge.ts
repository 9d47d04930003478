import { RouteMode } from "@mcp/proto/agent/v1";
import type { ServiceDef } from "@mcp/servicedef";
import type { Config, NodeConfig } from "./config.js";
import type { Context } from "./context.js";
import { checkDefinition } from "./definition.js";
import { type CliError, isCliError } from "./errors.js";
import { callNode } from "./unary.js";

export interface EdgeRoute {
  port: number;
  hostname: string;
  backend: string;
  mode: "l4" | "l7";
}

/** What one edge node did with one route, for the operator (text) and scripts (--json). */
export interface EdgeOutcome {
  edge: string;
  hostname: string;
  listener: string;
  backend: string;
  mode: "l4" | "l7";
  /** False when the edge already had the route so. */
  changed: boolean;
  /** L7: "issued" or "reused", the edge's own certificate for the hostname. */
  certificate: string;
}

/** What one edge node did when asked to drop a route. */
export interface EdgeRemoval {
  edge: string;
  hostname: string;
  listener: string;
  /** False when the edge did not carry it. */
  removed: boolean;
}

/** One line per outcome, as `mcp deploy`, `sync` and `undeploy` print them. Pure. */
export function edgeLine(o: EdgeOutcome | EdgeRemoval): string {
  if (!("mode" in o)) {
    return `edge ${o.edge}: ${o.hostname} ${o.removed ? "removed from" : "was not on"} ${o.listener}`;
  }
  const cert = o.certificate === "issued" ? ", certificate issued" : "";
  return `edge ${o.edge}: ${o.mode} ${o.hostname} on ${o.listener} → ${o.backend}${cert}${o.changed ? "" : " (unchanged)"}`;
}

/** The `[[nodes]]` with `role = "edge"`. */
export function edgeNodes(config: Config): NodeConfig[] {
  return config.nodes.filter((n) => n.role === "edge");
}

/**
 * The routes of a deployed service that go on edge nodes: each route with an explicit
 * `hostname` (a public name; a route without one answers to `<service>.<zone>`, the
 * internal name), pointing at the compute node's address and the host port the deploy
 * assigned (the result's ports are keyed by route name, or component name for an unnamed
 * route). An L4 route passes TLS through to that port; an L7 one is terminated on the edge
 * with the edge's own certificate and forwarded as HTTP, as the container serves it. Pure.
 */
export function edgeRoutesFor(
  def: ServiceDef,
  ports: Record<string, number>,
  computeAddress: string,
): { routes: EdgeRoute[]; skipped: string[] } {
  const routes: EdgeRoute[] = [];
  const skipped: string[] = [];
  for (const c of def.components ?? []) {
    for (const r of c.routes ?? []) {
      if (!r.hostname) continue;
      const hostPort = ports[r.name || c.name];
      if (hostPort === undefined) {
        skipped.push(`${r.hostname}: no host port in the deploy result`);
        continue;
      }
      routes.push({
        port: r.port,
        hostname: r.hostname,
        backend: `${computeAddress}:${hostPort}`,
        mode: r.mode,
      });
    }
  }
  return { routes, skipped };
}

/**
 * What registering on the edges looks up, once per command: a compute node's address, and
 * the routes an edge carried when the command began. One service's additions and removals
 * never touch another's routes, so a `sync` of many services lists each edge once.
 */
export interface EdgeLookups {
  address(compute: NodeConfig): Promise<string>;
  carried(
    edge: NodeConfig,
  ): Promise<{ listener: string; hostname: string; service: string; node: string }[]>;
}

export function edgeLookups(ctx: Context): EdgeLookups {
  const addresses = new Map<string, Promise<string>>();
  const carried = new Map<string, ReturnType<EdgeLookups["carried"]>>();
  const once = <T>(m: Map<string, Promise<T>>, key: string, f: () => Promise<T>) => {
    let p = m.get(key);
    if (!p) {
      p = f();
      m.set(key, p);
    }
    return p;
  };
  return {
    address: (compute) =>
      once(
        addresses,
        compute.name,
        async () => (await callNode(ctx, compute, (c, o) => c.nodeInfo({}, o))).address,
      ),
    carried: (edge) =>
      once(carried, edge.name, async () =>
        (await callNode(ctx, edge, (c, o) => c.listRoutes({}, o))).listeners.flatMap((l) =>
          l.routes.map((r) => ({
            listener: l.address,
            hostname: r.hostname,
            service: r.service,
            node: r.node,
          })),
        ),
      ),
  };
}

/**
 * After a deploy to a compute node: puts the service's public routes on every edge node of
 * mcp.toml (AddEdgeRoute), backend = the compute node's address (its NodeInfo) and host
 * port. Returns what each edge did, and a line per route the deploy result could not place.
 */
export async function registerOnEdges(
  ctx: Context,
  config: Config,
  compute: NodeConfig,
  def: ServiceDef,
  ports: Record<string, number>,
  lookups: EdgeLookups = edgeLookups(ctx),
): Promise<{ outcomes: (EdgeOutcome | EdgeRemoval)[]; skipped: string[] }> {
  const edges = edgeNodes(config).filter((n) => n.name !== compute.name);
  if (edges.length === 0) return { outcomes: [], skipped: [] };
  const { routes, skipped } = hasPublicRoutes(def)
    ? edgeRoutesFor(def, ports, await lookups.address(compute))
    : { routes: [], skipped: [] };
  const outcomes: (EdgeOutcome | EdgeRemoval)[] = [];
  for (const edge of edges) {
    const added: EdgeOutcome[] = [];
    for (const r of routes) {
      const res = await callNode(ctx, edge, (c, o) =>
        c.addEdgeRoute(
          {
            port: r.port,
            hostname: r.hostname,
            backend: r.backend,
            mode: r.mode === "l7" ? RouteMode.L7 : RouteMode.L4,
            service: def.name,
            node: compute.name,
          },
          o,
        ),
      );
      added.push({
        edge: edge.name,
        hostname: r.hostname,
        listener: res.listener,
        backend: r.backend,
        mode: r.mode,
        changed: res.changed,
        certificate: res.certificate,
      });
    }
    outcomes.push(...added, ...(await pruneEdge(ctx, lookups, edge, compute, def, added)));
  }
  return { outcomes, skipped: skipped.map((s) => `edge: skipped ${s}`) };
}

/**
 * The routes an edge carries for this service on this compute node that its definition no
 * longer has: a hostname it dropped, or one that moved to another port (listener). Routes
 * whose port this deploy did not know (`--component`) are kept. Pure.
 */
export function staleEdgeRoutes(
  carried: readonly { listener: string; hostname: string }[],
  def: ServiceDef,
  added: readonly { listener: string; hostname: string }[],
): { listener: string; hostname: string }[] {
  const publicHosts = new Set(publicRoutes(def).map((r) => r.hostname));
  const addedHosts = new Set(added.map((r) => r.hostname));
  const addedKeys = new Set(added.map((r) => `${r.listener} ${r.hostname}`));
  return carried.filter(
    (r) =>
      !publicHosts.has(r.hostname) ||
      (addedHosts.has(r.hostname) && !addedKeys.has(`${r.listener} ${r.hostname}`)),
  );
}

async function pruneEdge(
  ctx: Context,
  lookups: EdgeLookups,
  edge: NodeConfig,
  compute: NodeConfig,
  def: ServiceDef,
  added: readonly EdgeOutcome[],
): Promise<EdgeRemoval[]> {
  const carried = (await lookups.carried(edge)).filter(
    (r) => r.service === def.name && r.node === compute.name,
  );
  const out: EdgeRemoval[] = [];
  for (const r of staleEdgeRoutes(carried, def, added)) {
    const res = await callNode(ctx, edge, (c, o) =>
      c.removeEdgeRoute({ port: 0, hostname: r.hostname, listener: r.listener }, o),
    );
    out.push({ edge: edge.name, hostname: r.hostname, listener: r.listener, removed: res.removed });
  }
  return out;
}

/** Prints edge outcomes: lines for people, one JSON object per line (`type` edge-route…) for scripts. */
export function writeEdgeOutcomes(
  ctx: Context,
  r: { outcomes: readonly (EdgeOutcome | EdgeRemoval)[]; skipped?: string[] },
): void {
  for (const o of r.outcomes) {
    const type = "mode" in o ? "edge-route" : "edge-route-removed";
    ctx.stdout.write(ctx.json ? `${JSON.stringify({ type, ...o })}\n` : `${edgeLine(o)}\n`);
  }
  for (const s of r.skipped ?? []) {
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ type: "edge-skipped", message: s })}\n`);
    else ctx.stderr.write(`${ctx.errStyle.yellow("warning:")} ${s}\n`);
  }
}

/** Whether any route of the service sets an explicit hostname (goes on edge nodes). */
export function hasPublicRoutes(def: ServiceDef): boolean {
  return (def.components ?? []).some((c) => (c.routes ?? []).some((r) => r.hostname));
}

/**
 * After `mcp sync`: the public routes of each service that runs (deployed or unchanged) go
 * on the edge nodes, the host ports read from the compute agent's ServiceStatus. A failure
 * is reported per service and does not stop the others.
 */
export async function registerSyncedOnEdges(
  ctx: Context,
  config: Config,
  synced: readonly { node: NodeConfig; def: ServiceDef }[],
): Promise<{ outcomes: (EdgeOutcome | EdgeRemoval)[]; skipped: string[]; errors: CliError[] }> {
  const outcomes: (EdgeOutcome | EdgeRemoval)[] = [];
  const skipped: string[] = [];
  const errors: CliError[] = [];
  if (edgeNodes(config).length === 0) return { outcomes, skipped, errors };
  const lookups = edgeLookups(ctx);
  for (const { node, def } of synced) {
    try {
      // A service without public routes still gets its edges pruned of what it had.
      const ports: Record<string, number> = {};
      if (hasPublicRoutes(def)) {
        const status = await callNode(ctx, node, (c, o) =>
          c.serviceStatus({ service: def.name }, o),
        );
        for (const c of status.components) Object.assign(ports, c.ports);
      }
      const r = await registerOnEdges(ctx, config, node, def, ports, lookups);
      outcomes.push(...r.outcomes);
      skipped.push(...r.skipped);
    } catch (e) {
      if (!isCliError(e)) throw e;
      errors.push(e);
    }
  }
  return { outcomes, skipped, errors };
}

/** The public routes (port, hostname) of a definition: what edge nodes carry for it. Pure. */
export function publicRoutes(def: ServiceDef): { port: number; hostname: string }[] {
  return (def.components ?? []).flatMap((c) =>
    (c.routes ?? [])
      .filter((r) => r.hostname)
      .map((r) => ({ port: r.port, hostname: r.hostname as string })),
  );
}

/**
 * The service's definition as its agent stores it (the file may be gone or changed since).
 * Undefined when there is no edge node or the agent does not know the service.
 */
export async function storedDefinition(
  ctx: Context,
  config: Config,
  node: NodeConfig,
  service: string,
): Promise<ServiceDef | undefined> {
  if (edgeNodes(config).length === 0) return undefined;
  try {
    const status = await callNode(ctx, node, (c, o) => c.serviceStatus({ service }, o));
    const toml = status.spec?.toml;
    if (!toml) return undefined;
    return checkDefinition(toml, `${node.name}:${service}`).def;
  } catch (e) {
    if (!isCliError(e)) throw e;
    return undefined;
  }
}

/** Before `mcp undeploy` and `mcp stop`: the public routes its edge nodes carry. */
export async function storedPublicRoutes(
  ctx: Context,
  config: Config,
  node: NodeConfig,
  service: string,
): Promise<{ port: number; hostname: string }[]> {
  const def = await storedDefinition(ctx, config, node, service);
  return def ? publicRoutes(def) : [];
}

/** After `mcp undeploy` and `mcp stop`: removes the service's routes from every edge node. */
export async function removeFromEdges(
  ctx: Context,
  config: Config,
  compute: NodeConfig,
  routes: readonly { port: number; hostname: string }[],
): Promise<EdgeRemoval[]> {
  const out: EdgeRemoval[] = [];
  for (const edge of edgeNodes(config).filter((n) => n.name !== compute.name)) {
    for (const r of routes) {
      const res = await callNode(ctx, edge, (c, o) => c.removeEdgeRoute(r, o));
      out.push({
        edge: edge.name,
        hostname: r.hostname,
        listener: res.listener,
        removed: res.removed,
      });
    }
  }
  return out;
}
