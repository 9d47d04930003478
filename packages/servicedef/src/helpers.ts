import type { Component, HealthCheck, Route } from "./types.ts";

/** Names of services, nodes, components and routes. They become container names, paths and hostnames. */
export const DNS_LABEL = /^[a-z][a-z0-9-]{0,62}$/;

export const DEFAULT_ZONE = "svc.mcp.metacircular.net";

/** `<service>.svc.mcp.metacircular.net`, or `<service>.<zone>`. */
export function defaultHostname(service: string, zone: string = DEFAULT_ZONE): string {
  return `${service}.${zone.replace(/^\.+|\.+$/g, "")}`;
}

/** `PORT` for an unnamed route, `PORT_<NAME>` for a named one (`-` becomes `_`). */
export function portEnvName(route: Pick<Route, "name">): string {
  return route.name ? `PORT_${route.name.toUpperCase().replaceAll("-", "_")}` : "PORT";
}

const DURATION = /^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds of a duration like "500ms", "10s", "1m30s"; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(DURATION_PART)) {
    ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return ms;
}

export const HEALTH_DEFAULTS = {
  interval: "10s",
  timeout: "2s",
  retries: 3,
  start_period: "0s",
} as const;

export const DEFAULT_DRAIN = "5s";

export interface EffectiveHealthCheck {
  check: HealthCheck;
  /** Routes whose host ports an `http` or `tcp` check probes; empty for `command`. */
  routes: Route[];
}

/**
 * The health check the agent runs for a component: the declared one, or by default a TCP
 * connect to each route's port. Undefined when there is nothing to probe (no check and no
 * routes): then only "the container is running" counts.
 */
export function effectiveHealthCheck(
  component: Pick<Component, "health" | "routes">,
): EffectiveHealthCheck | undefined {
  const routes = component.routes ?? [];
  const check = component.health;
  if (!check) {
    if (routes.length === 0) return undefined;
    return { check: { type: "tcp", ...HEALTH_DEFAULTS }, routes };
  }
  if (check.type === "command") return { check, routes: [] };
  const named =
    check.route === undefined ? undefined : routes.filter((r) => r.name === check.route);
  if (named) return { check, routes: named };
  return { check, routes: check.type === "http" ? routes.slice(0, 1) : routes };
}

export interface ContainerNameSplit {
  service: string;
  component: string;
}

export interface SplitResult {
  /** The longest known service that the name starts with; undefined when none does. */
  match: ContainerNameSplit | undefined;
  /** Every known service the name could belong to, longest first; more than one is ambiguous. */
  candidates: ContainerNameSplit[];
}

/**
 * Splits a container name `<service>-<component>` against known service names, longest
 * service first, so `mc-proxy` is the service mc-proxy rather than mc + proxy. A name equal
 * to a service is that service's component of the same name.
 */
export function splitContainerName(name: string, knownServices: Iterable<string>): SplitResult {
  const candidates: ContainerNameSplit[] = [];
  for (const service of new Set(knownServices)) {
    if (name === service) candidates.push({ service, component: service });
    else if (name.startsWith(`${service}-`) && name.length > service.length + 1) {
      candidates.push({ service, component: name.slice(service.length + 1) });
    }
  }
  candidates.sort(
    (a, b) => b.service.length - a.service.length || (a.service < b.service ? -1 : 1),
  );
  return { match: candidates[0], candidates };
}
