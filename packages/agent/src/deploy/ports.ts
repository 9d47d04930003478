import { createServer } from "node:net";
import type { PortAssignment } from "../store/store.ts";

/** One route that needs a host port. */
export interface RouteKey {
  component: string;
  /** Route name; "" for an unnamed route. */
  route: string;
}

export function routeKeyOf(p: { component: string; route: string }): string {
  return `${p.component}/${p.route}`;
}

/**
 * Which of the service's existing assignments to keep, which routes need a new port and
 * which assignments belong to routes that no longer exist. Pure.
 */
export function diffPorts(
  wanted: RouteKey[],
  existing: PortAssignment[],
): { keep: PortAssignment[]; need: RouteKey[]; release: PortAssignment[] } {
  const wantedKeys = new Set(wanted.map(routeKeyOf));
  const byKey = new Map(existing.map((p) => [routeKeyOf(p), p]));
  return {
    keep: existing.filter((p) => wantedKeys.has(routeKeyOf(p))),
    need: wanted.filter((w) => !byKey.has(routeKeyOf(w))),
    release: existing.filter((p) => !wantedKeys.has(routeKeyOf(p))),
  };
}

/**
 * Candidate ports in the range, lowest first, skipping every port assigned to any
 * service (assigned ports are never reused, even while their container is stopped).
 */
export function* candidatePorts(
  range: { low: number; high: number },
  taken: ReadonlySet<number>,
): Generator<number> {
  for (let p = range.low; p <= range.high; p++) if (!taken.has(p)) yield p;
}

export type PortProbe = (port: number) => Promise<boolean>;

/** Whether nothing on the host listens on 0.0.0.0:port (tries to bind it). */
export const probeHostPort: PortProbe = (port) =>
  new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "0.0.0.0", exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });

/**
 * Picks a free port for each route: not assigned in the registry and free on the host.
 * Throws when the range is exhausted.
 */
export async function allocatePorts(
  need: RouteKey[],
  service: string,
  range: { low: number; high: number },
  taken: ReadonlySet<number>,
  probe: PortProbe = probeHostPort,
): Promise<PortAssignment[]> {
  const out: PortAssignment[] = [];
  const candidates = candidatePorts(range, taken);
  for (const r of need) {
    let port: number | undefined;
    // next() rather than for-of: breaking out of for-of would close the generator.
    for (let c = candidates.next(); !c.done; c = candidates.next()) {
      if (await probe(c.value)) {
        port = c.value;
        break;
      }
    }
    if (port === undefined) {
      throw new Error(`no free host port left in ${range.low}-${range.high}`);
    }
    out.push({ hostPort: port, service, component: r.component, route: r.route });
  }
  return out;
}
