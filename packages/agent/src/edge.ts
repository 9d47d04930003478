import { InvalidArgumentError, PreconditionError } from "./errors.ts";
import type { CertificateProvider, Platform, RouteRegistration } from "./platform.ts";
import { certPaths } from "./service-routes.ts";
import type { ServiceDef } from "./spec.ts";
import type { EdgeRouteRow, Store, StoredEdgeRoute } from "./store/store.ts";

/**
 * Edge nodes (`[agent] role = "edge"`, the spec's `svc`) manage mc-proxy routes only: they
 * run no application containers, and a route on an edge node points at the compute node's
 * address. The compute node deploys the service; the edge gets `hostname → <compute
 * address>:<host port>` through AddEdgeRoute, and keeps it in its registry so that it lists
 * it, puts it back when mc-proxy lost it and renews its certificate.
 *
 * An L4 edge route passes TLS through by SNI. An L7 one terminates TLS on the edge with a
 * certificate the edge agent gets from Metacrypt for the hostname, and forwards HTTP to the
 * compute node's host port, where the container listens.
 */
export type NodeRole = "compute" | "edge";

export interface EdgeRouteRequest {
  port: number;
  hostname: string;
  backend: string;
  /** "" (unspecified) means l4. */
  mode: "l4" | "l7" | "";
  /** The service and compute node the route reaches, for listings; "" when unknown. */
  service?: string | undefined;
  node?: string | undefined;
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
const LABEL = /^([a-z][a-z0-9-]{0,62})?$/;
// mc-proxy listener names as configs write them: `:443`, `0.0.0.0:443`, `https`.
const LISTENER = /^[A-Za-z0-9_.:[\]-]{1,100}$/;

function checkPort(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidArgumentError(`${what} ${n} is not a port (1-65535)`);
  }
  return n;
}

/**
 * The certificate name (`<certs.dir>/<name>.pem`) of an L7 edge route. Service names are
 * DNS labels without `_`, so these never collide with a service's own certificate.
 */
export function edgeCertName(hostname: string): string {
  return `edge_${hostname.toLowerCase()}`;
}

/**
 * The (listener, hostname) an edge route is kept under: the listener named, or else the one
 * the config maps the port to (`:<port>` by default). With a listener named, port 0 means
 * "not known". Pure; bad input throws InvalidArgumentError naming the field.
 */
export function edgeKey(
  req: { port: number; hostname: string; listener?: string | undefined },
  listeners: Record<string, string>,
): { listener: string; hostname: string } {
  const named = req.listener ?? "";
  if (named === "" || req.port !== 0) checkPort(req.port, "port");
  const hostname = req.hostname.toLowerCase();
  if (!HOSTNAME.test(hostname)) {
    throw new InvalidArgumentError(`hostname "${req.hostname}" is not a DNS name`);
  }
  if (named !== "" && !LISTENER.test(named)) {
    throw new InvalidArgumentError(`listener "${named}" is not a listener name`);
  }
  return { listener: named || (listeners[String(req.port)] ?? `:${req.port}`), hostname };
}

/**
 * The stored edge route a request stands for, on the listener the edge agent's config maps
 * the port to (`:<port>` by default). Pure; bad input throws InvalidArgumentError naming
 * the field.
 */
export function edgeRoute(req: EdgeRouteRequest, listeners: Record<string, string>): EdgeRouteRow {
  const { listener, hostname } = edgeKey(req, listeners);
  const colon = req.backend.lastIndexOf(":");
  const host = colon > 0 ? req.backend.slice(0, colon) : "";
  if (!BACKEND_HOST.test(host) || !/^\d+$/.test(req.backend.slice(colon + 1))) {
    throw new InvalidArgumentError(`backend "${req.backend}" is not <address>:<port>`);
  }
  checkPort(Number(req.backend.slice(colon + 1)), "backend port");
  const service = req.service ?? "";
  const node = req.node ?? "";
  if (!LABEL.test(service)) throw new InvalidArgumentError(`service "${service}" is not a name`);
  if (!LABEL.test(node)) throw new InvalidArgumentError(`node "${node}" is not a name`);
  return {
    listener,
    hostname,
    backend: req.backend,
    mode: req.mode === "l7" ? "l7" : "l4",
    service,
    node,
  };
}

/**
 * The mc-proxy registration of a stored edge route; an L7 one serves the edge certificate
 * from `certsDir` (`[certs] dir`, where the certificate provider writes it). Pure.
 */
export function edgeRegistration(row: EdgeRouteRow, certsDir: string): RouteRegistration {
  const base = {
    listener: row.listener,
    hostname: row.hostname,
    backend: row.backend,
    mode: row.mode,
  };
  if (row.mode === "l4") return base;
  const { certPath, keyPath } = certPaths(certsDir, edgeCertName(row.hostname));
  return { ...base, tlsCert: certPath, tlsKey: keyPath };
}

export interface EdgeContext {
  role: NodeRole;
  nodeName: string;
  listeners: Record<string, string>;
  certsDir: string;
  platform: Platform;
  store: Pick<Store, "putEdgeRoute" | "getEdgeRoute" | "deleteEdgeRoute" | "listEdgeRoutes">;
}

function requireEdge(ctx: EdgeContext) {
  if (ctx.role !== "edge") {
    throw new PreconditionError(
      `node "${ctx.nodeName}" is a compute node; edge routes go to a node with [agent] role = "edge"`,
    );
  }
  if (!ctx.platform.routes) {
    throw new PreconditionError(`mc-proxy is not configured on edge node "${ctx.nodeName}"`);
  }
  return ctx.platform.routes;
}

function requireCerts(ctx: EdgeContext, hostname: string): CertificateProvider {
  const certs = ctx.platform.certificates;
  if (!certs) {
    throw new PreconditionError(
      `edge route ${hostname}: mode l7 needs a certificate, and Metacrypt is not configured on edge node "${ctx.nodeName}" ([metacrypt] server_url); use l4 or configure it`,
    );
  }
  return certs;
}

/** Whether another stored L7 route still serves the certificate of `hostname`. */
function certStillUsed(ctx: EdgeContext, hostname: string, except: string): boolean {
  return ctx.store
    .listEdgeRoutes()
    .some((r) => r.mode === "l7" && r.hostname === hostname && r.listener !== except);
}

/**
 * Adds or replaces the edge route; `changed` is false when it was already so. A failure
 * leaves what was there before: a certificate issued for this call is removed again.
 */
export async function addEdgeRoute(
  ctx: EdgeContext,
  req: EdgeRouteRequest,
): Promise<{ changed: boolean; listener: string; certificate: "" | "issued" | "reused" }> {
  const row = edgeRoute(req, ctx.listeners);
  const routes = requireEdge(ctx);
  const before = ctx.store.getEdgeRoute(row.listener, row.hostname);
  let certificate: "" | "issued" | "reused" = "";
  const registration = edgeRegistration(row, ctx.certsDir);
  if (row.mode === "l7") {
    const certs = requireCerts(ctx, row.hostname);
    const name = edgeCertName(row.hostname);
    const had = before?.mode === "l7" || certStillUsed(ctx, row.hostname, row.listener);
    const r = await certs.ensure(name, [row.hostname]);
    certificate = r.issued ? "issued" : "reused";
    try {
      return await put(ctx, routes, row, registration, before, certificate);
    } catch (e) {
      // A certificate nothing else serves goes again with the route that needed it.
      if (r.issued && !had) await certs.remove(name).catch(() => {});
      throw e;
    }
  }
  const out = await put(ctx, routes, row, registration, before, certificate);
  // Was L7, now L4: its certificate is no longer served.
  const certsNow = ctx.platform.certificates;
  if (before?.mode === "l7" && !certStillUsed(ctx, row.hostname, row.listener) && certsNow) {
    await certsNow.remove(edgeCertName(row.hostname)).catch(() => {});
  }
  return out;
}

async function put(
  ctx: EdgeContext,
  routes: NonNullable<Platform["routes"]>,
  row: EdgeRouteRow,
  registration: RouteRegistration,
  before: StoredEdgeRoute | undefined,
  certificate: "" | "issued" | "reused",
) {
  const added = await routes.add(registration);
  ctx.store.putEdgeRoute(row);
  const same =
    before !== undefined &&
    before.backend === row.backend &&
    before.mode === row.mode &&
    before.service === row.service &&
    before.node === row.node;
  return { changed: added || !same, listener: row.listener, certificate };
}

/** Removes the edge route for (port's listener, hostname), and its certificate if unused. */
export async function removeEdgeRoute(
  ctx: EdgeContext,
  req: { port: number; hostname: string; listener?: string | undefined },
): Promise<{ listener: string; removed: boolean }> {
  const row = edgeKey(req, ctx.listeners);
  const routes = requireEdge(ctx);
  const before = ctx.store.getEdgeRoute(row.listener, row.hostname);
  await routes.remove(row.listener, row.hostname);
  ctx.store.deleteEdgeRoute(row.listener, row.hostname);
  const certs = ctx.platform.certificates;
  if (before?.mode === "l7" && certs && !certStillUsed(ctx, row.hostname, row.listener)) {
    await certs.remove(edgeCertName(row.hostname));
  }
  return { listener: row.listener, removed: before !== undefined };
}
