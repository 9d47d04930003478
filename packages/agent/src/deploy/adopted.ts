import type { ContainerSettings } from "../runtime/inspect.ts";
import type { ContainerInfo, PortPublish } from "../runtime/runtime.ts";
import type { ComponentDef } from "../spec.ts";
import type { PortAssignment } from "../store/store.ts";
import { LABEL_SPEC_HASH } from "./plan.ts";

/**
 * Podman cannot add a label to an existing container, so an adopted container that MCP keeps
 * never carries the spec-hash label. The store remembers which container was kept and the
 * hash its definition had then, in the component's spec-hash column: `adopted:<id>:<hash>`.
 * A later deploy compares against that hash for that container id; a different container of
 * the same name (recreated by hand) is not covered by it.
 */
const ADOPTED_PREFIX = "adopted:";

export function adoptedSpecHash(containerId: string, hash: string): string {
  return `${ADOPTED_PREFIX}${containerId}:${hash}`;
}

/** A stored component spec hash: the hash, and the kept adopted container's id if any. */
export function parseStoredHash(stored: string): { hash: string; adoptedId?: string } {
  if (!stored.startsWith(ADOPTED_PREFIX)) return { hash: stored };
  const rest = stored.slice(ADOPTED_PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon <= 0) return { hash: stored };
  return { adoptedId: rest.slice(0, colon), hash: rest.slice(colon + 1) };
}

/**
 * The spec hash a container stands for: its label, or for a kept adopted container (no
 * label, the id the store recorded) the stored hash. Pure.
 */
export function observedSpecHash(
  container: ContainerInfo,
  stored: string | undefined,
): string | undefined {
  const label = container.labels[LABEL_SPEC_HASH];
  if (label !== undefined) return label;
  if (stored === undefined) return undefined;
  const p = parseStoredHash(stored);
  return p.adoptedId !== undefined && p.adoptedId === container.id ? p.hash : undefined;
}

export type AdoptedMatch = { ok: true; ports: PortAssignment[] } | { ok: false; reasons: string[] };

/** `KEY=VALUE` strings → a record; the last of a repeated key wins, as with `podman -e`. */
function envRecord(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of env ?? []) {
    const eq = item.indexOf("=");
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

const isPortVar = (k: string) => k === "PORT" || k.startsWith("PORT_");

function sameList(a: string[] | undefined, b: string[] | undefined): boolean {
  const x = [...(a ?? [])].sort();
  const y = [...(b ?? [])].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Whether a container MCP did not create (adopted) already runs as `component` says, so the
 * first deploy after adopt can keep it instead of replacing it. Pure.
 *
 * Compared: image (exactly), command (when the definition sets one: without it the image's
 * default runs, which inspect cannot tell from an explicit command, so any command is
 * accepted), environment without `PORT`/`PORT_<NAME>` (the agent sets those; Podman's own
 * variables are already gone from `settings`), bind-mount volumes, network, user and restart
 * policy (absent = Podman's default on both sides).
 *
 * Ports: an adopted container serves on a port it chose, published by hand. Each route is
 * satisfied by one TCP publication whose container port is the route's `port` (what
 * `mcp service export` proposes); its host port becomes the route's host-port assignment,
 * the mc-proxy backend. Every publication must be claimed by a route (one no route claims
 * would be lost when the container is recreated), and the container gets no `$PORT`.
 */
export function matchAdopted(
  service: string,
  component: ComponentDef,
  container: { image: string; ports: PortPublish[] },
  settings: ContainerSettings,
): AdoptedMatch {
  const reasons: string[] = [];
  if (container.image !== component.image) {
    reasons.push(`image ${container.image} runs, ${component.image} defined`);
  }
  if (component.cmd && component.cmd.length > 0 && !sameOrder(component.cmd, settings.cmd)) {
    reasons.push("command differs");
  }
  const want = envRecord(component.env);
  const wantEnv = Object.entries(want)
    .filter(([k]) => !isPortVar(k))
    .map(([k, v]) => `${k}=${v}`);
  const haveEnv = (settings.env ?? []).filter((e) => !isPortVar(e.slice(0, e.indexOf("="))));
  if (!sameList(wantEnv, haveEnv)) reasons.push("environment differs");
  if (!sameList(component.volumes, settings.volumes)) reasons.push("volumes differ");
  if ((component.network ?? "") !== (settings.network ?? "")) reasons.push("network differs");
  if ((component.user ?? "") !== (settings.user ?? "")) reasons.push("user differs");
  if ((component.restart ?? "") !== (settings.restart ?? "")) {
    reasons.push("restart policy differs");
  }
  const unclaimed = [...container.ports];
  const ports: PortAssignment[] = [];
  for (const r of component.routes ?? []) {
    const i = unclaimed.findIndex((p) => p.protocol === "tcp" && p.containerPort === r.port);
    const p = unclaimed[i];
    if (!p) {
      reasons.push(`route ${r.name ?? r.port}: no published container port ${r.port}`);
      continue;
    }
    unclaimed.splice(i, 1);
    ports.push({ service, component: component.name, route: r.name ?? "", hostPort: p.hostPort });
  }
  for (const p of unclaimed) {
    reasons.push(`host port ${p.hostPort} (container ${p.containerPort}) is not a route`);
  }
  return reasons.length === 0 ? { ok: true, ports } : { ok: false, reasons };
}

function sameOrder(a: string[], b: string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
}
