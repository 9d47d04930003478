import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Engine, type EngineOptions } from "../src/deploy/engine.ts";
import type { StepEvent } from "../src/deploy/steps.ts";
import { HealthChecker } from "../src/health/checker.ts";
import { recoverInterrupted } from "../src/main.ts";
import { ObservedState } from "../src/observed.ts";
import type { RouteRegistration } from "../src/platform.ts";
import type { ServiceDef } from "../src/spec.ts";
import { openStore } from "../src/store/sqlite.ts";
import { fakeClock } from "./helpers/clock.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

const V1 = "reg.example/web:v1.0.0";
const V2 = "reg.example/web:v2.0.0";

function def(image: string, health?: Record<string, unknown>): ServiceDef {
  return {
    name: "web",
    node: "rift",
    active: true,
    path: "web",
    components: [
      {
        name: "api",
        image,
        drain: "3s",
        routes: [{ port: 443, mode: "l4" }],
        ...(health ? { health } : {}),
      },
      { name: "worker", image },
    ],
  };
}

const options: EngineOptions = {
  nodeName: "rift",
  address: "10.0.0.5",
  zone: "svc.example",
  certsDir: "/certs",
  listeners: { "443": ":443" },
  portRange: { low: 20000, high: 20010 },
  historyKeep: 5,
  stopTimeoutSeconds: 1,
};

/** One log of runtime calls, route changes and probes, in the order they happened. */
function setup(healthy: (container: string, port: number | undefined) => boolean) {
  const store = openStore(":memory:");
  const runtime = new FakeRuntime();
  runtime.images.add(V1);
  runtime.images.add(V2);
  const log: string[] = [];
  const routes = new Map<string, RouteRegistration>();
  const clock = fakeClock();
  const health = new HealthChecker({
    runtime,
    now: clock.now,
    prober: async (_policy, target) => {
      const port = target.ports[0]?.hostPort;
      const ok = healthy(target.container, port);
      log.push(`probe ${target.container}:${port} ${ok ? "ok" : "fail"}`);
      return ok ? { ok, message: "" } : { ok, message: "GET / answered 404, expected 200" };
    },
  });
  const engine = new Engine({
    store,
    runtime,
    observed: new ObservedState(runtime, store, 0),
    platform: {
      routes: {
        add: async (r) => {
          const same = routes.get(r.hostname)?.backend === r.backend;
          routes.set(r.hostname, r);
          if (!same) log.push(`route ${r.hostname} → ${r.backend}`);
          return !same;
        },
        remove: async (_l, h) => {
          routes.delete(h);
        },
      },
    },
    options,
    probe: async () => true,
    health,
    clock,
  });
  const events: StepEvent[] = [];
  const emit = (e: StepEvent) => events.push(e);
  // Runtime calls go into the same log as routes and probes.
  const calls = runtime.calls;
  const mark = () => calls.length;
  const since = (n: number) =>
    calls.slice(n).filter((c) => c !== "list" && !c.startsWith("exists"));
  return { store, runtime, engine, routes, log, clock, events, emit, health, mark, since };
}

describe("zero-downtime replacement", () => {
  it("starts the new container on fresh ports, waits for health, switches routes, drains, then retires the old one", async () => {
    const t = setup(() => true);
    await t.engine.deploy(def(V1), "v1", t.emit);
    const oldApi = t.runtime.containers.get("web-api")!;
    expect(t.routes.get("web.svc.example")?.backend).toBe("10.0.0.5:20000");
    t.log.length = 0;
    const n = t.mark();

    const r = await t.engine.deploy(def(V2), "v2", t.emit);

    expect(r.ports).toEqual({ api: 20001 });
    // The routed component: new beside old; the worker (no routes) in place after the pull.
    expect(t.since(n)).toEqual([
      "remove web-api_next",
      "create web-api_next",
      "start web-api_next",
      "stop web-worker",
      "rename web-worker",
      "create web-worker",
      "start web-worker",
      "stop web-api",
      "remove web-api",
      "rename web-api_next",
      "remove web-worker_prev",
    ]);
    expect(t.log).toEqual([
      "probe web-api_next:20001 ok",
      "route web.svc.example → 10.0.0.5:20001",
    ]);
    // The drain (the definition's 3 s) happened between the switch and the stop.
    const order = t.events
      .filter((e) => e.status !== "started")
      .map((e) => `${e.name}:${e.status}`);
    expect(order.indexOf("drain:done")).toBeGreaterThan(order.indexOf("register-routes:unchanged"));
    expect(order.indexOf("retire:done")).toBeGreaterThan(order.indexOf("drain:done"));
    expect(t.clock.slept).toContain(3000);

    const api = t.runtime.containers.get("web-api")!;
    expect(api.id).not.toBe(oldApi.id);
    expect(api.image).toBe(V2);
    expect(api.spec.env.PORT).toBe("20001");
    expect(api.spec.ports.map((p) => p.hostPort)).toEqual([20001]);
    expect([...t.runtime.containers.keys()].sort()).toEqual(["web-api", "web-worker"]);
    // Old port released; the new container's health verdict is kept under its id.
    expect(t.store.listPorts("web").map((p) => p.hostPort)).toEqual([20001]);
    expect(t.health.statusOf(api)).toBe("healthy");
    expect(t.store.listHistory("web")[0]).toMatchObject({
      version: "v2.0.0",
      outcome: "succeeded",
    });

    // The same definition again changes nothing: the renamed container is adopted.
    const m = t.mark();
    const again = await t.engine.deploy(def(V2), "v2", t.emit);
    expect(again.changed).toBe(false);
    expect(t.since(m)).toEqual([]);
  });

  it("a stop of the old container that fails still ends with the new one under the canonical name", async () => {
    const t = setup(() => true);
    await t.engine.deploy(def(V1), "v1", t.emit);
    t.runtime.failOn("stop", "web-api", "podman stop timed out");
    await t.engine.deploy(def(V2), "v2", t.emit);
    expect([...t.runtime.containers.keys()].sort()).toEqual(["web-api", "web-worker"]);
    expect(t.runtime.containers.get("web-api")?.image).toBe(V2);
    expect(t.events.filter((e) => e.name === "retire").map((e) => e.status)).toEqual([
      "started",
      "done",
    ]);
  });

  it("a new container that never gets healthy is removed; the old one and its routes stay untouched", async () => {
    const t = setup((container) => container !== "web-api_next");
    const hc = { type: "http", path: "/healthz", interval: "1s", retries: 3, timeout: "1s" };
    await t.engine.deploy(def(V1, hc), "v1", t.emit);
    const oldApi = t.runtime.containers.get("web-api")!;
    const oldWorker = t.runtime.containers.get("web-worker")!;
    const routeBefore = t.routes.get("web.svc.example");
    t.log.length = 0;
    const n = t.mark();

    const err = await t.engine.deploy(def(V2, hc), "v2", t.emit).catch((e: unknown) => e);

    expect(err).toMatchObject({ kind: "step-failed" });
    expect((err as Error).message).toMatch(
      /new container web-api_next \(v2\.0\.0\) failed its health check, unhealthy after 3 failed check\(s\): GET \/ answered 404.*web-api keeps serving, routes unchanged/,
    );
    // Start, probes, removal: never a stop of the old container, never a route change.
    const calls = t.since(n);
    expect(calls.slice(0, 3)).toEqual([
      "remove web-api_next",
      "create web-api_next",
      "start web-api_next",
    ]);
    expect(calls).toContain("remove web-api_next");
    expect(calls.filter((c) => c.endsWith(" web-api"))).toEqual([]);
    expect(t.log.every((l) => l.startsWith("probe web-api_next:20001 fail"))).toBe(true);
    expect(t.routes.get("web.svc.example")).toEqual(routeBefore);
    // Failures count once per interval: about (retries - 1) × 1 s of waiting.
    expect(t.clock.slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2000);
    expect(t.clock.slept.reduce((a, b) => a + b, 0)).toBeLessThan(3000);

    const api = t.runtime.containers.get("web-api")!;
    expect([api.id, api.image, api.state]).toEqual([oldApi.id, V1, "running"]);
    expect(t.runtime.containers.get("web-worker")!.id).toBe(oldWorker.id);
    expect([...t.runtime.containers.keys()].sort()).toEqual(["web-api", "web-worker"]);
    expect(t.store.listPorts("web").map((p) => p.hostPort)).toEqual([20000]);
    expect(t.store.getService("web")?.version).toBe("v1.0.0");
    expect(t.store.listHistory("web")[0]).toMatchObject({ outcome: "rolled_back" });

    // The fresh port went back to the pool: the next replacement gets it again.
    const ok = await t.engine.deploy(def(V2), "v2b", t.emit).catch((e: unknown) => e);
    expect(ok).toBeInstanceOf(Error); // the http check still fails for web-api_next
    expect(t.store.listPorts().map((p) => p.hostPort)).toEqual([20000]);
  });

  it("a later step failing switches the routes back and keeps the old container", async () => {
    const t = setup(() => true);
    await t.engine.deploy(def(V1), "v1", t.emit);
    const oldApi = t.runtime.containers.get("web-api")!;
    // The worker (replaced in place after the api's switch) fails to start.
    t.runtime.failOn("start", "web-worker", "OCI runtime error");
    await expect(t.engine.deploy(def(V2), "v2", t.emit)).rejects.toThrow(/OCI runtime error/);
    expect(t.routes.get("web.svc.example")?.backend).toBe("10.0.0.5:20000");
    expect(t.runtime.containers.get("web-api")!.id).toBe(oldApi.id);
    expect(t.runtime.containers.has("web-api_next")).toBe(false);
    expect(t.store.listPorts("web").map((p) => p.hostPort)).toEqual([20000]);
  });

  it("a drifted container under an unchanged definition is replaced through the proxy too, then left alone", async () => {
    const t = setup(() => true);
    await t.engine.deploy(def(V1), "v1", t.emit);
    t.runtime.containers.get("web-api")!.labels["mcp.spec-hash"] = "changed by hand";
    const r = await t.engine.deploy(def(V1), "v1", t.emit);
    expect(r).toMatchObject({ changed: true, ports: { api: 20001 } });
    const n = t.mark();
    expect((await t.engine.deploy(def(V1), "v1", t.emit)).changed).toBe(false);
    expect(t.since(n)).toEqual([]);
  });

  it("after a crash: a new container before the switch is dropped, one after it is finished off", async () => {
    const silent = pino({ level: "silent" });
    for (const switched of [false, true]) {
      const t = setup(() => true);
      await t.engine.deploy(def(V1), "v1", t.emit);
      const oldId = t.runtime.containers.get("web-api")!.id;
      // The state a crash leaves: web-api_next running on a fresh port beside web-api.
      await t.runtime.run({
        ...t.runtime.containers.get("web-api")!.spec,
        name: "web-api_next",
        ports: [{ hostPort: 20001, containerPort: 20001, protocol: "tcp" }],
      });
      const nextId = t.runtime.containers.get("web-api_next")!.id;
      if (switched) {
        t.store.releasePorts("web");
        t.store.assignPorts([{ hostPort: 20001, service: "web", component: "api", route: "" }]);
      }
      t.store.beginOperation({ id: "op1", service: "web", kind: "deploy" });
      await recoverInterrupted(t.store, t.runtime, silent);
      expect([...t.runtime.containers.keys()].sort()).toEqual(["web-api", "web-worker"]);
      expect(t.runtime.containers.get("web-api")!.id).toBe(switched ? nextId : oldId);
    }
  });
});
