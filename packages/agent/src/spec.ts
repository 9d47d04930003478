import { createHash } from "node:crypto";

// The service definition as the agent stores and deploys it: servicedef's ServiceDef
// (defaults applied). Mirrored here as the agent's port; @mcp/servicedef's parse/validate
// produce values of this shape.

export interface RouteDef {
  name?: string | undefined;
  port: number;
  mode: "l4" | "l7";
  hostname?: string | undefined;
}

export interface ComponentDef {
  name: string;
  image: string;
  volumes?: string[] | undefined;
  cmd?: string[] | undefined;
  env?: string[] | undefined;
  network?: string | undefined;
  user?: string | undefined;
  restart?: string | undefined;
  drain?: string | undefined;
  health?: unknown;
  routes?: RouteDef[] | undefined;
}

export interface ServiceDef {
  name: string;
  node: string;
  active: boolean;
  path: string;
  build?: { images?: Record<string, string> | undefined } | undefined;
  components?: ComponentDef[] | undefined;
}

export interface SpecDiagnostic {
  code: string;
  rule: string;
  severity: "error" | "warning";
  message: string;
  path: string;
  line: number;
  column: number;
}

/** Names of services, components and routes: DNS labels (they become paths and hostnames). */
export const DNS_LABEL = /^[a-z][a-z0-9-]{0,62}$/;

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** `$PORT` for a single unnamed route, `$PORT_<NAME>` for named ones. */
export function portEnvName(route: { name?: string | undefined }): string {
  return route.name ? `PORT_${route.name.toUpperCase().replace(/-/g, "_")}` : "PORT";
}

export function containerName(service: string, component: string): string {
  return `${service}-${component}`;
}

/** The image tag, shown as the version (`mcr…/svc:v1.2.0` → `v1.2.0`). */
export function imageTag(image: string): string {
  const at = image.indexOf("@");
  const ref = at >= 0 ? image.slice(0, at) : image;
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  return colon > slash ? ref.slice(colon + 1) : "";
}

/** The service's version: the first component's tag. */
export function serviceVersion(def: ServiceDef): string {
  const first = def.components?.[0];
  return first ? imageTag(first.image) : "";
}

/** JSON with object keys sorted, so equal values always hash equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([, x]) => x !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

export function hashOf(value: unknown): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex").slice(0, 16);
}
