import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthChecker } from "../src/health/checker.ts";
import {
  healthDeadlineMs,
  healthPolicy,
  initialHealth,
  probeDue,
  recordProbe,
} from "../src/health/decide.ts";
import { commandProbe, httpProbe, tcpProbe } from "../src/health/probe.ts";
import { waitHealthy } from "../src/health/wait.ts";
import type { ContainerInfo } from "../src/runtime/runtime.ts";
import type { StoredService } from "../src/store/store.ts";
import { fakeClock } from "./helpers/clock.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

const policy = { retries: 3, startPeriodMs: 5000, intervalMs: 1000 };
const OK = { ok: true, message: "" };
const FAIL = { ok: false, message: "refused" };

describe("health verdicts (pure)", () => {
  it("healthy after the first success; a success resets the failures", () => {
    let r = initialHealth(0);
    expect(r.status).toBe("starting");
    r = recordProbe(r, OK, 100, policy);
    expect(r).toMatchObject({ status: "healthy", failures: 0 });
    r = recordProbe(r, FAIL, 6000, policy);
    r = recordProbe(r, FAIL, 7000, policy);
    expect(r).toMatchObject({ status: "healthy", failures: 2, lastError: "refused" });
    r = recordProbe(r, OK, 8000, policy);
    expect(r).toMatchObject({ status: "healthy", failures: 0, lastError: "" });
  });

  it("failures in the start period do not count; `retries` consecutive ones after it make it unhealthy", () => {
    let r = initialHealth(0);
    for (const at of [0, 1000, 2000, 3000, 4000]) r = recordProbe(r, FAIL, at, policy);
    expect(r).toMatchObject({ status: "starting", failures: 0 });
    r = recordProbe(r, FAIL, 5000, policy);
    r = recordProbe(r, FAIL, 6000, policy);
    expect(r).toMatchObject({ status: "starting", failures: 2 });
    r = recordProbe(r, FAIL, 7000, policy);
    expect(r).toMatchObject({ status: "unhealthy", failures: 3 });
    // And back to healthy on the next success.
    expect(recordProbe(r, OK, 8000, policy).status).toBe("healthy");
  });

  it("probes are due once per interval", () => {
    const r = recordProbe(initialHealth(0), OK, 1000, policy);
    expect(probeDue(initialHealth(0), 0, policy)).toBe(true);
    expect(probeDue(r, 1999, policy)).toBe(false);
    expect(probeDue(r, 2000, policy)).toBe(true);
  });

  it("policy: the declared check with its durations, else TCP on every route; none without routes", () => {
    const http = healthPolicy({
      name: "api",
      image: "x:v1",
      health: {
        type: "http",
        path: "/healthz",
        status: 204,
        interval: "2s",
        timeout: "500ms",
        retries: 2,
        start_period: "10s",
      },
      routes: [{ port: 443, mode: "l4" }],
    });
    expect(http).toMatchObject({
      check: { type: "http", path: "/healthz", status: 204 },
      intervalMs: 2000,
      timeoutMs: 500,
      retries: 2,
      startPeriodMs: 10_000,
    });
    expect(healthDeadlineMs(http!, 3000)).toBe(10_000 + 2 * 2000 + 3000);
    const tcp = healthPolicy({
      name: "api",
      image: "x:v1",
      routes: [
        { name: "a", port: 443, mode: "l4" },
        { name: "b", port: 8443, mode: "l4" },
      ],
    });
    expect(tcp).toMatchObject({ check: { type: "tcp" }, intervalMs: 10_000, retries: 3 });
    expect(tcp?.routes.map((r) => r.name)).toEqual(["a", "b"]);
    expect(healthPolicy({ name: "worker", image: "x:v1" })).toBeUndefined();
  });
});

describe("waitHealthy (fake clock)", () => {
  const p = {
    ...healthPolicy({ name: "a", image: "x:v1", routes: [{ port: 1, mode: "l4" }] })!,
    intervalMs: 1000,
    retries: 3,
    startPeriodMs: 0,
  };

  it("returns as soon as a probe passes", async () => {
    const clock = fakeClock(0);
    let n = 0;
    const r = await waitHealthy(async () => (++n >= 4 ? OK : FAIL), p, {
      deadlineMs: 10_000,
      pollMs: 100,
      clock,
    });
    expect(r).toMatchObject({ healthy: true, elapsedMs: 300 });
  });

  it("unhealthy after `retries` failures one interval apart", async () => {
    const clock = fakeClock(0);
    const r = await waitHealthy(async () => FAIL, p, { deadlineMs: 60_000, pollMs: 100, clock });
    expect(r).toMatchObject({ healthy: false, elapsedMs: 2000 });
    expect(r.healthy ? "" : r.reason).toBe("unhealthy after 3 failed check(s): refused");
  });

  it("gives up at the deadline when the start period outlasts it", async () => {
    const clock = fakeClock(0);
    const r = await waitHealthy(
      async () => FAIL,
      { ...p, startPeriodMs: 60_000 },
      {
        deadlineMs: 1500,
        pollMs: 400,
        clock,
      },
    );
    expect(r).toMatchObject({ healthy: false, elapsedMs: 1500 });
    expect(r.healthy ? "" : r.reason).toBe("not healthy within 1.5s: refused");
  });
});

describe("probes against real sockets", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === "/healthz" ? 200 : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("http: the expected status passes, another fails with what was answered", async () => {
    expect(await httpProbe("127.0.0.1", port, "/healthz", 200, 1000)).toEqual(OK);
    expect(await httpProbe("127.0.0.1", port, "/nope", 200, 1000)).toEqual({
      ok: false,
      message: "GET /nope answered 404, expected 200",
    });
  });

  it("tcp: a listening port passes, a closed one fails", async () => {
    expect(await tcpProbe("127.0.0.1", port, 1000)).toEqual(OK);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const freed = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await tcpProbe("127.0.0.1", freed, 1000);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/ECONNREFUSED/);
  });

  it("tcp: a connection closed at once fails, as rootless Podman's forwarder does with nothing behind it", async () => {
    const { createServer: tcpServer } = await import("node:net");
    const slam = tcpServer((sock) => sock.destroy());
    await new Promise<void>((resolve) => slam.listen(0, "127.0.0.1", resolve));
    const p = (slam.address() as AddressInfo).port;
    const r = await tcpProbe("127.0.0.1", p, 1000, 300);
    await new Promise<void>((resolve) => slam.close(() => resolve()));
    expect(r).toEqual({
      ok: false,
      message: `connect 127.0.0.1:${p}: closed at once (nothing listening behind the port?)`,
    });
  });

  it("command: exit 0 passes, another exit or a stopped container fails", async () => {
    const rt = new FakeRuntime();
    rt.images.add("x:v1");
    await rt.run({ name: "c", image: "x:v1", labels: {}, env: {}, ports: [], volumes: [] });
    rt.execExit = (_n, cmd) => (cmd[0] === "true" ? 0 : 1);
    expect(await commandProbe(rt, "c", ["true"], 1000)).toEqual(OK);
    expect(await commandProbe(rt, "c", ["false"], 1000)).toEqual({
      ok: false,
      message: "false exited 1",
    });
    await rt.stop("c");
    expect((await commandProbe(rt, "c", ["true"], 1000)).ok).toBe(false);
  });
});

describe("HealthChecker.checkAll (for the monitor)", () => {
  const svc = {
    name: "web",
    spec: {
      name: "web",
      node: "rift",
      active: true,
      path: "web",
      components: [
        { name: "api", image: "x:v1", routes: [{ port: 443, mode: "l4" as const }] },
        { name: "worker", image: "x:v1" },
      ],
    },
  } as unknown as StoredService;
  const container = (name: string, component: string, id: string): ContainerInfo => ({
    id,
    name,
    image: "x:v1",
    state: "running",
    status: "Up",
    labels: { "mcp.service": "web", "mcp.component": component },
    ports: [],
    health: "",
    restartCount: 0,
    startedAt: new Date(0),
  });

  it("probes due containers with checks, keeps verdicts between intervals, forgets gone ones", async () => {
    let t = 0;
    let answer = FAIL;
    const probed: string[] = [];
    const hc = new HealthChecker({
      runtime: {},
      now: () => t,
      prober: async (_p, target) => {
        probed.push(`${target.container}:${target.ports[0]?.hostPort}`);
        return answer;
      },
    });
    const ports = [{ hostPort: 20000, service: "web", component: "api", route: "" }];
    const list = [
      container("web-api", "api", "id1"),
      container("web-worker", "worker", "id2"),
      container("web-api_next", "api", "id3"),
    ];
    const cycle = () => hc.checkAll(list, [svc], ports);
    // Default policy: TCP, every 10 s, 3 retries; the temporary container is skipped.
    for (t = 0; t <= 20_000; t += 10_000) await cycle();
    expect(probed).toEqual(["web-api:20000", "web-api:20000", "web-api:20000"]);
    expect(await cycle()).toEqual([
      {
        service: "web",
        component: "api",
        container: "web-api",
        id: "id1",
        status: "unhealthy",
        lastError: "refused",
      },
    ]);
    expect(hc.statusOf({ id: "id1" })).toBe("unhealthy");
    answer = OK;
    t = 40_000;
    await cycle();
    expect(hc.statusOf({ id: "id1" })).toBe("healthy");
    await hc.checkAll([], [svc], ports);
    expect(hc.statusOf({ id: "id1" })).toBe("");
  });

  it("does not judge a container by a spec it was not made from (a deploy of the next one is under way)", async () => {
    let t = 0;
    const probed: string[] = [];
    const hc = new HealthChecker({
      runtime: {},
      now: () => t,
      prober: async (_p, target) => {
        probed.push(target.container);
        return probed.length === 1 ? OK : FAIL;
      },
    });
    const ports = [{ hostPort: 20000, service: "web", component: "api", route: "" }];
    const running = {
      ...container("web-api", "api", "id1"),
      labels: { "mcp.service": "web", "mcp.component": "api", "mcp.spec-hash": "v2" },
    };
    const stored = (hash: string) =>
      ({
        ...svc,
        components: [{ name: "api", image: "x:v1", version: "v1", specHash: hash }],
      }) as StoredService;
    await hc.checkAll([running], [stored("v2")], ports);
    expect(hc.statusOf({ id: "id1" })).toBe("healthy");
    // The store already holds v3 (its check would fail): the v2 container keeps its verdict.
    for (t = 10_000; t <= 40_000; t += 10_000) {
      const out = await hc.checkAll([running], [stored("v3")], ports);
      expect(out.map((h) => h.status)).toEqual(["healthy"]);
    }
    expect(probed).toEqual(["web-api"]);
    expect(hc.statusOf({ id: "id1" })).toBe("healthy");
  });
});

describe("ObservedState shows the agent's verdicts", () => {
  it("fills health for containers the runtime reports none for, on every list", async () => {
    const { ObservedState } = await import("../src/observed.ts");
    const { openStore } = await import("../src/store/sqlite.ts");
    const rt = new FakeRuntime();
    rt.images.add("x:v1");
    const id = await rt.run({
      name: "web-api",
      image: "x:v1",
      labels: { "mcp.service": "web", "mcp.component": "api" },
      env: {},
      ports: [],
      volumes: [],
    });
    const store = openStore(":memory:");
    const observed = new ObservedState(rt, store, 60_000);
    const hc = new HealthChecker({ runtime: rt });
    observed.healthOf = (c) => hc.statusOf(c);
    expect((await observed.refresh())[0]?.health).toBe("");
    hc.set(id, { ...initialHealth(0), status: "unhealthy" });
    // From the cache, without a new `podman ps`.
    const calls = rt.calls.length;
    expect((await observed.list())[0]?.health).toBe("unhealthy");
    expect(rt.calls.length).toBe(calls);
    await observed.refresh();
    expect(store.listObserved()[0]?.health).toBe("unhealthy");
  });
});

describe("a structured spec (no TOML) carries its health check", () => {
  it("Deploy over the real router stores the check it was sent", async () => {
    const { makeAgent, clientFor } = await import("./helpers/agent.ts");
    const { HealthCheckType, RouteMode } = await import("@mcp/proto/agent/v1");
    const rt = new FakeRuntime();
    rt.images.add("reg.example/web:v1.0.0");
    const { agent, store } = makeAgent({ runtime: rt });
    const client = clientFor(agent, "admin-token");
    for await (const _ of client.deploy({
      spec: {
        name: "web",
        node: "rift",
        components: [
          {
            name: "api",
            image: "reg.example/web:v1.0.0",
            routes: [{ port: 443, mode: RouteMode.L4 }],
            health: {
              type: HealthCheckType.HTTP,
              path: "/healthz",
              interval: "2s",
              retries: 4,
              startPeriod: "5s",
            },
          },
        ],
      },
    })) {
      // the stream's steps are not under test here
    }
    const c = store.getService("web")?.spec.components?.[0];
    expect(healthPolicy(c!)).toMatchObject({
      check: { type: "http", path: "/healthz" },
      intervalMs: 2000,
      retries: 4,
      startPeriodMs: 5000,
    });
  });
});

describe("the monitor sees the agent's verdicts", () => {
  it("a running container whose check fails `retries` times becomes unhealthy, and recovers", async () => {
    const { Monitor } = await import("../src/monitor/monitor.ts");
    let t = 0;
    let answer = FAIL;
    const hc = new HealthChecker({ runtime: {}, now: () => t, prober: async () => answer });
    const stored = {
      name: "web",
      spec: {
        name: "web",
        node: "rift",
        active: true,
        path: "web",
        components: [{ name: "api", image: "x:v1", routes: [{ port: 443, mode: "l4" as const }] }],
      },
      sourceToml: "",
      active: true,
      version: "v1",
      specHash: "h",
      components: [{ name: "api", image: "x:v1", version: "v1", specHash: "h-api" }],
      createdAt: "",
      updatedAt: "",
      deployedAt: null,
    } as StoredService;
    const ctr = {
      ...container("web-api", "api", "id1"),
      labels: {
        "mcp.service": "web",
        "mcp.component": "api",
        "mcp.version": "v1",
        "mcp.spec-hash": "h-api",
      },
    };
    const ports = [{ hostPort: 20000, service: "web", component: "api", route: "" }];
    const m = new Monitor({
      store: { listServices: () => [stored], transaction: (fn) => fn(), addEvent: () => {} },
      observed: { refresh: async () => [ctr] },
      probeHealth: (cs) => hc.probeContainers(cs, [stored], ports),
      log: { debug() {}, info() {}, warn() {} },
      now: () => t,
      settings: {
        nodeName: "rift",
        intervalMs: 10_000,
        cooldownMs: 0,
        flapThreshold: 10,
        flapWindowMs: 600_000,
        retentionMs: 86_400_000,
        reconcile: false,
      },
    });
    const seen: string[] = [];
    for (t = 0; t <= 30_000; t += 10_000) {
      const r = await m.cycle();
      seen.push(...r.transitions.map((x) => `${x.from}→${x.to}`));
      if (t === 20_000) answer = OK;
    }
    expect(seen).toEqual(["running→unhealthy", "unhealthy→running"]);
  });
});

function container(name: string, component: string, id: string): ContainerInfo {
  return {
    id,
    name,
    image: "x:v1",
    state: "running",
    status: "Up",
    labels: { "mcp.service": "web", "mcp.component": component },
    ports: [],
    health: "",
    restartCount: 0,
    startedAt: new Date(0),
  };
}
