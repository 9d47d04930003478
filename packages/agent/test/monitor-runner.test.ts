import { describe, expect, it } from "vitest";
import type { OperationResult } from "../src/deploy/engine.ts";
import { AlertRunner } from "../src/monitor/alert.ts";
import type { Alert } from "../src/monitor/evaluate.ts";
import { Monitor, type MonitorDeps } from "../src/monitor/monitor.ts";
import type { ContainerInfo } from "../src/runtime/runtime.ts";
import type { ServiceDef } from "../src/spec.ts";
import { openStore } from "../src/store/sqlite.ts";
import type { NewEvent, StoredService } from "../src/store/store.ts";

// The cycle runner with fakes around it: what it writes, when it reconciles, how it
// survives a failing Podman. The real thing runs in test/integration/monitor.test.ts.

const IMAGE = "mcr.example/web:v1.0.0";

function service(name: string, active = true): StoredService {
  const spec: ServiceDef = {
    name,
    node: "rift",
    active,
    path: name,
    components: [{ name: "api", image: IMAGE }],
  };
  return {
    name,
    spec,
    sourceToml: `name = "${name}"`,
    active,
    version: "v1.0.0",
    specHash: "h",
    components: [{ name: "api", image: IMAGE, version: "v1.0.0", specHash: "h-api" }],
    createdAt: "",
    updatedAt: "",
    deployedAt: null,
  };
}

function running(name: string): ContainerInfo {
  return {
    id: name,
    name,
    image: IMAGE,
    state: "running",
    status: "Up",
    labels: { "mcp.version": "v1.0.0" },
    ports: [],
    health: "",
    restartCount: 0,
  };
}

function harness(services: StoredService[], lists: (ContainerInfo[] | Error)[]) {
  const written: NewEvent[][] = [];
  let pending: NewEvent[] | undefined;
  const deployed: string[] = [];
  const busy = new Set<string>();
  let invalidated = 0;
  let refreshes = 0;
  const deps: MonitorDeps = {
    store: {
      listServices: () => services,
      transaction: <T>(fn: () => T): T => {
        pending = [];
        const r = fn();
        written.push(pending);
        pending = undefined;
        return r;
      },
      addEvent: (e) => {
        if (pending) pending.push(e);
        else written.push([e]);
      },
    },
    observed: {
      refresh: async () => {
        const next = lists[Math.min(refreshes++, lists.length - 1)];
        if (next instanceof Error) throw next;
        return next ?? [];
      },
      invalidate: () => {
        invalidated++;
      },
    },
    engine: {
      isBusy: (s) => busy.has(s),
      deploy: async (def): Promise<OperationResult> => {
        deployed.push(def.name);
        return { service: def.name, version: "v1.0.0", changed: true, ports: {} };
      },
    },
    log: { debug() {}, info() {}, warn() {} },
    settings: {
      nodeName: "rift",
      intervalMs: 60_000,
      cooldownMs: 0,
      flapThreshold: 3,
      flapWindowMs: 600_000,
      retentionMs: 86_400_000,
      reconcile: true,
    },
  };
  return {
    deps,
    written,
    deployed,
    busy,
    get invalidated() {
      return invalidated;
    },
    get refreshes() {
      return refreshes;
    },
  };
}

describe("Monitor cycle", () => {
  it("writes a cycle's events in one transaction", async () => {
    const h = harness(
      [service("web"), service("db")],
      [[running("web-api"), running("db-api")], []],
    );
    h.deps.settings.reconcile = false;
    const m = new Monitor(h.deps);
    await m.cycle();
    const r = await m.cycle();
    expect(r.transitions).toHaveLength(2);
    expect(h.written.at(-1)?.map((e) => `${e.service} ${e.to}`)).toEqual([
      "web missing",
      "db missing",
    ]);
  });

  it("survives a failing Podman: reports the error and keeps the states", async () => {
    const h = harness([service("web")], [[running("web-api")], new Error("podman: boom")]);
    const m = new Monitor(h.deps);
    await m.cycle();
    const r = await m.cycle();
    expect(r.error).toBe("podman: boom");
    expect(m.states.get("web/api")?.state).toBe("running");
  });

  it("shares a cycle in progress with concurrent callers (one podman ps)", async () => {
    const h = harness([service("web")], [[running("web-api")]]);
    const m = new Monitor(h.deps);
    await Promise.all([m.cycle(), m.cycle(), m.cycle()]);
    expect(h.refreshes).toBe(1);
  });

  it("reconciles active services with missing components, not stopped services nor busy ones", async () => {
    const h = harness([service("web"), service("off", false), service("busy")], [[]]);
    h.busy.add("busy");
    const m = new Monitor(h.deps);
    await m.cycle();
    await new Promise((r) => setTimeout(r, 10));
    expect(h.deployed).toEqual(["web"]);
    expect(h.written.flat().some((e) => e.kind === "reconciled" && e.service === "web")).toBe(true);
  });

  it("does not reconcile without reconcile = true", async () => {
    const h = harness([service("web")], [[]]);
    h.deps.settings.reconcile = false;
    await new Monitor(h.deps).cycle();
    await new Promise((r) => setTimeout(r, 10));
    expect(h.deployed).toEqual([]);
  });

  it("an event invalidates the cache and brings the next cycle forward", async () => {
    const h = harness([service("web")], [[running("web-api")]]);
    let emit: (() => void) | undefined;
    h.deps.events = async function* (signal) {
      while (!signal.aborted) {
        await new Promise<void>((r) => {
          emit = r;
          signal.addEventListener("abort", () => r(), { once: true });
        });
        if (!signal.aborted) yield {};
      }
    };
    const m = new Monitor(h.deps);
    const cycles: number[] = [];
    m.onCycle((r) => cycles.push(r.at));
    m.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(cycles).toHaveLength(1);
    // Event-driven cycles start at most once a second after the last one.
    await new Promise((r) => setTimeout(r, 1000));
    emit?.();
    await new Promise((r) => setTimeout(r, 300));
    expect(h.invalidated).toBe(1);
    expect(cycles).toHaveLength(2);
    await m.stop();
  });
});

describe("Monitor states across an agent restart", () => {
  function exited(name: string): ContainerInfo {
    return { ...running(name), state: "exited", status: "Exited (1)", exitCode: 1 };
  }

  /** A monitor over a real registry, as an agent process would have after a restart. */
  function withStore(store: ReturnType<typeof openStore>, list: ContainerInfo[]) {
    const h = harness([service("web")], [list]);
    h.deps.settings.reconcile = false;
    h.deps.store = {
      listServices: h.deps.store.listServices,
      transaction: (fn) => store.transaction(fn),
      addEvent: (e) => store.addEvent(e),
      loadMonitorStates: () => store.loadMonitorStates(),
      saveMonitorStates: (rows) => store.saveMonitorStates(rows),
    };
    const sent: Alert[] = [];
    h.deps.alerts = { send: (a: Alert) => sent.push(a) } as unknown as AlertRunner;
    return { monitor: new Monitor(h.deps), sent };
  }

  it("does not alert again on what it had alerted before the restart, and does on what changed meanwhile", async () => {
    const store = openStore(":memory:");
    try {
      const first = withStore(store, [exited("web-api")]);
      await first.monitor.cycle();
      expect(first.sent.map((a) => a.to)).toEqual(["exited(1)"]);

      // The agent restarts: same state, no second alert and no second event.
      const events = store.listEvents({}).length;
      const second = withStore(store, [exited("web-api")]);
      await second.monitor.cycle();
      expect(second.sent).toEqual([]);
      expect(store.listEvents({}).length).toBe(events);

      // It came back while the agent was down: that is news.
      const third = withStore(store, [running("web-api")]);
      const r = await third.monitor.cycle();
      expect(r.transitions.map((t) => `${t.from} → ${t.to}`)).toEqual(["exited(1) → running"]);
    } finally {
      store.close();
    }
  });

  it("starts afresh when the saved states cannot be read", async () => {
    const store = openStore(":memory:");
    try {
      store.saveMonitorStates([{ key: "web/api", json: "{not json" }]);
      const m = withStore(store, [exited("web-api")]);
      await m.monitor.cycle();
      expect(m.sent.map((a) => a.to)).toEqual(["exited(1)"]);
    } finally {
      store.close();
    }
  });
});

describe("AlertRunner", () => {
  const alert: Alert = {
    kind: "change",
    node: "rift",
    service: "web",
    component: "api",
    from: "running",
    to: "missing",
    time: new Date(0).toISOString(),
    message: "m",
  };

  it("bounds running and waiting commands, and drops (and logs) beyond that", async () => {
    const warned: string[] = [];
    const runner = new AlertRunner(["sleep", "0.2"], {
      maxConcurrent: 2,
      maxQueued: 3,
      log: { info() {}, warn: (_f, msg) => warned.push(msg) },
    });
    for (let i = 0; i < 6; i++) runner.send(alert);
    expect(runner.pending).toBe(5);
    expect(warned).toEqual(["alert dropped: too many alert commands waiting"]);
    const t = Date.now();
    await runner.idle();
    // Five commands of 0.2 s, two at a time: three rounds.
    expect(Date.now() - t).toBeGreaterThanOrEqual(550);
    expect(runner.pending).toBe(0);
  });

  it("logs a command that fails, with its exit code", async () => {
    const warned: Record<string, unknown>[] = [];
    const runner = new AlertRunner(["sh", "-c", "echo nope >&2; exit 3"], {
      log: { info() {}, warn: (f) => warned.push(f) },
    });
    runner.send(alert);
    await runner.idle();
    expect(warned).toMatchObject([{ exitCode: 3, stderr: "nope", service: "web" }]);
  });

  it("refuses an empty command", () => {
    expect(() => new AlertRunner([], { log: { info() {}, warn() {} } })).toThrow(/alert_command/);
  });
});
