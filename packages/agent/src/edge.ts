import { InvalidArgumentError, PreconditionError } from "./errors.ts";
import type { Platform, RouteRegistration } from "./platform.ts";
import type { ServiceDef } from "./spec.ts";

/**
 * Edge nodes (`[agent] role = "edge"`, the spec's `svc`) manage mc-proxy routes only: they
 * run no application containers, and a route on an edge node points at the compute node's
 * address. The compute node deploys the service; the edge gets `hostname → <compute
 * address>:<host port>` through AddEdgeRoute.
 */
export type NodeRole = "compute" | "edge";

export interface EdgeRouteRequest {
  port: number;
  hostname: string;
  backend: string;
  /** "" (unspecified) means l4. */
  mode: "l4" | "l7" | "";
}

/** A service with containers cannot go to an edge node. Pure. */
export function refuseContainersOnEdge(role: NodeRole, nodeName: string, def: ServiceDef): void {
  if (role !== "edge" || (def.components ?? []).length === 0) return;
  throw new PreconditionError(
    `node "${nodeName}" is an edge node: it runs no containers, so service "${def.name}" cannot be deployed to it; deploy it to a compute node and put its routes on the edge (AddEdgeRoute)`,
  );
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const BACKEND_HOST = /^([a-z0-9.-]+|\[[0-9a-f:.]+\])$/i;

function checkPort(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidArgumentError(`${what} ${n} is not a port (1-65535)`);
  }
  return n;
}

/**
 * The mc-proxy route an edge request stands for, on the listener the edge agent's config
 * maps the port to (`:<port>` by default). Only L4 (TLS passthrough): the edge holds no
 * certificates. Pure; bad input throws InvalidArgumentError naming the field.
 */
export function edgeRoute(
  req: EdgeRouteRequest,
  listeners: Record<string, string>,
): RouteRegistration {
  const port = checkPort(req.port, "port");
  const hostname = req.hostname.toLowerCase();
  if (!HOSTNAME.test(hostname)) {
    throw new InvalidArgumentError(`hostname "${req.hostname}" is not a DNS name`);
  }
  const colon = req.backend.lastIndexOf(":");
  const host = colon > 0 ? req.backend.slice(0, colon) : "";
  if (!BACKEND_HOST.test(host) || !/^\d+$/.test(req.backend.slice(colon + 1))) {
    throw new InvalidArgumentError(`backend "${req.backend}" is not <address>:<port>`);
  }
  checkPort(Number(req.backend.slice(colon + 1)), "backend port");
  if (req.mode === "l7") {
    throw new InvalidArgumentError(
      `edge route ${hostname}: mode l7 is not supported on an edge node (it holds no certificates); use l4`,
    );
  }
  return {
    listener: listeners[String(port)] ?? `:${port}`,
    hostname,
    backend: req.backend,
    mode: "l4",
  };
}

function requireEdge(role: NodeRole, nodeName: string, platform: Platform) {
  if (role !== "edge") {
    throw new PreconditionError(
      `node "${nodeName}" is a compute node; edge routes go to a node with [agent] role = "edge"`,
    );
  }
  if (!platform.routes) {
    throw new PreconditionError(`mc-proxy is not configured on edge node "${nodeName}"`);
  }
  return platform.routes;
}

export interface EdgeContext {
  role: NodeRole;
  nodeName: string;
  listeners: Record<string, string>;
  platform: Platform;
}

/** Adds or replaces the edge route; `changed` is false when it was already so. */
export async function addEdgeRoute(
  ctx: EdgeContext,
  req: EdgeRouteRequest,
): Promise<{ changed: boolean; listener: string }> {
  const route = edgeRoute(req, ctx.listeners);
  const routes = requireEdge(ctx.role, ctx.nodeName, ctx.platform);
  const changed = await routes.add(route);
  return { changed, listener: route.listener };
}

/** Removes the edge route for (port's listener, hostname). */
export async function removeEdgeRoute(
  ctx: EdgeContext,
  req: { port: number; hostname: string },
): Promise<{ listener: string }> {
  const route = edgeRoute({ ...req, backend: "127.0.0.1:1", mode: "l4" }, ctx.listeners);
  const routes = requireEdge(ctx.role, ctx.nodeName, ctx.platform);
  await routes.remove(route.listener, route.hostname);
  return { listener: route.listener };
}
