import type { OperationResult } from "../deploy/engine.ts";
import type { Emit } from "../deploy/steps.ts";
import { errorLine } from "../errors.ts";
import type { ContainerInfo } from "../runtime/runtime.ts";
import type { ServiceDef } from "../spec.ts";
import type { Store } from "../store/store.ts";
import type { AlertRunner } from "./alert.ts";
import {
  type ComponentState,
  type EvaluateConfig,
  evaluate,
  pruneDue,
  type Transition,
} from "./evaluate.ts";
import type { EventPruner } from "./prune.ts";

export interface MonitorLog {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface MonitorSettings extends EvaluateConfig {
  intervalMs: number;
  /** Restart stopped and recreate missing components of active services. */
  reconcile: boolean;
}

export interface MonitorDeps {
  store: Pick<Store, "listServices" | "transaction" | "addEvent"> &
    Partial<Pick<Store, "loadMonitorStates" | "saveMonitorStates">>;
  /** The agent's observed-state cache: one refresh is one `podman ps`, and reads reuse it. */
  observed: { refresh(): Promise<ContainerInfo[]>; invalidate?(): void };
  /**
   * Podman's container events (`podman events`), followed while the monitor runs: each one
   * invalidates the cache and brings the next cycle forward, so a change is seen in about a
   * second instead of up to an interval later, and reads never serve a list older than
   * the last change. Optional: without it the monitor only polls.
   */
  events?: ((signal: AbortSignal) => AsyncIterable<unknown>) | undefined;
  /** The deploy engine: its lock tells a deploy in progress; reconcile deploys through it. */
  engine?: {
    isBusy(service: string): boolean;
    deploy(def: ServiceDef, sourceToml: string, emit: Emit): Promise<OperationResult>;
  };
  /**
   * Runs the health checks that are due and returns the containers with the agent's
   * verdicts (`HealthChecker.probeContainers`), so running-but-unhealthy is a state like any
   * other. Optional: without it only the runtime's own health is seen.
   */
  probeHealth?: ((containers: ContainerInfo[]) => Promise<ContainerInfo[]>) | undefined;
  alerts?: AlertRunner | undefined;
  pruner?: EventPruner | undefined;
  log: MonitorLog;
  settings: MonitorSettings;
  now?: () => number;
}

export interface CycleReport {
  at: number;
  containers: number;
  transitions: Transition[];
  alerts: number;
  pruned: number;
  /** CPU (µs, user + system) of evaluating and writing, i.e. beyond the `podman ps`. */
  cpuMicros: number;
  error?: string;
}

const EVENT_DEBOUNCE_MS = 100;

function serializeStates(states: ReadonlyMap<string, ComponentState>): string {
  return JSON.stringify([...states]);
}
const EVENT_MIN_GAP_MS = 1000;

/** States in which reconcile starts or recreates a component. */
function restorable(s: ComponentState): boolean {
  return (
    !s.ok &&
    !s.unmanaged &&
    (s.state === "missing" ||
      s.state === "created" ||
      s.state === "stopped" ||
      s.state.startsWith("exited("))
  );
}

/**
 * The agent's monitor: every `interval`, one `podman ps` (through the observed-state cache,
 * which `ps`/`status` then read), `evaluate`, the cycle's events in one transaction,
 * alerts handed to the alert runner without waiting, retention pruning, and — when
 * `reconcile` is on — a redeploy of the stored definition for services with stopped or
 * missing components. Cycles never overlap.
 */
export class Monitor {
  readonly #deps: MonitorDeps;
  readonly #now: () => number;
  #states: ReadonlyMap<string, ComponentState> = new Map();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<CycleReport> | undefined;
  #stopped = true;
  #lastPruneAt: number | undefined;
  readonly #reconciling = new Set<string>();
  readonly #listeners = new Set<(r: CycleReport) => void>();
  #follow: AbortController | undefined;
  #nudgeTimer: NodeJS.Timeout | undefined;
  #lastCycleAt = 0;
  #loaded = false;
  #saved = "";

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  get states(): ReadonlyMap<string, ComponentState> {
    return this.#states;
  }

  /** Called after every cycle (tests, metrics). Returns an unsubscribe function. */
  onCycle(fn: (r: CycleReport) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  // What the previous agent process last saw: a restart then alerts on what changed while
  // it was down, and not again on what the operator was already told.
  #load(): void {
    this.#loaded = true;
    const load = this.#deps.store.loadMonitorStates;
    if (!load || this.#states.size > 0) return;
    try {
      const rows = load.call(this.#deps.store);
      this.#states = new Map(rows.map((r) => [r.key, JSON.parse(r.json) as ComponentState]));
      this.#saved = serializeStates(this.#states);
    } catch (e) {
      this.#deps.log.warn(
        { error: errorLine(e) },
        "monitor: saved states unreadable; starting afresh",
      );
    }
  }

  // Written only when something changed, which in a quiet fleet is almost never.
  #save(): void {
    const save = this.#deps.store.saveMonitorStates;
    if (!save) return;
    const text = serializeStates(this.#states);
    if (text === this.#saved) return;
    try {
      save.call(
        this.#deps.store,
        [...this.#states].map(([key, s]) => ({ key, json: JSON.stringify(s) })),
      );
      this.#saved = text;
    } catch (e) {
      this.#deps.log.warn({ error: errorLine(e) }, "monitor: saving states failed");
    }
  }

  /** Starts cycling; the first cycle runs after `firstDelayMs`, then every interval. */
  start(firstDelayMs = 0): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(firstDelayMs);
    if (this.#deps.events) {
      this.#follow = new AbortController();
      void this.#followEvents(this.#follow.signal);
    }
  }

  /**
   * Stops cycling, waits for a cycle in progress, kills running alert commands and closes
   * the pruner (the monitor owns both).
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#follow?.abort();
    this.#follow = undefined;
    if (this.#nudgeTimer) clearTimeout(this.#nudgeTimer);
    this.#nudgeTimer = undefined;
    await this.#running?.catch(() => undefined);
    await this.#deps.alerts?.close();
    this.#deps.pruner?.close();
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const started = this.#now();
      void this.cycle().finally(() => {
        const elapsed = this.#now() - started;
        this.#schedule(Math.max(0, this.#deps.settings.intervalMs - elapsed));
      });
    }, delay);
    // The agent's server keeps the process alive; the monitor alone must not.
    this.#timer.unref();
  }

  /** Follows the event stream, reconnecting with backoff when it ends or fails. */
  async #followEvents(signal: AbortSignal): Promise<void> {
    const { events, log } = this.#deps;
    if (!events) return;
    let backoff = 1000;
    while (!signal.aborted) {
      try {
        for await (const _ of events(signal)) {
          backoff = 1000;
          this.#nudge();
        }
      } catch (e) {
        if (signal.aborted) return;
        log.warn(
          { error: errorLine(e), retryMs: backoff },
          "monitor: following podman events failed; polling only until it is back",
        );
      }
      if (signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, backoff).unref());
      backoff = Math.min(backoff * 2, 30_000);
    }
  }

  /**
   * A container changed: the cached list is stale now, and a cycle runs soon. Bursts (a
   * deploy is a dozen events) make one cycle, and event-driven cycles start at most once a
   * second, so a crash loop cannot turn the monitor into a `podman ps` loop.
   */
  #nudge(): void {
    this.#deps.observed.invalidate?.();
    if (this.#nudgeTimer || this.#stopped) return;
    const wait = Math.max(EVENT_DEBOUNCE_MS, this.#lastCycleAt + EVENT_MIN_GAP_MS - this.#now());
    this.#nudgeTimer = setTimeout(() => {
      this.#nudgeTimer = undefined;
      if (!this.#stopped) void this.cycle();
    }, wait);
    this.#nudgeTimer.unref();
  }

  /** One cycle; concurrent callers share the one in progress. Never throws. */
  cycle(): Promise<CycleReport> {
    if (!this.#running) {
      this.#running = this.#cycle().finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  async #cycle(): Promise<CycleReport> {
    const { store, observed, engine, alerts, pruner, log, settings } = this.#deps;
    const at = this.#now();
    this.#lastCycleAt = at;
    let containers: ContainerInfo[];
    try {
      containers = await observed.refresh();
    } catch (e) {
      // Podman down is itself worth knowing, but the states stay as last seen: nothing
      // about the containers is known now.
      log.warn({ error: errorLine(e) }, "monitor: listing containers failed");
      const r: CycleReport = {
        at,
        containers: 0,
        transitions: [],
        alerts: 0,
        pruned: 0,
        cpuMicros: 0,
        error: errorLine(e),
      };
      this.#emit(r);
      return r;
    }
    const probeHealth = this.#deps.probeHealth;
    if (probeHealth) containers = await probeHealth(containers).catch(() => containers);
    const cpu0 = process.cpuUsage();
    const now = this.#now();
    const services = store.listServices();
    const busy = new Set<string>();
    if (engine) for (const s of services) if (engine.isBusy(s.name)) busy.add(s.name);
    if (!this.#loaded) this.#load();
    const result = evaluate(services, containers, this.#states, now, settings, busy);
    let pruned = 0;
    try {
      store.transaction(() => {
        for (const e of result.events) store.addEvent(e);
      });
      if (pruner && pruneDue(this.#lastPruneAt, now, settings.retentionMs)) {
        pruned = pruner.prune(result.pruneBefore);
        this.#lastPruneAt = now;
      }
    } catch (e) {
      log.warn({ error: errorLine(e) }, "monitor: writing events failed");
    }
    this.#states = result.states;
    this.#save();
    const cpu = process.cpuUsage(cpu0);
    for (const t of result.transitions) {
      log.info(
        { service: t.service, component: t.component, from: t.from, to: t.to },
        `monitor: ${t.service}/${t.component || t.key} ${t.from || "(new)"} → ${t.to}`,
      );
    }
    if (pruned > 0) log.debug({ pruned }, "monitor: events past retention pruned");
    for (const a of result.alerts) alerts?.send(a);
    if (settings.reconcile && engine) this.#reconcile(services, busy);
    const r: CycleReport = {
      at,
      containers: containers.length,
      transitions: result.transitions,
      alerts: result.alerts.length,
      pruned,
      cpuMicros: cpu.user + cpu.system,
    };
    this.#emit(r);
    return r;
  }

  #emit(r: CycleReport): void {
    for (const fn of this.#listeners) {
      try {
        fn(r);
      } catch {
        // A listener's failure is not the monitor's.
      }
    }
  }

  /**
   * Redeploys the stored definition of each active service with a stopped or missing
   * component: the engine starts what is stopped and recreates what is missing, under the
   * service's lock. In the background, one at a time per service; a flapping component is
   * left alone (restarting a crash loop every interval helps nobody).
   */
  #reconcile(services: ReturnType<Store["listServices"]>, busy: ReadonlySet<string>): void {
    const { engine, log, store } = this.#deps;
    if (!engine) return;
    for (const s of services) {
      if (!s.active || busy.has(s.name) || this.#reconciling.has(s.name)) continue;
      const broken = s.components
        .map((c) => this.#states.get(`${s.name}/${c.name}`))
        .filter((st): st is ComponentState => st !== undefined && restorable(st));
      if (broken.length === 0 || broken.some((st) => st.flapping)) continue;
      this.#reconciling.add(s.name);
      const what = broken.map((st) => `${st.component} (${st.state})`).join(", ");
      log.info({ service: s.name, components: what }, "monitor: reconciling");
      engine
        .deploy(s.spec, s.sourceToml, () => undefined)
        .then(
          () => {
            store.addEvent({
              service: s.name,
              kind: "reconciled",
              message: `monitor restored ${what}`,
            });
          },
          (e: unknown) => {
            log.warn({ service: s.name, error: errorLine(e) }, "monitor: reconcile failed");
            store.addEvent({
              service: s.name,
              kind: "reconcile-failed",
              level: "error",
              message: `monitor could not restore ${what}: ${errorLine(e)}`,
            });
          },
        )
        .catch(() => undefined)
        .finally(() => this.#reconciling.delete(s.name));
    }
  }
}
