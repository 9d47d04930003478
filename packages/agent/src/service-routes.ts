import type { RouteRegistration } from "./platform.ts";
import type { ServiceDef } from "./spec.ts";
import type { PortAssignment } from "./store/store.ts";

/** Where a node's routes go: its config's listener map, DNS zone and address. */
export interface RouteSite {
  listeners: Record<string, string>;
  zone: string;
  address: string;
  certsDir: string;
}

/** `<certs.dir>/<name>.pem` and `.key`: a service's own, or an edge route's (edgeCertName). */
export function certPaths(certsDir: string, name: string): { certPath: string; keyPath: string } {
  return { certPath: `${certsDir}/${name}.pem`, keyPath: `${certsDir}/${name}.key` };
}

/** The hostnames a service's certificate must name: those of its L7 routes. Pure. */
export function l7Hostnames(def: ServiceDef, zone: string): string[] {
  return [
    ...new Set(
      (def.components ?? []).flatMap((c) =>
        (c.routes ?? [])
          .filter((r) => r.mode === "l7")
          .map((r) => r.hostname ?? `${def.name}.${zone}`),
      ),
    ),
  ];
}

/**
 * The mc-proxy routes of a service with its assigned host ports: what a deploy registers,
 * what ListRoutes shows and what the platform check puts back. One function, so the three
 * never disagree (a registration that differs in one field would be re-added every check).
 * Routes without an assigned port are left out. Pure.
 */
export function routeRegistrations(
  def: ServiceDef,
  ports: readonly PortAssignment[],
  site: RouteSite,
): (RouteRegistration & { component: string; routeName: string })[] {
  const certs = certPaths(site.certsDir, def.name);
  const out: (RouteRegistration & { component: string; routeName: string })[] = [];
  for (const c of def.components ?? []) {
    for (const r of c.routes ?? []) {
      const p = ports.find((x) => x.component === c.name && x.route === (r.name ?? ""));
      if (!p) continue;
      out.push({
        component: c.name,
        routeName: r.name ?? "",
        listener: site.listeners[String(r.port)] ?? `:${r.port}`,
        hostname: r.hostname ?? `${def.name}.${site.zone}`,
        backend: `${site.address}:${p.hostPort}`,
        mode: r.mode,
        tlsCert: r.mode === "l7" ? certs.certPath : undefined,
        tlsKey: r.mode === "l7" ? certs.keyPath : undefined,
      });
    }
  }
  return out;
}
