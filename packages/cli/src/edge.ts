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
}

/** The `[[nodes]]` with `role = "edge"`. */
export function edgeNodes(config: Config): NodeConfig[] {
  return config.nodes.filter((n) => n.role === "edge");
}

/**
 * The routes of a deployed service that go on edge nodes: each L4 route with an explicit
 * `hostname` (a public name; a route without one answers to `<service>.<zone>`, the
 * internal name), pointing at the compute node's address and the host port the deploy
 * assigned (the result's ports are keyed by route name, or component name for an unnamed
 * route). L7 routes stay on the compute node: an edge holds no certificates. Pure.
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
      if (r.mode === "l7") {
        skipped.push(`${r.hostname}: l7 routes are not put on edge nodes`);
        continue;
      }
      const hostPort = ports[r.name || c.name];
      if (hostPort === undefined) {
        skipped.push(`${r.hostname}: no host port in the deploy result`);
        continue;
      }
      routes.push({ port: r.port, hostname: r.hostname, backend: `${computeAddress}:${hostPort}` });
    }
  }
  return { routes, skipped };
}

/**
 * After a deploy to a compute node: puts the service's public routes on every edge node of
 * mcp.toml (AddEdgeRoute), backend = the compute node's address (its NodeInfo) and host
 * port. Returns one line per route for the operator.
 */
export async function registerOnEdges(
  ctx: Context,
  config: Config,
  compute: NodeConfig,
  def: ServiceDef,
  ports: Record<string, number>,
): Promise<string[]> {
  const edges = edgeNodes(config).filter((n) => n.name !== compute.name);
  if (edges.length === 0) return [];
  if (!hasPublicRoutes(def)) return [];
  const info = await callNode(ctx, compute, (c, o) => c.nodeInfo({}, o));
  const { routes, skipped } = edgeRoutesFor(def, ports, info.address);
  const lines = skipped.map((s) => `edge: skipped ${s}`);
  for (const edge of edges) {
    for (const r of routes) {
      const res = await callNode(ctx, edge, (c, o) =>
        c.addEdgeRoute({ ...r, mode: RouteMode.L4 }, o),
      );
      lines.push(
        `edge ${edge.name}: ${r.hostname} on ${res.listener} → ${r.backend}${res.changed ? "" : " (unchanged)"}`,
      );
    }
  }
  return lines;
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
): Promise<{ lines: string[]; errors: CliError[] }> {
  const lines: string[] = [];
  const errors: CliError[] = [];
  if (edgeNodes(config).length === 0) return { lines, errors };
  for (const { node, def } of synced) {
    if (!hasPublicRoutes(def)) continue;
    try {
      const status = await callNode(ctx, node, (c, o) => c.serviceStatus({ service: def.name }, o));
      const ports: Record<string, number> = {};
      for (const c of status.components) Object.assign(ports, c.ports);
      lines.push(...(await registerOnEdges(ctx, config, node, def, ports)));
    } catch (e) {
      if (!isCliError(e)) throw e;
      errors.push(e);
    }
  }
  return { lines, errors };
}

/** The public L4 routes (port, hostname) of a definition: what edge nodes carry for it. Pure. */
export function publicRoutes(def: ServiceDef): { port: number; hostname: string }[] {
  return (def.components ?? []).flatMap((c) =>
    (c.routes ?? [])
      .filter((r) => r.hostname && r.mode !== "l7")
      .map((r) => ({ port: r.port, hostname: r.hostname as string })),
  );
}

/**
 * Before `mcp undeploy`: the public routes of the service as its agent stores it (the file
 * may be gone). Empty when there is no edge node or the agent does not know the service.
 */
export async function storedPublicRoutes(
  ctx: Context,
  config: Config,
  node: NodeConfig,
  service: string,
): Promise<{ port: number; hostname: string }[]> {
  if (edgeNodes(config).length === 0) return [];
  try {
    const status = await callNode(ctx, node, (c, o) => c.serviceStatus({ service }, o));
    const toml = status.spec?.toml;
    if (!toml) return [];
    return publicRoutes(checkDefinition(toml, `${node.name}:${service}`).def);
  } catch (e) {
    if (!isCliError(e)) throw e;
    return [];
  }
}

/** After `mcp undeploy`: removes the service's routes from every edge node. */
export async function removeFromEdges(
  ctx: Context,
  config: Config,
  compute: NodeConfig,
  routes: readonly { port: number; hostname: string }[],
): Promise<string[]> {
  const lines: string[] = [];
  for (const edge of edgeNodes(config).filter((n) => n.name !== compute.name)) {
    for (const r of routes) {
      const res = await callNode(ctx, edge, (c, o) => c.removeEdgeRoute(r, o));
      lines.push(`edge ${edge.name}: ${r.hostname} removed from ${res.listener}`);
    }
  }
  return lines;
}
