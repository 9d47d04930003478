import type { Logger } from "pino";
import type { KeyedLock } from "./deploy/lock.ts";
import { edgeCertName, edgeRegistration } from "./edge.ts";
import { errorLine } from "./errors.ts";
import type { Platform, RouteRegistration } from "./platform.ts";
import { l7Hostnames, type RouteSite, routeRegistrations } from "./service-routes.ts";
import type { Store } from "./store/store.ts";

/** Serializes edge route changes with the check (the RPC handlers take the same key). */
export const EDGE_LOCK = "edge:routes";

export interface PlatformCheckResult {
  /** `<hostname> on <listener>`: routes mc-proxy did not have (or had otherwise) and got back. */
  restored: string[];
  /** Certificates issued because the one on disk was gone or within 30 days of expiry. */
  renewed: string[];
  /** One line per service or edge route the check could not put right; retried next time. */
  failed: string[];
}

export interface PlatformCheckDeps {
  store: Pick<Store, "listServices" | "getService" | "listPorts" | "listEdgeRoutes" | "addEvent">;
  platform: Platform;
  site: RouteSite;
  /** The engine's per-service lock: a check never runs beside a deploy of the same service. */
  lock: KeyedLock;
}

/**
 * Puts the platform back to what the registry says, for what can silently go away or run
 * out: every route of an active service (and every edge route) is in mc-proxy, and every
 * certificate an L7 route serves is more than 30 days from expiry. mc-proxy reads a
 * certificate when a route is added, so a renewed one reloads by re-adding its routes
 * (the registrar counts certificate generations and does that). DNS records and
 * containers are the monitor's and the operator's business, not this check's.
 */
export async function checkPlatform(deps: PlatformCheckDeps): Promise<PlatformCheckResult> {
  const out: PlatformCheckResult = { restored: [], renewed: [], failed: [] };
  const { store, platform } = deps;
  for (const { name } of store.listServices()) {
    try {
      await deps.lock.run(name, async () => {
        // Read again under the lock: a deploy or undeploy may have finished meanwhile.
        const s = store.getService(name);
        if (!s?.active) return;
        const routes = routeRegistrations(s.spec, store.listPorts(name), deps.site);
        if (routes.length === 0) return;
        const hostnames = l7Hostnames(s.spec, deps.site.zone);
        if (hostnames.length > 0 && platform.certificates) {
          const r = await platform.certificates.ensure(name, hostnames);
          if (r.issued) record(out, store, name, "renewed", r.certPath);
        }
        await putRoutes(out, store, platform, name, routes);
      });
    } catch (e) {
      out.failed.push(`${name}: ${errorLine(e)}`);
    }
  }
  const edge = store.listEdgeRoutes();
  if (edge.length > 0) {
    await deps.lock.run(EDGE_LOCK, async () => {
      for (const e of store.listEdgeRoutes()) {
        try {
          if (e.mode === "l7" && platform.certificates) {
            const r = await platform.certificates.ensure(edgeCertName(e.hostname), [e.hostname]);
            if (r.issued) record(out, store, e.service, "renewed", r.certPath);
          }
          await putRoutes(out, store, platform, e.service, [
            edgeRegistration(e, deps.site.certsDir),
          ]);
        } catch (err) {
          out.failed.push(`edge route ${e.hostname} on ${e.listener}: ${errorLine(err)}`);
        }
      }
    });
  }
  return out;
}

async function putRoutes(
  out: PlatformCheckResult,
  store: PlatformCheckDeps["store"],
  platform: Platform,
  service: string,
  routes: RouteRegistration[],
) {
  if (!platform.routes) return;
  for (const r of routes) {
    if (!(await platform.routes.add(r))) continue;
    // A re-add that only reloads a renewed certificate is part of the renewal.
    if (r.tlsCert && out.renewed.includes(r.tlsCert)) continue;
    record(out, store, service, "restored", `${r.hostname} on ${r.listener}`);
  }
}

function record(
  out: PlatformCheckResult,
  store: PlatformCheckDeps["store"],
  service: string,
  what: "renewed" | "restored",
  detail: string,
) {
  out[what].push(detail);
  store.addEvent({
    service,
    kind: what === "renewed" ? "certificate-renewed" : "route-restored",
    level: what === "renewed" ? "info" : "warning",
    message:
      what === "renewed"
        ? `certificate ${detail} renewed`
        : `mc-proxy had lost route ${detail}; put back`,
  });
}

/**
 * Runs checkPlatform every `intervalMs` (`[mcproxy] check_interval`), one run at a time.
 * A failing run is logged and retried at the next tick; it never stops the agent.
 */
export class PlatformChecker {
  readonly #deps: PlatformCheckDeps;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(deps: PlatformCheckDeps, intervalMs: number, log: Logger) {
    this.#deps = deps;
    this.#intervalMs = intervalMs;
    this.#log = log;
  }

  start(firstDelayMs: number): void {
    if (this.#intervalMs <= 0) return;
    this.#schedule(firstDelayMs);
  }

  #schedule(ms: number) {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.runOnce().finally(() => {
        this.#running = undefined;
        this.#schedule(this.#intervalMs);
      });
    }, ms);
    this.#timer.unref();
  }

  async runOnce(): Promise<PlatformCheckResult> {
    const r = await checkPlatform(this.#deps);
    for (const line of r.restored)
      this.#log.warn({ route: line }, "platform check: route put back");
    for (const path of r.renewed) this.#log.info({ path }, "platform check: certificate renewed");
    for (const line of r.failed) this.#log.warn({ error: line }, "platform check failed");
    return r;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }
}
