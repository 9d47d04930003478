import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTestImage, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/deploy/engine.ts";
import { AlertRunner } from "../../src/monitor/alert.ts";
import { type CycleReport, Monitor, type MonitorSettings } from "../../src/monitor/monitor.ts";
import { openEventPruner } from "../../src/monitor/prune.ts";
import { podmanEvents } from "../../src/monitor/start.ts";
import { ObservedState } from "../../src/observed.ts";
import { adaptRuntime } from "../../src/runtime/podman.ts";
import type { ContainerRuntime } from "../../src/runtime/runtime.ts";
import type { ServiceDef } from "../../src/spec.ts";
import { openStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";

// The monitor against real rootless Podman (user `mcp`): a service deployed by the real
// engine, then killed, stopped and replaced by hand, as an operator or a crash would.

const INTERVAL = 300;
// A change is seen by the first cycle that starts after it: within one interval plus the
// cycle's own `podman ps`, which is slow on a loaded CI machine.
const WITHIN = INTERVAL + 8000;

let h: PodmanHarness;
let dir: string;
let store: Store;
let runtime: ContainerRuntime;
let listCalls = 0;
let observed: ObservedState;
let engine: Engine;
let service: string;
let imageV2: string;
const monitors: Monitor[] = [];

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function logger(into: Logged[] = []) {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      into.push({ level, msg, fields });
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn") };
}

function def(): ServiceDef {
  const component = (name: string) => ({
    name,
    image: h.image,
    network: "none",
    cmd: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 8080 -h /www"],
  });
  return {
    name: service,
    node: "rift",
    active: true,
    path: service,
    components: [component("api"), component("db"), component("web")],
  };
}

function monitor(
  settings: Partial<MonitorSettings> = {},
  extra: { alerts?: AlertRunner; log?: Logged[]; pruner?: boolean; events?: boolean } = {},
): Monitor {
  // Each test's monitor starts with no view of its own, as an agent's very first start
  // (the registry keeps the view across restarts; the tests share one registry).
  store.saveMonitorStates([]);
  const m = new Monitor({
    store,
    observed,
    engine,
    events: extra.events
      ? podmanEvents({
          path: "podman",
          run_as: process.getuid?.() === h.user.uid ? "" : h.user.name,
          xdg_runtime_dir: `/run/user/${h.user.uid}`,
        })
      : undefined,
    alerts: extra.alerts,
    pruner: extra.pruner ? openEventPruner(join(dir, "agent.db")) : undefined,
    log: logger(extra.log),
    settings: {
      nodeName: "rift",
      intervalMs: INTERVAL,
      cooldownMs: 60_000,
      flapThreshold: 3,
      flapWindowMs: 60_000,
      retentionMs: 30 * 86_400_000,
      reconcile: false,
      ...settings,
    },
  });
  monitors.push(m);
  return m;
}

/** Resolves with the first cycle report for which `test` holds, or fails after `ms`. */
function until(m: Monitor, test: (r: CycleReport) => boolean, ms = WITHIN): Promise<CycleReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching monitor cycle within ${ms} ms`));
    }, ms);
    const off = m.onCycle((r) => {
      if (!test(r)) return;
      clearTimeout(timer);
      off();
      resolve(r);
    });
  });
}

const sees = (component: string, to: string) => (r: CycleReport) =>
  r.transitions.some((t) => t.service === service && t.component === component && t.to === to);

/**
 * A script that writes its MCP_ALERT_* environment to a file of its own per call (alerts
 * run concurrently, and other runs' MCP-looking containers alert too: one shared file
 * would interleave).
 */
async function alertScript(): Promise<{ path: string; out: string }> {
  const out = await mkdtemp(join(dir, "alerts-"));
  const path = join(dir, `${out.split("/").at(-1)}.sh`);
  await writeFile(path, `#!/bin/sh\nenv | grep '^MCP_ALERT_' | sort > '${out}/'$$\n`);
  await chmod(path, 0o755);
  return { path, out };
}

/** The alerts a script received, oldest first. */
async function readAlerts(out: string): Promise<Record<string, string>[]> {
  const files = await readdir(out);
  const alerts = await Promise.all(
    files.map(async (f) =>
      Object.fromEntries(
        (await readFile(join(out, f), "utf8"))
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      ),
    ),
  );
  return alerts.sort((a, b) => (a.MCP_ALERT_TIME ?? "").localeCompare(b.MCP_ALERT_TIME ?? ""));
}

async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  ms = WITHIN,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const container = (component: string) => `${service}-${component}`;

async function redeploy(): Promise<void> {
  await engine.deploy(def(), "toml", () => undefined);
}

beforeAll(async () => {
  h = await setupPodman();
  imageV2 = await ensureTestImage(h.client, { tag: "v2.0.0" });
  dir = await mkdtemp(join(tmpdir(), "mcp-monitor-"));
  store = openStore(join(dir, "agent.db"));
  const real = adaptRuntime(h.client);
  runtime = {
    ...real,
    list: () => {
      listCalls++;
      return real.list();
    },
  };
  observed = new ObservedState(runtime, store, 60_000);
  engine = new Engine({
    store,
    runtime,
    observed,
    platform: {},
    probe: async () => true,
    options: {
      nodeName: "rift",
      address: "127.0.0.1",
      zone: "svc.example",
      certsDir: dir,
      listeners: {},
      portRange: { low: 30000, high: 30100 },
      historyKeep: 5,
      stopTimeoutSeconds: 1,
    },
  });
  service = h.name("mon");
  await redeploy();
}, 180_000);

afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.stop()));
  await redeploy();
});

afterAll(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.stop()));
  store?.close();
  await h?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe("monitor on real rootless Podman", () => {
  it("sees a kill, a stop and a hand-replaced image within one interval, each as an event and an alert", async () => {
    const script = await alertScript();
    const alerts = new AlertRunner([script.path], { log: logger(), timeoutMs: 5000 });
    const m = monitor({}, { alerts });
    const first = until(m, () => true);
    m.start();
    const r0 = await first;
    // Freshly deployed: no drift, so nothing to tell.
    expect(r0.transitions.filter((t) => t.service === service)).toEqual([]);
    const since = new Date().toISOString();

    let seen = until(m, sees("api", "exited(137)"));
    await h.client.stopContainer(container("api"), { timeoutSeconds: 0 });
    await seen;

    // A stop with its timeout: busybox ignores SIGTERM, so Podman kills it after 1 s, and
    // the monitor may see it `stopping` for that second (several short intervals).
    seen = until(m, (r) =>
      r.transitions.some(
        (t) => t.service === service && t.component === "db" && t.to.startsWith("exited("),
      ),
    );
    await h.client.stopContainer(container("db"), { timeoutSeconds: 1 });
    await seen;

    seen = until(m, sees("web", "version v2.0.0"));
    const labels = { "mcp.service": service, "mcp.component": "web" };
    await h.client.removeContainer(container("web"), { force: true, timeoutSeconds: 0 });
    await h.client.runContainer({
      name: container("web"),
      image: imageV2,
      labels,
      network: "none",
      cmd: ["sh", "-c", "mkdir -p /www && exec httpd -f -p 8080 -h /www"],
    });
    await seen;

    // Each change is an event in the registry …
    const events = store
      .listEvents({ service, since })
      .reverse()
      .map((e) => `${e.kind} ${e.component} ${e.from}→${e.to}`);
    // (A cycle may catch the stop half-way, or the replaced container before its successor.)
    const of = (c: string) => events.filter((e) => e.includes(` ${c} `));
    expect(of("api")).toEqual(["drift api running→exited(137)"]);
    expect(of("db")[0]).toMatch(/^drift db running→(stopping|exited\(\d+\))$/);
    expect(of("db").at(-1)).toMatch(/→exited\(\d+\)$/);
    expect(of("web")[0]).toMatch(/^drift web running→(missing|version v2\.0\.0)$/);
    expect(of("web").at(-1)).toMatch(/→version v2\.0\.0$/);
    // … and an alert with every detail in its environment.
    await alerts.idle();
    // Other runs' MCP-looking containers on this Podman are alerted too (as unmanaged).
    const told = await waitFor(async () => {
      const a = (await readAlerts(script.out)).filter((x) => x.MCP_ALERT_SERVICE === service);
      return a.length >= 3 ? a : undefined;
    });
    const api = told.find((a) => a.MCP_ALERT_COMPONENT === "api");
    expect(api).toEqual({
      MCP_ALERT_KIND: "change",
      MCP_ALERT_NODE: "rift",
      MCP_ALERT_SERVICE: service,
      MCP_ALERT_COMPONENT: "api",
      MCP_ALERT_FROM: "running",
      MCP_ALERT_TO: "exited(137)",
      MCP_ALERT_TIME: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      MCP_ALERT_MESSAGE: "desired running, observed exited",
    });
    expect(told.map((a) => a.MCP_ALERT_COMPONENT).sort()).toEqual(["api", "db", "web"]);
  });

  it("a container started again behind the agent's back is a restart, though Podman 4's ps counts none", async () => {
    const m = monitor({});
    const first = until(m, () => true);
    m.start();
    await first;
    const since = new Date().toISOString();
    await h.client.restartContainer(container("api"), { timeoutSeconds: 0 });
    const event = await waitFor(() =>
      store
        .listEvents({ service, since })
        .find((e) => e.kind === "restarted" && e.component === "api"),
    );
    expect(event).toMatchObject({ from: "running", to: "running", level: "warning" });
    // Nothing else of the service restarted.
    expect(store.listEvents({ service, since }).filter((e) => e.kind === "restarted")).toHaveLength(
      1,
    );
  });

  it("following podman events, sees a kill in about a second with a long interval, and reads are fresh", async () => {
    const m = monitor({ intervalMs: 60_000 }, { events: true });
    const first = until(m, () => true);
    m.start();
    await first;
    // Let `podman events` get going before the change it must report.
    await new Promise((r) => setTimeout(r, 1500));
    const seen = until(m, sees("api", "exited(137)"), 5000);
    const t = Date.now();
    await h.client.stopContainer(container("api"), { timeoutSeconds: 0 });
    // The cache is invalidated by the event: a read right after the change is fresh.
    await waitFor(async () => {
      const c = (await observed.list()).find((x) => x.name === container("api"));
      return c?.state === "exited" ? true : undefined;
    }, 5000);
    await seen;
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it("costs one podman ps per cycle and keeps the agent's cache fresh for ps/status", async () => {
    const m = monitor();
    await m.cycle();
    const before = listCalls;
    for (let i = 0; i < 5; i++) await m.cycle();
    expect(listCalls - before).toBe(5);
    // Reads answer from what the monitor listed, without another podman call.
    const seen = await observed.list();
    expect(listCalls - before).toBe(5);
    expect(seen.filter((c) => c.name.startsWith(`${service}-`)).map((c) => c.state)).toEqual([
      "running",
      "running",
      "running",
    ]);
    expect(store.listObserved().some((r) => r.name === container("api"))).toBe(true);
  });

  it("alerts once per component per cooldown; flapping is told once, then kept quiet", async () => {
    const script = await alertScript();
    const alerts = new AlertRunner([script.path], { log: logger(), timeoutMs: 5000 });
    const m = monitor({ cooldownMs: 0, flapThreshold: 3, flapWindowMs: 60_000 }, { alerts });
    await m.cycle();
    m.start();
    const toggle = async (to: "down" | "up") => {
      const seen = until(m, to === "down" ? sees("api", "exited(137)") : sees("api", "running"));
      if (to === "down") await h.client.stopContainer(container("api"), { timeoutSeconds: 0 });
      else await h.client.startContainer(container("api"));
      return seen;
    };
    for (const to of ["down", "up", "down", "up", "down"] as const) await toggle(to);
    await alerts.idle();
    const told = (await readAlerts(script.out)).filter((a) => a.MCP_ALERT_SERVICE === service);
    expect(told.map((a) => `${a.MCP_ALERT_KIND} ${a.MCP_ALERT_TO}`)).toEqual([
      "change exited(137)",
      "recovered running",
      "flapping exited(137)",
    ]);
    expect(m.states.get(`${service}/api`)?.flapping).toBe(true);
    // Five changes, five events, besides the one flapping event.
    const kinds = store
      .listEvents({ service, limit: 6 })
      .map((e) => e.kind)
      .reverse();
    expect(kinds).toEqual(["drift", "recovered", "drift", "flapping", "recovered", "drift"]);
  });

  it("with a cooldown, a second change of the same component is not alerted", async () => {
    const script = await alertScript();
    const alerts = new AlertRunner([script.path], { log: logger(), timeoutMs: 5000 });
    const m = monitor({ cooldownMs: 60_000, flapThreshold: 100 }, { alerts });
    await m.cycle();
    m.start();
    let seen = until(m, sees("api", "exited(137)"));
    await h.client.stopContainer(container("api"), { timeoutSeconds: 0 });
    await seen;
    seen = until(m, sees("api", "running"));
    await h.client.startContainer(container("api"));
    await seen;
    await alerts.idle();
    const told = (await readAlerts(script.out)).filter((a) => a.MCP_ALERT_SERVICE === service);
    expect(told.map((a) => `${a.MCP_ALERT_KIND} ${a.MCP_ALERT_TO}`)).toEqual([
      "change exited(137)",
    ]);
  });

  it("prunes events past retention", async () => {
    store.addEvent({ service, kind: "old", message: "past retention soon" });
    const m = monitor({ retentionMs: 1000 }, { pruner: true });
    await new Promise((r) => setTimeout(r, 1100));
    store.addEvent({ service, kind: "recent" });
    const r = await m.cycle();
    expect(r.pruned).toBeGreaterThanOrEqual(1);
    const kinds = store.listEvents({ service }).map((e) => e.kind);
    expect(kinds).toContain("recent");
    expect(kinds).not.toContain("old");
  });

  it("kills an alert command that hangs, children and all, and keeps cycling", async () => {
    const pids = join(dir, "hang-pids");
    const path = join(dir, "hang.sh");
    // Hangs for this service's alerts only; other runs' containers alert too.
    await writeFile(
      path,
      `#!/bin/sh\n[ "$MCP_ALERT_SERVICE" = "${service}" ] || exit 0\nsleep 300 &\necho "$$ $!" >> '${pids}'\nwait\n`,
    );
    await chmod(path, 0o755);
    const log: Logged[] = [];
    const alerts = new AlertRunner([path], { log: logger(log), timeoutMs: 500 });
    const m = monitor({}, { alerts, log });
    await m.cycle();
    m.start();
    const seen = until(m, sees("api", "exited(137)"));
    await h.client.stopContainer(container("api"), { timeoutSeconds: 0 });
    const at = (await seen).at;
    // Cycles go on while the command hangs.
    await until(m, (r) => r.at > at);
    await until(m, (r) => r.at > at + INTERVAL);
    await waitFor(() =>
      log.some(
        (l) => l.msg === "alert command timed out and was killed" && l.fields.service === service,
      )
        ? true
        : undefined,
    );
    await waitFor(() => (alerts.pending === 0 ? true : undefined), 30_000);
    const [shell, sleeper] = (await readFile(pids, "utf8")).trim().split(" ").map(Number);
    const alive = (pid: number | undefined) => {
      try {
        process.kill(pid as number, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(() => (!alive(shell) && !alive(sleeper) ? true : undefined), 3000);
  });

  it("reconcile (opt-in) starts a stopped component and recreates a missing one", async () => {
    const m = monitor({ reconcile: true });
    await m.cycle();
    m.start();
    await h.client.stopContainer(container("db"), { timeoutSeconds: 0 });
    await h.client.removeContainer(container("web"), { force: true, timeoutSeconds: 0 });
    await waitFor(async () => {
      const list = await h.client.listContainers({ all: true });
      const state = (c: string) => list.find((x) => x.name === container(c))?.state;
      return state("db") === "running" && state("web") === "running" ? true : undefined;
    }, 30_000);
    await waitFor(() =>
      store.listEvents({ service }).some((e) => e.kind === "reconciled") ? true : undefined,
    );
  });
});
