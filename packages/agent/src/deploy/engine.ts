import { randomUUID } from "node:crypto";
import { parseDuration } from "@mcp/servicedef";
import {
  errorLine,
  isAgentError,
  NotFoundError,
  PreconditionError,
  StepFailedError,
} from "../errors.ts";
import { HealthChecker } from "../health/checker.ts";
import { healthDeadlineMs, healthPolicy } from "../health/decide.ts";
import { type Clock, systemClock, waitHealthy } from "../health/wait.ts";
import type { ObservedState } from "../observed.ts";
import type { Platform, RouteRegistration } from "../platform.ts";
import { canInspect } from "../runtime/inspect.ts";
import type { ContainerInfo, ContainerRuntime, CreateContainerSpec } from "../runtime/runtime.ts";
import { l7Hostnames, routeRegistrations } from "../service-routes.ts";
import {
  type ComponentDef,
  containerName,
  hashOf,
  imageTag,
  type ServiceDef,
  serviceVersion,
} from "../spec.ts";
import type { PortAssignment, Store, StoredService } from "../store/store.ts";
import { adoptedSpecHash, matchAdopted, observedSpecHash } from "./adopted.ts";
import { operationKind, parseOperationKind } from "./journal.ts";
import { KeyedLock } from "./lock.ts";
import {
  type ContainerAction,
  containerSpecFor,
  LABEL_SERVICE,
  LABEL_SPEC_HASH,
  planContainers,
  routeKeys,
} from "./plan.ts";
import { allocatePorts, diffPorts, type PortProbe, probeHostPort } from "./ports.ts";
import {
  done,
  type Emit,
  NOT_CONFIGURED,
  runSteps,
  type Step,
  type StepEvent,
  skipped,
  unchanged,
} from "./steps.ts";

export interface EngineOptions {
  nodeName: string;
  /** Node address used as route backend. */
  address: string;
  zone: string;
  certsDir: string;
  /** Route port → mc-proxy listener; default ":<port>". */
  listeners: Record<string, string>;
  portRange: { low: number; high: number };
  historyKeep: number;
  /** Seconds Podman waits for a container to stop before killing it. */
  stopTimeoutSeconds: number;
  /** Replaces every component's `drain` (tests shorten it); undefined: the definition's. */
  drainMs?: number | undefined;
  /** Added to start_period + retries × interval when waiting for a new container. */
  healthMarginMs?: number | undefined;
  /** How often a new container is probed while the deploy waits for it. */
  healthPollMs?: number | undefined;
}

export interface EngineDeps {
  store: Store;
  runtime: ContainerRuntime;
  observed: ObservedState;
  platform: Platform;
  options: EngineOptions;
  probe?: PortProbe;
  /** Warnings that do not fail an operation (a leftover container that would not go). */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Health verdicts shared with the monitor and ObservedState; one is made when absent. */
  health?: HealthChecker;
  /** Time for health waits and drains (tests use a fake one). */
  clock?: Clock;
}

export interface OperationResult {
  service: string;
  version: string;
  changed: boolean;
  /** Route name (or component name for an unnamed route) → host port. */
  ports: Record<string, number>;
}

const PREV_SUFFIX = "_prev";

const NEXT_SUFFIX = "_next";

/**
 * The new container of a zero-downtime replacement until it takes the canonical name; `_`
 * cannot occur in a service or component name, so it never collides with one.
 */
export function nextName(name: string): string {
  return `${name}${NEXT_SUFFIX}`;
}

/** A replaced container that keeps serving until the drain is over. */
interface Retirement {
  component: string;
  old: string;
  next: string;
  drainMs: number;
}

/** The container that keeps the previous version during a replacement. */
export function previousName(name: string): string {
  // `_` cannot occur in a service or component name, so this never collides with one.
  return `${name}${PREV_SUFFIX}`;
}

/**
 * Podman refused a container name another container holds. Recognised by its code, so the
 * engine needs no Podman client loaded (the unit tests' fake runtime sets the same code).
 */
export function isNameInUse(e: unknown): boolean {
  return hasCode(e, "name-in-use");
}

function hasCode(e: unknown, code: string): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}

/** What a container started ahead of the plan came to (see the deploy's store-spec). */
type EarlyRun = { ok: true; id: string } | { ok: false; error: unknown };

function portsRecord(ports: PortAssignment[]): Record<string, number> {
  return Object.fromEntries(ports.map((p) => [p.route || p.component, p.hostPort]));
}

/**
 * The deploy engine: deploy, stop, start, restart and undeploy as sequences of small steps
 * with compensation, serialized per service.
 */
export class Engine {
  readonly #lock = new KeyedLock();
  // Port allocation reads every assignment, probes the host, then writes: deploys of
  // different services run concurrently, so that sequence is serialized node-wide.
  readonly #portLock = new KeyedLock();
  // Fresh ports of replacements in flight: not in the registry until the switch (the
  // registry holds one port per route), but no other deploy may take them meanwhile.
  readonly #reserved = new Set<number>();
  readonly #deps: EngineDeps;
  readonly #health: HealthChecker;
  readonly #clock: Clock;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#health = deps.health ?? new HealthChecker({ runtime: deps.runtime });
    this.#clock = deps.clock ?? systemClock;
  }

  /** The health verdicts (for ObservedState and the monitor). */
  get health(): HealthChecker {
    return this.#health;
  }

  get lock(): KeyedLock {
    return this.#lock;
  }

  // --- shared pieces --------------------------------------------------------------------

  async #journaled<T>(
    service: string,
    kind: string,
    emit: Emit,
    body: (emit: Emit, onStep: (s: Step) => void) => Promise<T>,
  ): Promise<T> {
    const { store } = this.#deps;
    const id = randomUUID();
    store.beginOperation({ id, service, kind });
    try {
      const result = await body(emit, (s) => store.updateOperation(id, s.name));
      store.finishOperation(id, "succeeded");
      return result;
    } catch (e) {
      const rolledBack = e instanceof StepFailedError;
      store.transaction(() => {
        store.finishOperation(id, rolledBack ? "rolled_back" : "failed", errorLine(e));
        store.addEvent({
          service,
          kind: `${parseOperationKind(kind).kind}-failed`,
          level: "error",
          message: errorLine(e),
        });
      });
      throw e;
    } finally {
      this.#deps.observed.invalidate();
    }
  }

  #routeRegistrations(def: ServiceDef, ports: PortAssignment[]): RouteRegistration[] {
    return routeRegistrations(def, ports, this.#deps.options).map(
      ({ component: _c, routeName: _r, ...reg }) => reg,
    );
  }

  #hasRoutes(def: ServiceDef): boolean {
    return (def.components ?? []).some((c) => (c.routes ?? []).length > 0);
  }

  #routeSteps(def: ServiceDef, ports: () => PortAssignment[]): Step[] {
    const { platform } = this.#deps;
    const steps: Step[] = [];
    const added: RouteRegistration[] = [];
    steps.push({
      name: "register-routes",
      do: async () => {
        if (!this.#hasRoutes(def)) return skipped("no routes");
        if (!platform.routes) return skipped(NOT_CONFIGURED);
        const regs = this.#routeRegistrations(def, ports());
        let changed = 0;
        for (const r of regs) {
          if (await platform.routes.add(r)) {
            changed++;
            added.push(r);
          }
        }
        return changed > 0 ? done(`${changed} route(s)`) : unchanged();
      },
      undo: async () => {
        for (const r of added.reverse()) await platform.routes?.remove(r.listener, r.hostname);
      },
    });
    let registered = false;
    steps.push({
      name: "register-dns",
      do: async () => {
        if (!this.#hasRoutes(def)) return skipped("no routes");
        if (!platform.dns) return skipped(NOT_CONFIGURED);
        registered = await platform.dns.register(def.name);
        return registered ? done(`${def.name}.${this.#deps.options.zone}`) : unchanged();
      },
      undo: async () => {
        if (registered) await platform.dns?.unregister(def.name);
      },
    });
    return steps;
  }

  #unrouteSteps(def: ServiceDef, ports: PortAssignment[]): Step[] {
    const { platform } = this.#deps;
    return [
      {
        name: "remove-dns",
        do: async () => {
          if (!this.#hasRoutes(def)) return skipped("no routes");
          if (!platform.dns) return skipped(NOT_CONFIGURED);
          await platform.dns.unregister(def.name);
          return done();
        },
        undo: async () => {
          await platform.dns?.register(def.name);
        },
      },
      {
        name: "remove-routes",
        do: async () => {
          if (!this.#hasRoutes(def)) return skipped("no routes");
          if (!platform.routes) return skipped(NOT_CONFIGURED);
          for (const r of this.#routeRegistrations(def, ports)) {
            await platform.routes.remove(r.listener, r.hostname);
          }
          return done();
        },
        undo: async () => {
          const regs = this.#routeRegistrations(def, ports);
          for (const r of regs) await platform.routes?.add(r);
        },
      },
    ];
  }

  /**
   * Create and start in one Podman call (`podman run -d`): each call costs Podman's start-up.
   * A run that fails at start leaves the created container behind; it is removed here so
   * that the step has nothing to undo.
   */
  async #run(spec: CreateContainerSpec): Promise<string> {
    const { runtime, options } = this.#deps;
    try {
      return await runtime.run(spec);
    } catch (e) {
      // The name belongs to a container this call did not make: it is not ours to remove.
      if (isNameInUse(e)) throw e;
      await runtime
        .remove(spec.name, { force: true, timeoutSeconds: options.stopTimeoutSeconds })
        .catch(() => undefined);
      throw e;
    }
  }

  /** The container step of a container the deploy started early: done, undone by removal. */
  #startedStep(spec: CreateContainerSpec): Step {
    const { runtime, options } = this.#deps;
    return {
      name: "create",
      do: async () => done(`${spec.name} (${imageTag(spec.image)})`),
      undo: async () => {
        await runtime.remove(spec.name, {
          force: true,
          timeoutSeconds: options.stopTimeoutSeconds,
        });
      },
    };
  }

  #containerStep(action: ContainerAction): Step {
    const { runtime, options } = this.#deps;
    const stopOpts = { timeoutSeconds: options.stopTimeoutSeconds };
    switch (action.kind) {
      case "create": {
        let created = false;
        return {
          name: "create",
          component: action.component,
          do: async () => {
            await this.#run(action.spec);
            created = true;
            return done(`${action.spec.name} (${imageTag(action.spec.image)})`);
          },
          undo: async () => {
            if (created)
              await runtime.remove(action.spec.name, {
                force: true,
                timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
              });
          },
        };
      }
      case "replace": {
        const name = action.spec.name;
        const prev = previousName(name);
        const wasRunning = action.current.state === "running";
        let renamed = false;
        let created = false;
        return {
          name: "replace",
          component: action.component,
          do: async () => {
            if (wasRunning) await runtime.stop(name, stopOpts);
            await runtime.rename(name, prev);
            renamed = true;
            await this.#run(action.spec);
            created = true;
            const from = imageTag(action.current.image);
            const to = imageTag(action.spec.image);
            return done(from === to ? `${name} (${to}, new spec)` : `${name} ${from} → ${to}`);
          },
          undo: async () => {
            if (created)
              await runtime.remove(name, {
                force: true,
                timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
              });
            if (renamed) await runtime.rename(prev, name);
            if (wasRunning) await runtime.start(name);
          },
        };
      }
      case "start": {
        let started = false;
        return {
          name: "start",
          component: action.component,
          do: async () => {
            await runtime.start(action.spec.name);
            started = true;
            return done(action.spec.name);
          },
          undo: async () => {
            if (started) await runtime.stop(action.spec.name, stopOpts);
          },
        };
      }
      case "unchanged":
        return {
          name: "container",
          component: action.component,
          do: async () => unchanged(`${action.spec.name} unchanged`),
        };
      case "remove":
        // Removal of a component that left the definition happens after success (cleanup).
        return {
          name: "container",
          component: action.component,
          do: async () => skipped("removed after the deploy succeeds"),
        };
    }
  }

  /**
   * Turns each planned replacement of a running component with routes into a zero-downtime
   * one: fresh host ports for its routes (reserved, not yet in the registry) and the new
   * container's spec on them. Mutates `actions` and `specs` in place.
   */
  async #planRolling(
    def: ServiceDef,
    actions: ContainerAction[],
    specs: CreateContainerSpec[],
    current: PortAssignment[],
    rolling: Map<string, PortAssignment[]>,
    touched: (component: string) => boolean,
  ): Promise<void> {
    const { store, options } = this.#deps;
    for (const [i, a] of actions.entries()) {
      if (a.kind !== "replace" || a.current.state !== "running" || !touched(a.component)) continue;
      const comp = (def.components ?? []).find((c) => c.name === a.component);
      if (!comp || (comp.routes ?? []).length === 0) continue;
      const keys = routeKeys(def).filter((k) => k.component === a.component);
      const fresh = await this.#portLock.run("ports", async () => {
        const taken = new Set([
          ...store.listPorts().map((p) => p.hostPort),
          ...current.map((p) => p.hostPort),
          ...this.#reserved,
        ]);
        const got = await allocatePorts(
          keys,
          def.name,
          options.portRange,
          taken,
          this.#deps.probe ?? probeHostPort,
        );
        for (const p of got) this.#reserved.add(p.hostPort);
        return got;
      });
      rolling.set(a.component, fresh);
      const spec = containerSpecFor(def.name, comp, [
        ...current.filter((p) => p.component !== a.component),
        ...fresh,
      ]);
      actions[i] = { ...a, spec };
      const j = specs.findIndex((x) => x.name === spec.name);
      if (j >= 0) specs[j] = spec;
    }
  }

  /**
   * Zero-downtime replacement of one component: the new container starts beside the old one
   * on fresh ports, must pass its health check, then takes over the registry's ports and the
   * mc-proxy routes. The old one keeps serving until #retire (after the drain). A new
   * container that never gets healthy is removed; the old one and its routes are untouched.
   */
  #rollingStep(
    def: ServiceDef,
    comp: ComponentDef,
    action: Extract<ContainerAction, { kind: "replace" }>,
    fresh: PortAssignment[],
    ports: () => PortAssignment[],
    swapped: Map<string, PortAssignment[]>,
    retirements: Retirement[],
  ): Step {
    const { runtime, store, platform, options } = this.#deps;
    const name = action.spec.name;
    const tmp = nextName(name);
    const force = { force: true, timeoutSeconds: options.stopTimeoutSeconds };
    let created = false;
    let old: PortAssignment[] = [];
    const switched: RouteRegistration[] = [];
    const unreserve = () => {
      for (const p of fresh) this.#reserved.delete(p.hostPort);
    };
    return {
      name: "replace",
      component: comp.name,
      do: async () => {
        const policy = healthPolicy(comp);
        if (!policy) throw new Error(`component ${comp.name} has routes but no health check`);
        // A leftover of an interrupted replacement would hold the temporary name.
        await runtime.remove(tmp, force).catch(() => undefined);
        const id = await runtime.run({ ...action.spec, name: tmp }).catch(async (e: unknown) => {
          await runtime.remove(tmp, force).catch(() => undefined);
          throw e;
        });
        created = true;
        const deadlineMs = healthDeadlineMs(policy, options.healthMarginMs ?? 5000);
        const r = await waitHealthy(
          () =>
            this.#health.probe(policy, {
              container: tmp,
              component: comp.name,
              ports: fresh,
              host: this.#health.host,
            }),
          policy,
          { deadlineMs, pollMs: options.healthPollMs ?? 200, clock: this.#clock },
        );
        if (!r.healthy) {
          await runtime.remove(tmp, force);
          created = false;
          throw new PreconditionError(
            `new container ${tmp} (${imageTag(action.spec.image)}) failed its health check, ${r.reason}; ${name} keeps serving, routes unchanged`,
          );
        }
        this.#health.set(id, r.record);
        // The registry takes the fresh ports (one port per route), the old ones are freed.
        old = ports().filter((p) => p.component === comp.name);
        store.transaction(() => {
          store.releasePorts(
            def.name,
            store.listPorts(def.name).filter((p) => p.component !== comp.name),
          );
          store.assignPorts(fresh);
        });
        swapped.set(comp.name, fresh);
        unreserve();
        if (platform.routes) {
          for (const reg of this.#routeRegistrations(def, fresh)) {
            await platform.routes.add(reg);
            switched.push(reg);
          }
        }
        retirements.push({
          component: comp.name,
          old: name,
          next: tmp,
          drainMs: options.drainMs ?? parseDuration(comp.drain ?? "5s") ?? 5000,
        });
        const from = imageTag(action.current.image);
        const to = imageTag(action.spec.image);
        const backends = fresh.map((p) => p.hostPort).join(",");
        return done(
          `${tmp} ${from === to ? `(${to}, new spec)` : `${from} → ${to}`} healthy in ${(r.elapsedMs / 1000).toFixed(1)}s; routes → :${backends}`,
        );
      },
      undo: async () => {
        const i = retirements.findIndex((x) => x.next === tmp);
        if (i >= 0) retirements.splice(i, 1);
        if (switched.length > 0 && platform.routes) {
          for (const reg of this.#routeRegistrations(def, old)) await platform.routes.add(reg);
        }
        if (swapped.has(comp.name)) {
          store.transaction(() => {
            store.releasePorts(
              def.name,
              store.listPorts(def.name).filter((p) => p.component !== comp.name),
            );
            store.assignPorts(old);
          });
          swapped.delete(comp.name);
        }
        if (created) await runtime.remove(tmp, force);
        unreserve();
      },
    };
  }

  /**
   * After a deploy succeeded: the replaced containers keep serving connections they already
   * have for the drain, then stop, and each new container takes the canonical name (so
   * adoption, logs and status find it).
   */
  async #retire(service: string, list: Retirement[], emit: Emit): Promise<void> {
    if (list.length === 0) return;
    const { runtime, options } = this.#deps;
    const report = (component: string, name: string, status: StepEvent["status"], message = "") =>
      emit({ name, component, service, status, message });
    const drainMs = Math.max(...list.map((r) => r.drainMs));
    report("", "drain", "started");
    await this.#clock.sleep(drainMs);
    report("", "drain", "done", `${drainMs} ms`);
    for (const r of list) {
      report(r.component, "retire", "started");
      try {
        // A stop that fails or times out (a loaded node, a process that ignores SIGTERM)
        // must not leave the new container under its temporary name, where status, logs
        // and adoption would not find it: the forced remove ends the old one regardless.
        try {
          await runtime.stop(r.old, { timeoutSeconds: options.stopTimeoutSeconds });
        } catch (e) {
          this.#deps.warn?.("stopping the replaced container failed; removing it by force", {
            service,
            container: r.old,
            error: errorLine(e),
          });
        }
        await runtime.remove(r.old, { force: true, timeoutSeconds: options.stopTimeoutSeconds });
        await runtime.rename(r.next, r.old);
        report(r.component, "retire", "done", `${r.old} stopped; ${r.next} renamed ${r.old}`);
      } catch (e) {
        this.#deps.warn?.("retiring the replaced container failed", {
          service,
          container: r.old,
          error: errorLine(e),
        });
        report(r.component, "retire", "failed", errorLine(e));
      }
    }
  }

  async #cleanup(service: string, names: string[], emit: Emit): Promise<void> {
    const { runtime } = this.#deps;
    for (const name of names) {
      try {
        await runtime.remove(name, {
          force: true,
          timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
        });
        emit({
          name: "cleanup",
          component: "",
          service,
          status: "done",
          message: `removed ${name}`,
        });
      } catch (e) {
        this.#deps.warn?.("cleanup failed", { service, container: name, error: errorLine(e) });
        emit({
          name: "cleanup",
          component: "",
          service,
          status: "skipped",
          message: `could not remove ${name}: ${errorLine(e)}`,
        });
      }
    }
  }

  #requireService(name: string): StoredService {
    const s = this.#deps.store.getService(name);
    if (!s) throw new NotFoundError(`service "${name}" is not defined on this node`);
    return s;
  }

  // --- operations -----------------------------------------------------------------------

  /**
   * Deploy (or redeploy) a validated definition. Deploying the same definition twice
   * changes nothing the second time: every step reports "unchanged".
   */
  deploy(
    def: ServiceDef,
    sourceToml: string,
    emit: Emit,
    only?: { component?: string | undefined },
  ): Promise<OperationResult> {
    const component = only?.component;
    if (component !== undefined && !(def.components ?? []).some((c) => c.name === component)) {
      return Promise.reject(
        new NotFoundError(`service "${def.name}" has no component "${component}"`),
      );
    }
    // With `component`, only that component's image and container are touched; the others
    // keep running as they are (and show drift until they are deployed too).
    const touched = (name: string) => component === undefined || name === component;
    return this.#lock.run(def.name, () =>
      this.#journaled(def.name, "deploy", emit, async (emit, onStep) => {
        if (!def.active) {
          // An inactive definition is stored and its containers stopped (sync semantics).
          return this.#storeAndStop(def, sourceToml, emit, onStep);
        }
        const { store, runtime, observed, platform, options } = this.#deps;
        const previous = store.getService(def.name);
        const existingPorts = store.listPorts(def.name);
        const portDiff = diffPorts(routeKeys(def), existingPorts);
        let newPorts: PortAssignment[] = [];
        // Host ports of kept adopted containers: the ports they were published on by hand.
        let adoptedPorts: PortAssignment[] = [];
        // Kept adopted containers: container name → id.
        const keptAdopted = new Map<string, string>();
        const sameKey = (a: PortAssignment, k: { component: string; route: string }) =>
          a.component === k.component && a.route === k.route;
        const need = () => portDiff.need.filter((k) => !adoptedPorts.some((p) => sameKey(p, k)));
        // Components whose replacement switched to fresh ports: component → its new ports.
        const swapped = new Map<string, PortAssignment[]>();
        const ports = () => [
          ...[...portDiff.keep, ...adoptedPorts, ...newPorts].filter(
            (p) => !swapped.has(p.component),
          ),
          ...[...swapped.values()].flat(),
        ];
        // Zero-downtime replacements planned in store-spec: component → fresh ports.
        const rolling = new Map<string, PortAssignment[]>();
        const retirements: Retirement[] = [];
        const steps: Step[] = [];

        // The first deploy after adopt keeps each adopted container (no spec-hash label; the
        // store's hash is "") that already runs as its component says; see matchAdopted.
        steps.push({
          name: "adopted",
          do: async () => {
            const pending = (def.components ?? []).filter(
              (c) =>
                touched(c.name) &&
                previous?.components.some((p) => p.name === c.name && p.specHash === ""),
            );
            if (pending.length === 0) return skipped("no adopted containers");
            if (!canInspect(runtime)) return skipped("the runtime cannot inspect containers");
            const byName = new Map((await observed.refresh()).map((c) => [c.name, c]));
            const taken = new Set(
              store
                .listPorts()
                .filter((p) => p.service !== def.name)
                .map((p) => p.hostPort),
            );
            const notes: string[] = [];
            const found: PortAssignment[] = [];
            for (const c of pending) {
              const name = containerName(def.name, c.name);
              const cur = byName.get(name);
              if (!cur || cur.labels[LABEL_SPEC_HASH] !== undefined) continue;
              const settings = await runtime.inspect(name).catch(() => undefined);
              const m = settings
                ? matchAdopted(def.name, c, cur, settings)
                : { ok: false as const, reasons: ["inspect failed"] };
              const conflict = m.ok
                ? m.ports.find(
                    (p) =>
                      taken.has(p.hostPort) ||
                      portDiff.keep.some((k) => sameKey(k, p) && k.hostPort !== p.hostPort),
                  )
                : undefined;
              if (!m.ok || conflict) {
                const why = m.ok
                  ? `host port ${conflict?.hostPort} is assigned elsewhere`
                  : m.reasons.join(", ");
                notes.push(`${name} will be replaced: ${why}`);
                continue;
              }
              keptAdopted.set(name, cur.id);
              found.push(...m.ports.filter((p) => !portDiff.keep.some((k) => sameKey(k, p))));
              notes.push(`${name} kept`);
            }
            adoptedPorts = found;
            if (found.length > 0) store.assignPorts(found);
            return done(notes.join("; "));
          },
          undo: async () => {
            if (adoptedPorts.length > 0) {
              store.releasePorts(def.name, [...portDiff.keep, ...portDiff.release]);
            }
            adoptedPorts = [];
            keptAdopted.clear();
          },
        });

        steps.push({
          name: "allocate-ports",
          do: async () => {
            if (need().length === 0) {
              return routeKeys(def).length === 0 ? skipped("no routes") : unchanged();
            }
            await this.#portLock.run("ports", async () => {
              const taken = new Set([
                ...store.listPorts().map((p) => p.hostPort),
                ...this.#reserved,
              ]);
              newPorts = await allocatePorts(
                need(),
                def.name,
                options.portRange,
                taken,
                this.#deps.probe ?? probeHostPort,
              );
              store.assignPorts(newPorts);
            });
            return done(newPorts.map((p) => `${p.route || p.component}=${p.hostPort}`).join(" "));
          },
          undo: async () => {
            store.releasePorts(def.name, [...portDiff.keep, ...portDiff.release]);
            newPorts = [];
          },
        });

        // Container specs depend on the ports, so they are built lazily after allocation.
        let specs: CreateContainerSpec[] = [];
        const images = [
          ...new Set((def.components ?? []).filter((c) => touched(c.name)).map((c) => c.image)),
        ];
        const present = new Set<string>();
        let actions: ContainerAction[] = [];
        const specHash = hashOf(def);
        const hasL7 = (def.components ?? []).some((c) =>
          (c.routes ?? []).some((r) => r.mode === "l7"),
        );
        // A service this node has never had: its containers are started while Podman lists
        // the node (see docs/decisions/0210-deploy-start-while-listing.md), not after, so a
        // first deploy costs about one `podman run -d` instead of `podman ps` + `podman run`.
        // Podman's unique names are the check the list would have made; a run refused for
        // its name falls back to the plan. Not when a certificate must be issued first.
        const startEarly =
          previous === undefined &&
          component === undefined &&
          !(hasL7 && platform.certificates !== undefined);
        // Component → its early run; a container step that takes one over owns its undo.
        const early = new Map<string, Promise<EarlyRun>>();
        const claimed = new Set<string>();
        const earlyFailed = new Map<string, { error: unknown }>();
        const storedComponents = (hash: (i: number) => string) =>
          (def.components ?? []).map((c, i) => ({
            name: c.name,
            image: c.image,
            version: imageTag(c.image),
            specHash: hash(i),
          }));
        // The desired state as this deploy stores it, with each component's spec hash.
        const putDesired = (hash: (i: number) => string) =>
          store.putService({
            name: def.name,
            spec: def,
            sourceToml,
            active: true,
            version: serviceVersion(def),
            specHash,
            components: storedComponents(hash),
          });
        steps.push({
          name: "store-spec",
          do: async () => {
            specs = (def.components ?? []).map((c) => containerSpecFor(def.name, c, ports()));
            if (startEarly) {
              // Stored before any container exists: a crash from here on is settled by
              // deploying the stored definition again, never leaves an unknown container.
              putDesired((i) => specs[i]?.labels[LABEL_SPEC_HASH] ?? "");
              for (const [i, c] of (def.components ?? []).entries()) {
                const spec = specs[i];
                if (!spec) continue;
                early.set(
                  c.name,
                  this.#run(spec).then(
                    (id): EarlyRun => ({ ok: true, id }),
                    (error: unknown): EarlyRun => ({ ok: false, error }),
                  ),
                );
              }
            }
            // Podman's list and the image checks of images the previous definition did
            // not use run together: each is one Podman start-up (65-90 ms). An early run
            // is its own image check (it never pulls).
            const known = new Set(previous?.components.map((c) => c.image) ?? []);
            const [listed] = await Promise.all([
              observed.refresh(),
              ...images
                .filter((image) => !known.has(image) && !startEarly)
                .map(async (image) => {
                  if (await runtime.imageExists(image)) present.add(image);
                }),
            ]);
            // Containers started early are planned as "create" whether or not the list
            // caught them: Podman gave them the name, so nothing else holds it. So are
            // those whose run failed (the list may have caught the container before #run
            // removed it), except when the name was refused: then the list is right.
            const plannedNew = new Set<string>();
            for (const [i, c] of (def.components ?? []).entries()) {
              const r = await early.get(c.name);
              const spec = specs[i];
              if (!r || !spec) continue;
              if (r.ok) {
                plannedNew.add(spec.name);
                present.add(spec.image);
                continue;
              }
              // Refused for its name: the plan decides from the list. Refused for want of
              // the image: the pull step pulls it and the container step runs it again.
              // Any other failure is the container step's: retrying would only repeat it.
              if (isNameInUse(r.error)) continue;
              plannedNew.add(spec.name);
              if (hasCode(r.error, "image-not-found")) continue;
              if (await runtime.imageExists(spec.image)) {
                present.add(spec.image);
                earlyFailed.set(c.name, { error: r.error });
              }
            }
            const current = listed.filter((c) => !plannedNew.has(c.name));
            // What unlabelled containers stand for: kept adopted ones carry no label.
            const unlabelled = new Map<string, string>();
            for (const [i, c] of (def.components ?? []).entries()) {
              const name = containerName(def.name, c.name);
              const cur = current.find((x) => x.name === name);
              if (!cur || cur.labels[LABEL_SPEC_HASH] !== undefined) continue;
              const stored = previous?.components.find((p) => p.name === c.name)?.specHash;
              const hash =
                keptAdopted.get(name) === cur.id
                  ? specs[i]?.labels[LABEL_SPEC_HASH]
                  : observedSpecHash(cur, stored);
              if (hash !== undefined) unlabelled.set(name, hash);
            }
            actions = planContainers(def.name, specs, current, unlabelled);
            await this.#planRolling(def, actions, specs, ports(), rolling, touched);
            // A kept adopted container is remembered by id with its hash (it has no label).
            const storedHash = (i: number): string => {
              const spec = specs[i];
              const hash = spec?.labels[LABEL_SPEC_HASH] ?? "";
              const a = actions.find((x) => x.kind !== "remove" && x.spec.name === spec?.name);
              return a &&
                (a.kind === "unchanged" || a.kind === "start") &&
                a.current.labels[LABEL_SPEC_HASH] === undefined
                ? adoptedSpecHash(a.current.id, hash)
                : hash;
            };
            const componentsSame =
              previous !== undefined &&
              previous.components.length === specs.length &&
              specs.every((_, i) => previous.components[i]?.specHash === storedHash(i));
            if (
              previous &&
              previous.specHash === specHash &&
              previous.active &&
              previous.sourceToml === sourceToml &&
              componentsSame &&
              // A replacement moves ports, and the stored spec hashes must follow.
              rolling.size === 0
            ) {
              return unchanged();
            }
            putDesired(storedHash);
            return done(previous ? "updated" : "new service");
          },
          undo: async () => {
            // Early containers no container step took over are this step's to remove.
            for (const [name, p] of early) {
              if (claimed.has(name)) continue;
              const r = await p;
              if (r.ok) {
                await runtime.remove(containerName(def.name, name), {
                  force: true,
                  timeoutSeconds: options.stopTimeoutSeconds,
                });
              }
            }
            for (const p of [...rolling.values()].flat()) this.#reserved.delete(p.hostPort);
            if (previous) {
              store.putService(previous);
              store.setActive(previous.name, previous.active);
            } else {
              store.deleteService(def.name);
            }
          },
        });

        steps.push({
          name: "certificate",
          do: async () => {
            if (!hasL7) return skipped("no L7 routes");
            if (!platform.certificates) return skipped(NOT_CONFIGURED);
            const r = await platform.certificates.ensure(def.name, l7Hostnames(def, options.zone));
            return r.issued ? done(`issued ${r.certPath}`) : unchanged("valid certificate reused");
          },
        });

        // One pull step per distinct image; an image in use by an unchanged running
        // container is there by definition, which keeps a no-op redeploy to one `podman ps`.
        for (const image of images) {
          steps.push({
            name: "pull",
            component: (def.components ?? []).find((c) => c.image === image)?.name ?? "",
            do: async () => {
              const inUse = actions.some(
                (a) => a.kind !== "remove" && a.kind !== "create" && a.current.image === image,
              );
              if (inUse || present.has(image) || (await runtime.imageExists(image))) {
                return unchanged(`${image} present`);
              }
              await runtime.pull(image);
              return done(image);
            },
          });
        }

        // Container steps depend on the plan made in store-spec; a step object per
        // component is created now and looks its action up when it runs.
        for (const c of (def.components ?? []).filter((x) => touched(x.name))) {
          let inner: Step | undefined;
          steps.push({
            name: "container",
            component: c.name,
            do: async () => {
              const action = actions.find((a) => a.kind !== "remove" && a.component === c.name);
              if (!action) throw new Error(`no plan for component ${c.name}`);
              const fresh = rolling.get(c.name);
              const started = action.kind === "create" ? early.get(c.name) : undefined;
              if (started) {
                const { spec } = action as Extract<ContainerAction, { kind: "create" }>;
                claimed.add(c.name);
                const r = await started;
                if (r.ok) {
                  inner = this.#startedStep(spec);
                  return inner.do();
                }
                // The early run's own failure, unless the plan has another way (see below).
                const failed = earlyFailed.get(c.name);
                if (failed) throw failed.error;
              }
              inner =
                action.kind === "replace" && fresh
                  ? this.#rollingStep(def, c, action, fresh, ports, swapped, retirements)
                  : this.#containerStep(action);
              return inner.do();
            },
            undo: async () => {
              await inner?.undo?.();
            },
          });
        }

        steps.push(...this.#routeSteps(def, ports));

        const result = await runSteps(def.name, steps, emit, onStep);
        await this.#retire(def.name, retirements, emit);

        // Cleanup after success: previous containers of replaced components, containers of
        // components no longer defined, and ports of routes that are gone.
        // A replacement through the proxy leaves no `_prev`; its `_next` was renamed.
        const leftovers = [
          ...actions
            .filter(
              (a) => a.kind === "replace" && touched(a.component) && !rolling.has(a.component),
            )
            .map((a) => (a.kind === "replace" ? previousName(a.spec.name) : "")),
          ...(component === undefined
            ? actions
                .filter((a) => a.kind === "remove")
                .map((a) => a.current.name)
                .filter((n) => !retirements.some((r) => r.next === n))
            : []),
        ];
        await this.#cleanup(def.name, leftovers, emit);
        const changed = result.changed || leftovers.length > 0 || portDiff.release.length > 0;
        store.transaction(() => {
          if (portDiff.release.length > 0) store.releasePorts(def.name, ports());
          if (changed) {
            store.markDeployed(def.name);
            store.addHistory(
              {
                service: def.name,
                version: serviceVersion(def),
                spec: def,
                sourceToml,
                outcome: "succeeded",
                message: "",
              },
              options.historyKeep,
            );
            store.addEvent({
              service: def.name,
              kind: "deploy",
              from: previous?.version ?? "",
              to: serviceVersion(def),
              message: `deployed ${serviceVersion(def)}`,
            });
          }
        });
        return {
          service: def.name,
          version: serviceVersion(def),
          changed,
          ports: portsRecord(ports()),
        };
      }).catch((e: unknown) => {
        if (e instanceof StepFailedError) {
          this.#deps.store.addHistory(
            {
              service: def.name,
              version: serviceVersion(def),
              spec: def,
              sourceToml,
              outcome: "rolled_back",
              message: e.message,
            },
            this.#deps.options.historyKeep,
          );
        }
        throw e;
      }),
    );
  }

  async #storeAndStop(
    def: ServiceDef,
    sourceToml: string,
    emit: Emit,
    onStep: (s: Step) => void,
  ): Promise<OperationResult> {
    const { store } = this.#deps;
    const previous = store.getService(def.name);
    const specHash = hashOf(def);
    const storeStep: Step = {
      name: "store-spec",
      do: async () => {
        if (previous && previous.specHash === specHash && !previous.active) return unchanged();
        const ports = store.listPorts(def.name);
        store.putService({
          name: def.name,
          spec: def,
          sourceToml,
          active: false,
          version: serviceVersion(def),
          specHash,
          components: (def.components ?? []).map((c) => {
            let hash = "";
            try {
              hash = containerSpecFor(def.name, c, ports).labels["mcp.spec-hash"] ?? "";
            } catch {
              // No ports yet: the service was never deployed; the hash is set on deploy.
            }
            return { name: c.name, image: c.image, version: imageTag(c.image), specHash: hash };
          }),
        });
        return done("inactive");
      },
      undo: async () => {
        if (previous) store.putService(previous);
        else store.deleteService(def.name);
      },
    };
    const containers = await this.#deps.observed.refresh();
    const steps = [
      storeStep,
      ...this.#unrouteSteps(def, store.listPorts(def.name)),
      ...this.#stopSteps(def, containers),
    ];
    const r = await runSteps(def.name, steps, emit, onStep);
    if (r.changed) store.addEvent({ service: def.name, kind: "stop", to: "stopped" });
    return { service: def.name, version: "", changed: r.changed, ports: {} };
  }

  #stopSteps(def: ServiceDef, containers: ContainerInfo[], component?: string): Step[] {
    const { runtime, options } = this.#deps;
    const byName = new Map(containers.map((c) => [c.name, c]));
    return (def.components ?? [])
      .filter((c) => component === undefined || c.name === component)
      .map((c): Step => {
        const name = containerName(def.name, c.name);
        return {
          name: "stop",
          component: c.name,
          do: async () => {
            const cur = byName.get(name);
            if (!cur) return skipped(`${name} does not exist`);
            if (cur.state !== "running") return unchanged(`${name} not running`);
            await runtime.stop(name, { timeoutSeconds: options.stopTimeoutSeconds });
            return done(name);
          },
          undo: () => runtime.start(name),
        };
      });
  }

  #checkComponent(s: StoredService, component: string | undefined): void {
    if (component !== undefined && !s.components.some((c) => c.name === component)) {
      throw new NotFoundError(`service "${s.name}" has no component "${component}"`);
    }
  }

  /** Remove DNS, then routes, then stop the containers; the service stays defined, inactive. */
  stop(service: string, emit: Emit, component?: string): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, operationKind("stop", component), emit, async (emit, onStep) => {
        const { store, observed } = this.#deps;
        const s = this.#requireService(service);
        this.#checkComponent(s, component);
        const containers = await observed.refresh();
        // Stopping one component leaves the service's routes alone.
        const steps = [
          ...(component === undefined ? this.#unrouteSteps(s.spec, store.listPorts(service)) : []),
          ...this.#stopSteps(s.spec, containers, component),
        ];
        const r = await runSteps(service, steps, emit, onStep);
        store.transaction(() => {
          if (component === undefined) store.setActive(service, false);
          if (r.changed) {
            store.addEvent({ service, component: component ?? "", kind: "stop", to: "stopped" });
          }
        });
        return {
          service,
          version: s.version,
          changed: r.changed,
          ports: portsRecord(store.listPorts(service)),
        };
      }),
    );
  }

  /** Start stopped containers in place, then register routes and DNS again. */
  start(service: string, emit: Emit, component?: string): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, operationKind("start", component), emit, async (emit, onStep) => {
        const { store, observed, runtime, options } = this.#deps;
        const s = this.#requireService(service);
        this.#checkComponent(s, component);
        const byName = new Map((await observed.refresh()).map((c) => [c.name, c]));
        const steps: Step[] =
          s.spec.components
            ?.filter((c) => component === undefined || c.name === component)
            .map((c): Step => {
              const name = containerName(service, c.name);
              return {
                name: "start",
                component: c.name,
                do: async () => {
                  const cur = byName.get(name);
                  if (!cur) {
                    throw new PreconditionError(
                      `${name} does not exist; run mcp deploy ${service}`,
                    );
                  }
                  if (cur.state === "running") return unchanged(`${name} already running`);
                  await runtime.start(name);
                  return done(name);
                },
                undo: () => runtime.stop(name, { timeoutSeconds: options.stopTimeoutSeconds }),
              };
            }) ?? [];
        if (component === undefined) {
          const ports = store.listPorts(service);
          steps.push(...this.#routeSteps(s.spec, () => ports));
        }
        const r = await runSteps(service, steps, emit, onStep);
        store.transaction(() => {
          if (component === undefined) store.setActive(service, true);
          if (r.changed) {
            store.addEvent({ service, component: component ?? "", kind: "start", to: "running" });
          }
        });
        return {
          service,
          version: s.version,
          changed: r.changed,
          ports: portsRecord(store.listPorts(service)),
        };
      }),
    );
  }

  /** Restart containers in place. */
  restart(service: string, emit: Emit, component?: string): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, operationKind("restart", component), emit, async (emit, onStep) => {
        const { store, observed, runtime, options } = this.#deps;
        const s = this.#requireService(service);
        this.#checkComponent(s, component);
        const byName = new Map((await observed.refresh()).map((c) => [c.name, c]));
        const steps = (s.spec.components ?? [])
          .filter((c) => component === undefined || c.name === component)
          .map((c): Step => {
            const name = containerName(service, c.name);
            return {
              name: "restart",
              component: c.name,
              do: async () => {
                if (!byName.has(name)) {
                  throw new PreconditionError(`${name} does not exist; run mcp deploy ${service}`);
                }
                await runtime.restart(name, { timeoutSeconds: options.stopTimeoutSeconds });
                return done(name);
              },
            };
          });
        const r = await runSteps(service, steps, emit, onStep);
        store.addEvent({ service, component: component ?? "", kind: "restart" });
        return {
          service,
          version: s.version,
          changed: r.changed,
          ports: portsRecord(store.listPorts(service)),
        };
      }),
    );
  }

  /** Full teardown: DNS, routes, containers, certificate and port assignments. */
  undeploy(service: string, emit: Emit): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, "undeploy", emit, async (emit, onStep) => {
        const { store, observed, runtime, platform } = this.#deps;
        const s = store.getService(service);
        const containers = await observed.refresh();
        const own = containers.filter(
          (c) =>
            c.labels[LABEL_SERVICE] === service ||
            (s?.components.some((x) => containerName(service, x.name) === c.name) ?? false),
        );
        if (!s && own.length === 0) {
          throw new NotFoundError(`service "${service}" is not defined on this node`);
        }
        const def: ServiceDef = s?.spec ?? {
          name: service,
          node: "",
          active: false,
          path: service,
        };
        const steps: Step[] = [
          ...this.#unrouteSteps(def, store.listPorts(service)),
          ...own.map(
            (c): Step => ({
              name: "remove",
              component: c.labels["mcp.component"] ?? "",
              do: async () => {
                await runtime.remove(c.name, {
                  force: true,
                  timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
                });
                return done(c.name);
              },
            }),
          ),
          {
            name: "remove-certificate",
            do: async () => {
              const hasL7 = (def.components ?? []).some((c) =>
                (c.routes ?? []).some((r) => r.mode === "l7"),
              );
              if (!hasL7) return skipped("no L7 routes");
              if (!platform.certificates) return skipped(NOT_CONFIGURED);
              await platform.certificates.remove(service);
              return done();
            },
          },
          {
            name: "release-ports",
            do: async () => {
              const n = store.listPorts(service).length;
              store.transaction(() => {
                store.deleteService(service);
                store.addEvent({ service, kind: "undeploy", to: "removed" });
              });
              return n > 0 ? done(`${n} port(s)`) : done("service removed");
            },
          },
        ];
        await runSteps(service, steps, emit, onStep);
        return { service, version: "", changed: true, ports: {} };
      }),
    );
  }

  /** Deploys of different services run concurrently; used by sync. */
  isBusy(service: string): boolean {
    return this.#lock.isLocked(service);
  }
}

export function isNotFound(e: unknown): boolean {
  return isAgentError(e) && e.kind === "not-found";
}
