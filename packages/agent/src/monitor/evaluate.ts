import { compareService } from "../deploy/drift.ts";
import { LABEL_COMPONENT, LABEL_SERVICE, LABEL_VERSION } from "../deploy/plan.ts";
import type { ContainerInfo } from "../runtime/runtime.ts";
import { containerName, imageTag } from "../spec.ts";
import type { EventLevel, NewEvent, StoredService } from "../store/store.ts";

/**
 * The monitor's pure core: desired state (the registry) against one `podman ps`, with the
 * memory of earlier cycles passed in and handed back. No I/O and no clock of its own, so
 * cooldown, flapping and retention are tested with plain numbers.
 */

export interface EvaluateConfig {
  nodeName: string;
  cooldownMs: number;
  flapThreshold: number;
  flapWindowMs: number;
  retentionMs: number;
}

/** What the evaluator needs of a stored service (a `StoredService` fits). */
export type MonitoredService = Pick<StoredService, "name" | "active" | "components">;

export type AlertKind = "change" | "flapping" | "recovered";

export interface Alert {
  kind: AlertKind;
  node: string;
  service: string;
  component: string;
  from: string;
  to: string;
  /** ISO 8601. */
  time: string;
  message: string;
}

/** One component of a service, or one unmanaged container, as last seen. */
export interface ComponentState {
  key: string;
  service: string;
  component: string;
  container: string;
  /**
   * What was seen, in a few words: `running`, `unhealthy`, `exited(137)`, `created`,
   * `missing`, `version v1.0.1` (another tag than desired), `image <ref>` (another image),
   * `unmanaged`, `gone` (an unmanaged container went away).
   */
  state: string;
  /** Whether `state` is what the desired state asks for. */
  ok: boolean;
  message: string;
  unmanaged: boolean;
  /** When `state` last changed (ms). */
  since: number;
  /** Times of the latest changes within the flap window, at most `flapThreshold` of them. */
  changes: readonly number[];
  flapping: boolean;
  restartCount: number;
  /**
   * The container's id and start time (ms) as last seen. Podman 4's `ps` carries no restart
   * count, so a restart by the restart policy shows as the same container started later.
   */
  containerId?: string | undefined;
  startedAt?: number | undefined;
  /** A transient Podman state seen last cycle and not yet taken as the state. */
  transient: string | undefined;
  /** The state the operator was last told about (baseline: the first ok state). */
  alerted: { state: string; ok: boolean } | undefined;
  lastAlertAt: number | undefined;
}

export interface Transition {
  key: string;
  service: string;
  component: string;
  from: string;
  to: string;
  ok: boolean;
  message: string;
}

export interface Evaluation {
  states: Map<string, ComponentState>;
  transitions: Transition[];
  /** Registry events for this cycle (written in one transaction). */
  events: NewEvent[];
  alerts: Alert[];
  /** Keys that started flapping in this cycle. */
  flapping: string[];
  /** Events older than this are past retention. */
  pruneBefore: Date;
}

export type PreviousStates = ReadonlyMap<string, ComponentState>;

const UNMANAGED_PREFIX = "unmanaged:";
// Podman passes through these on its way between settled states (`stopped` comes before
// `exited` once the container is cleaned up; `initialized` before `running`).
const TRANSIENT = new Set(["stopping", "stopped", "removing", "initialized"]);

function componentKey(service: string, component: string): string {
  return `${service}/${component}`;
}

/** `docker.io/library/x` and `localhost/x` name the same image as `x` does. */
export function normalizeImage(ref: string): string {
  for (const prefix of ["docker.io/library/", "docker.io/", "localhost/"]) {
    if (ref.startsWith(prefix)) return ref.slice(prefix.length);
  }
  return ref;
}

function repository(ref: string): string {
  const at = ref.indexOf("@");
  const r = at >= 0 ? ref.slice(0, at) : ref;
  const slash = r.lastIndexOf("/");
  const colon = r.lastIndexOf(":");
  return colon > slash ? r.slice(0, colon) : r;
}

/**
 * Splits `<service>-<component>` against the known service names, longest first, so that
 * `mc-proxy-api` is component `api` of `mc-proxy`, not `proxy-api` of `mc`. `known` must be
 * sorted longest first.
 */
export function splitContainerName(
  name: string,
  known: readonly string[],
): { service: string; component: string } | undefined {
  for (const service of known) {
    if (name.length > service.length + 1 && name.startsWith(`${service}-`)) {
      const component = name.slice(service.length + 1);
      if (/^[a-z][a-z0-9-]{0,62}$/.test(component)) return { service, component };
    }
  }
  return undefined;
}

/**
 * The health check's verdict: the runtime's when it has one, else the end of Podman's
 * status text (`Up 2 minutes (unhealthy)`), which `podman ps` carries and its JSON fields
 * do not.
 */
export function healthOf(c: Pick<ContainerInfo, "health" | "status">): string {
  if (c.health) return c.health;
  return /\((healthy|unhealthy|starting)\)\s*$/.exec(c.status)?.[1] ?? "";
}

/** The observed state of one desired component, in the words of `ComponentState.state`. */
function observe(
  active: boolean,
  desiredImage: string,
  desiredVersion: string,
  c: ContainerInfo | undefined,
): { state: string; ok: boolean } {
  if (!c) return { state: "missing", ok: !active };
  if (c.state === "running") {
    if (!active) return { state: "running", ok: false };
    const observedImage = normalizeImage(c.image);
    const wantImage = normalizeImage(desiredImage);
    if (observedImage !== wantImage) {
      if (repository(observedImage) === repository(wantImage)) {
        return { state: `version ${imageTag(observedImage) || "untagged"}`, ok: false };
      }
      return { state: `image ${c.image}`, ok: false };
    }
    const labelled = c.labels[LABEL_VERSION];
    if (labelled !== undefined && labelled !== desiredVersion) {
      return { state: `version ${labelled}`, ok: false };
    }
    if (healthOf(c) === "unhealthy") return { state: "unhealthy", ok: false };
    return { state: "running", ok: true };
  }
  if (c.state === "exited") {
    return { state: `exited(${c.exitCode ?? "?"})`, ok: !active };
  }
  // created, stopped, paused, stopping, removing, dead, unknown …
  return { state: c.state || "unknown", ok: !active };
}

function looksManaged(c: ContainerInfo): boolean {
  for (const k in c.labels) if (k.startsWith("mcp.")) return true;
  return false;
}

interface Observation {
  key: string;
  service: string;
  component: string;
  container: string;
  state: string;
  ok: boolean;
  message: string;
  unmanaged: boolean;
  restartCount: number;
  containerId?: string | undefined;
  startedAt?: number | undefined;
}

/**
 * Restarts between two sightings: the runtime's count when it has one, else one when the
 * same container (same id) has started since, in the same state. A new id is a
 * replacement (a deploy), not a restart. Pure.
 */
export function restartsSince(
  prev: Pick<ComponentState, "restartCount" | "containerId" | "startedAt" | "state"> | undefined,
  o: Pick<Observation, "restartCount" | "containerId" | "startedAt" | "state">,
): number {
  if (!prev) return 0;
  if (o.restartCount > prev.restartCount) return o.restartCount - prev.restartCount;
  const restarted =
    o.restartCount === 0 &&
    prev.state === o.state &&
    o.containerId !== undefined &&
    o.containerId === prev.containerId &&
    o.startedAt !== undefined &&
    prev.startedAt !== undefined &&
    o.startedAt > prev.startedAt;
  return restarted ? 1 : 0;
}

/** Every component of every desired service, and every unmanaged MCP-looking container. */
export function observeAll(
  desired: readonly MonitoredService[],
  observed: readonly ContainerInfo[],
  skip: ReadonlySet<string> = new Set(),
): Observation[] {
  const byName = new Map<string, ContainerInfo>();
  for (const c of observed) byName.set(c.name, c);
  const desiredNames = new Set<string>();
  const out: Observation[] = [];
  for (const s of desired) {
    const mine: ContainerInfo[] = [];
    for (const comp of s.components) {
      const name = containerName(s.name, comp.name);
      desiredNames.add(name);
      const c = byName.get(name);
      if (c) mine.push(c);
    }
    if (skip.has(s.name)) continue;
    // The drift reasons come from the same comparison `mcp status` shows.
    const cmp = compareService(s as StoredService, mine);
    s.components.forEach((comp, i) => {
      const name = containerName(s.name, comp.name);
      const c = cmp.components[i]?.container;
      const { state, ok } = observe(s.active, comp.image, comp.version || imageTag(comp.image), c);
      out.push({
        key: componentKey(s.name, comp.name),
        service: s.name,
        component: comp.name,
        container: name,
        state,
        ok,
        message: cmp.components[i]?.reasons.join("; ") || (ok ? "as desired" : state),
        unmanaged: false,
        restartCount: c?.restartCount ?? 0,
        containerId: c?.id,
        startedAt: c?.startedAt?.getTime(),
      });
    });
  }
  const known = desired.map((s) => s.name).sort((a, b) => b.length - a.length);
  for (const c of observed) {
    if (desiredNames.has(c.name)) continue;
    // `<name>_prev` and `<name>_next` are the engine's own: the previous version during an
    // in-place replacement, the new one during a replacement through the proxy.
    if (/_(prev|next)$/.test(c.name) && desiredNames.has(c.name.slice(0, -5))) continue;
    const split = splitContainerName(c.name, known);
    if (!split && !looksManaged(c)) continue;
    const service = c.labels[LABEL_SERVICE] ?? split?.service ?? "";
    if (skip.has(service)) continue;
    out.push({
      key: `${UNMANAGED_PREFIX}${c.name}`,
      service,
      component: c.labels[LABEL_COMPONENT] ?? split?.component ?? "",
      container: c.name,
      state: "unmanaged",
      ok: false,
      message: `${c.name} (${c.state}, ${c.image}) looks like an MCP container but no definition manages it`,
      unmanaged: true,
      restartCount: c.restartCount,
    });
  }
  return out;
}

function levelOf(state: string, ok: boolean): EventLevel {
  if (ok) return "info";
  if (state === "missing" || /^exited\((?!0\))/.test(state)) return "error";
  return "warning";
}

/**
 * One monitor cycle's decisions. `previous` is not changed; the returned `states` replace
 * it. Components of services in `busy` (a deploy holds their lock) keep their previous
 * state: what a deploy does half-way is not drift.
 */
export function evaluate(
  desired: readonly MonitoredService[],
  observed: readonly ContainerInfo[],
  previous: PreviousStates,
  now: number,
  config: EvaluateConfig,
  busy: ReadonlySet<string> = new Set(),
): Evaluation {
  const states = new Map<string, ComponentState>();
  const transitions: Transition[] = [];
  const events: NewEvent[] = [];
  const alerts: Alert[] = [];
  const flapping: string[] = [];
  const time = new Date(now).toISOString();
  const alert = (kind: AlertKind, s: ComponentState, from: string, message: string) => {
    alerts.push({
      kind,
      node: config.nodeName,
      service: s.service,
      component: s.component,
      from,
      to: s.state,
      time,
      message,
    });
  };

  const step = (seen: Observation) => {
    const prev = previous.get(seen.key);
    // A container caught half-way (Podman's `stopping`) is not a settled state: counting
    // it would make every stop two changes, and flapping out of nothing. It counts when a
    // second cycle in a row still sees it.
    const held = prev !== undefined && TRANSIENT.has(seen.state) && prev.transient !== seen.state;
    const o = held ? { ...seen, state: prev.state, ok: prev.ok, message: prev.message } : seen;
    const changed = prev !== undefined && prev.state !== o.state;
    const restarts = restartsSince(prev, o);
    const fresh = (t: number) => now - t < config.flapWindowMs;
    let changes = prev ? prev.changes.filter(fresh) : [];
    const bumps = (changed ? 1 : 0) + Math.min(restarts, config.flapThreshold);
    if (bumps > 0) {
      changes = [...changes, ...Array.from({ length: bumps }, () => now)].slice(
        -config.flapThreshold,
      );
    }
    const s: ComponentState = {
      key: o.key,
      service: o.service,
      component: o.component,
      container: o.container,
      state: o.state,
      ok: o.ok,
      message: o.message,
      unmanaged: o.unmanaged,
      since: !prev || changed || restarts > 0 ? now : prev.since,
      changes,
      flapping: prev?.flapping ?? false,
      restartCount: o.restartCount,
      containerId: o.containerId,
      startedAt: o.startedAt,
      transient: held ? seen.state : undefined,
      // A component first seen as desired is the baseline; one first seen wrong is news.
      alerted: prev ? prev.alerted : o.ok ? { state: o.state, ok: true } : undefined,
      lastAlertAt: prev?.lastAlertAt,
    };
    states.set(o.key, s);

    if (!prev ? !o.ok : changed) {
      const t: Transition = {
        key: o.key,
        service: o.service,
        component: o.component,
        from: prev?.state ?? "",
        to: o.state,
        ok: o.ok,
        message: o.message,
      };
      transitions.push(t);
      events.push({
        service: o.service,
        component: o.component,
        kind: o.ok ? "recovered" : o.unmanaged ? "unmanaged" : "drift",
        level: levelOf(o.state, o.ok),
        from: t.from,
        to: t.to,
        message: o.message,
      });
    }
    if (restarts > 0) {
      events.push({
        service: o.service,
        component: o.component,
        kind: "restarted",
        level: "warning",
        from: prev?.state ?? "",
        to: o.state,
        message: `${o.container} restarted ${restarts} time(s) by its restart policy`,
      });
    }

    if (!s.flapping && changes.length >= config.flapThreshold) {
      s.flapping = true;
      flapping.push(o.key);
      const message = `${o.container} changed state ${changes.length} times within ${config.flapWindowMs / 1000}s; alerts paused until it is stable`;
      events.push({
        service: o.service,
        component: o.component,
        kind: "flapping",
        level: "warning",
        from: prev?.state ?? "",
        to: o.state,
        message,
      });
      alert("flapping", s, prev?.state ?? "", message);
      s.alerted = { state: o.state, ok: o.ok };
      s.lastAlertAt = now;
      return;
    }
    if (s.flapping) {
      if (now - s.since < config.flapWindowMs) return;
      s.flapping = false;
      s.changes = [];
      events.push({
        service: o.service,
        component: o.component,
        kind: "stable",
        level: "info",
        from: "flapping",
        to: o.state,
        message: `${o.container} stable again (${o.state})`,
      });
    }

    // Alert when what the operator was last told differs from now (all ok states are one),
    // at most once per cooldown; a change hidden by the cooldown is told when it ends.
    const told = s.alerted;
    const differs =
      told === undefined ? !s.ok : told.ok !== s.ok || (!s.ok && told.state !== s.state);
    if (!differs) return;
    if (s.lastAlertAt !== undefined && now - s.lastAlertAt < config.cooldownMs) return;
    alert(s.ok ? "recovered" : "change", s, told?.state ?? "", o.message);
    s.alerted = { state: s.state, ok: s.ok };
    s.lastAlertAt = now;
  };

  const seen = new Set<string>();
  for (const o of observeAll(desired, observed, busy)) {
    seen.add(o.key);
    step(o);
  }
  for (const [key, prev] of previous) {
    if (seen.has(key)) continue;
    if (busy.has(prev.service)) {
      // What the operation does to the container (a restart, a replacement) is its own, not
      // a restart by the policy: the kept state takes the container as it is now.
      const c = observed.find((x) => x.name === prev.container);
      states.set(key, { ...prev, containerId: c?.id, startedAt: c?.startedAt?.getTime() });
      continue;
    }
    // An unmanaged container that went away is news once; removed services and components
    // are forgotten (their undeploy has its own event), so memory stays bounded.
    if (prev.unmanaged) {
      step({
        key,
        service: prev.service,
        component: prev.component,
        container: prev.container,
        state: "gone",
        ok: true,
        message: `${prev.container} was removed`,
        unmanaged: true,
        restartCount: prev.restartCount,
      });
      states.delete(key);
    }
  }
  return {
    states,
    transitions,
    events,
    alerts,
    flapping,
    pruneBefore: new Date(now - config.retentionMs),
  };
}

/** Retention pruning runs each cycle when retention is short, else at most hourly. */
export function pruneDue(
  lastPruneAt: number | undefined,
  now: number,
  retentionMs: number,
): boolean {
  if (lastPruneAt === undefined) return true;
  return now - lastPruneAt >= Math.min(3_600_000, retentionMs);
}
