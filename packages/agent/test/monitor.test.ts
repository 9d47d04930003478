import { describe, expect, it } from "vitest";
import {
  type ComponentState,
  type EvaluateConfig,
  evaluate,
  type MonitoredService,
  observeAll,
  pruneDue,
  splitContainerName,
} from "../src/monitor/evaluate.ts";
import type { ContainerInfo } from "../src/runtime/runtime.ts";

const IMAGE = "mcr.example/web:v1.0.0";
const S = 1000;
const M = 60 * S;

const CONFIG: EvaluateConfig = {
  nodeName: "rift",
  cooldownMs: 15 * M,
  flapThreshold: 3,
  flapWindowMs: 10 * M,
  retentionMs: 30 * 24 * 60 * M,
};

function svc(name: string, components: string[] = ["api"], active = true): MonitoredService {
  return {
    name,
    active,
    components: components.map((c) => ({
      name: c,
      image: IMAGE,
      version: "v1.0.0",
      specHash: `h-${c}`,
    })),
  };
}

function ctr(name: string, extra: Partial<ContainerInfo> = {}): ContainerInfo {
  const [service = "", ...rest] = name.split("-");
  return {
    id: `id-${name}`,
    name,
    image: IMAGE,
    state: "running",
    status: "Up",
    labels: {
      "mcp.service": service,
      "mcp.component": rest.join("-"),
      "mcp.version": "v1.0.0",
      "mcp.spec-hash": `h-${rest.join("-")}`,
    },
    ports: [],
    health: "",
    restartCount: 0,
    ...extra,
  };
}

/** Runs cycles against a fake clock, threading the states through. */
function cycles(config = CONFIG) {
  let states: ReadonlyMap<string, ComponentState> = new Map();
  return (desired: MonitoredService[], observed: ContainerInfo[], now: number) => {
    const r = evaluate(desired, observed, states, now, config);
    states = r.states;
    return r;
  };
}

describe("observed state of each component", () => {
  const web = svc("web");
  const state = (c: ContainerInfo | undefined, s = web) =>
    observeAll([s], c ? [c] : []).find((o) => o.key === `${s.name}/api`);

  it("running as desired is ok", () => {
    expect(state(ctr("web-api"))).toMatchObject({ state: "running", ok: true });
  });
  it("missing, exited with its code, created, stopped, paused are drift", () => {
    expect(state(undefined)).toMatchObject({ state: "missing", ok: false });
    expect(state(ctr("web-api", { state: "exited", exitCode: 137 }))).toMatchObject({
      state: "exited(137)",
      ok: false,
    });
    expect(state(ctr("web-api", { state: "created" }))).toMatchObject({
      state: "created",
      ok: false,
    });
    expect(state(ctr("web-api", { state: "stopped" }))).toMatchObject({
      state: "stopped",
      ok: false,
    });
    expect(state(ctr("web-api", { state: "paused" }))).toMatchObject({
      state: "paused",
      ok: false,
    });
  });
  it("running but unhealthy is drift", () => {
    expect(state(ctr("web-api", { health: "unhealthy" }))).toMatchObject({
      state: "unhealthy",
      ok: false,
    });
    expect(state(ctr("web-api", { health: "healthy" }))).toMatchObject({
      state: "running",
      ok: true,
    });
    // podman ps carries the verdict only at the end of its status text.
    expect(state(ctr("web-api", { status: "Up 4 minutes (unhealthy)" }))).toMatchObject({
      state: "unhealthy",
    });
    expect(state(ctr("web-api", { status: "Up 4 seconds (starting)" }))).toMatchObject({
      state: "running",
    });
  });
  it("another tag of the image is version drift, another image is image drift", () => {
    expect(state(ctr("web-api", { image: "mcr.example/web:v1.1.0" }))).toMatchObject({
      state: "version v1.1.0",
      ok: false,
    });
    expect(state(ctr("web-api", { image: "other.example/nginx:1.27" }))).toMatchObject({
      state: "image other.example/nginx:1.27",
      ok: false,
    });
    // Same image, but the container says it is another version (replaced by hand).
    expect(
      state(ctr("web-api", { labels: { "mcp.service": "web", "mcp.version": "v0.9.0" } })),
    ).toMatchObject({ state: "version v0.9.0", ok: false });
  });
  it("localhost/ and docker.io/library/ name the same image", () => {
    const s: MonitoredService = {
      name: "web",
      active: true,
      components: [
        { name: "api", image: "mcp-test/busybox:v1.0.0", version: "v1.0.0", specHash: "h-api" },
      ],
    };
    const c = ctr("web-api", { image: "localhost/mcp-test/busybox:v1.0.0" });
    expect(state(c, s)).toMatchObject({ state: "running", ok: true });
  });
  it("a stopped service wants its containers stopped: running is the drift", () => {
    const off = svc("web", ["api"], false);
    expect(state(ctr("web-api", { state: "exited", exitCode: 0 }), off)).toMatchObject({
      ok: true,
    });
    expect(state(undefined, off)).toMatchObject({ state: "missing", ok: true });
    expect(state(ctr("web-api"), off)).toMatchObject({ state: "running", ok: false });
  });
  it("drift reasons come from the status comparison", () => {
    expect(state(undefined)?.message).toBe("desired running, observed missing");
  });
});

describe("unmanaged containers", () => {
  it("splits names against known services, longest first (mc-proxy is a service)", () => {
    const known = ["mc-proxy", "mc"];
    expect(splitContainerName("mc-proxy-api", known)).toEqual({
      service: "mc-proxy",
      component: "api",
    });
    expect(splitContainerName("mc-web", known)).toEqual({ service: "mc", component: "web" });
    expect(splitContainerName("mcproxy", known)).toBeUndefined();
    expect(splitContainerName("mc-proxy", ["mc-proxy"])).toBeUndefined();
  });

  it("reports MCP-looking containers no definition manages, and nothing else", () => {
    const desired = [svc("mc-proxy", ["proxy"]), svc("mc", ["web"])];
    const observed = [
      ctr("mc-proxy-proxy"),
      ctr("mc-web"),
      // Known service, unknown component, no labels: looks like ours by its name.
      ctr("mc-proxy-extra", { labels: {} }),
      // Labelled by MCP, but its service is not defined here.
      ctr("ghost-api"),
      // Neither: someone else's container.
      ctr("postgres", { labels: {} }),
      ctr("t3k9xq2-web", { labels: { "mcp-testkit.run": "x" } }),
      // The engine's previous version during a replacement is its own, and so is the new
      // one before it takes the name (replacement through the proxy).
      ctr("mc-web_prev"),
      ctr("mc-web_next"),
    ];
    const r = evaluate(desired, observed, new Map(), 0, CONFIG);
    const unmanaged = [...r.states.values()].filter((s) => s.unmanaged);
    expect(unmanaged.map((s) => [s.container, s.service, s.component]).sort()).toEqual([
      ["ghost-api", "ghost", "api"],
      ["mc-proxy-extra", "mc-proxy", "extra"],
    ]);
    expect(r.events.filter((e) => e.kind === "unmanaged")).toHaveLength(2);
    expect(r.alerts.map((a) => a.to)).toEqual(["unmanaged", "unmanaged"]);
  });

  it("an unmanaged container that goes away is reported once, then forgotten", () => {
    const run = cycles();
    run([svc("web")], [ctr("web-api"), ctr("web-old", { labels: {} })], 0);
    const r = run([svc("web")], [ctr("web-api")], 16 * M);
    expect(r.transitions).toMatchObject([{ from: "unmanaged", to: "gone", ok: true }]);
    expect(r.alerts).toMatchObject([{ kind: "recovered", from: "unmanaged", to: "gone" }]);
    expect([...r.states.keys()]).toEqual(["web/api"]);
  });
});

describe("transitions, events and alerts", () => {
  it("the first sight of a healthy component is the baseline: no event, no alert", () => {
    const r = cycles()([svc("web")], [ctr("web-api")], 0);
    expect(r.transitions).toEqual([]);
    expect(r.events).toEqual([]);
    expect(r.alerts).toEqual([]);
  });

  it("a change is an event and an alert with every detail; the way back is recovered", () => {
    const run = cycles();
    run([svc("web")], [ctr("web-api")], 0);
    const down = run([svc("web")], [ctr("web-api", { state: "exited", exitCode: 137 })], 20 * M);
    expect(down.events).toEqual([
      {
        service: "web",
        component: "api",
        kind: "drift",
        level: "error",
        from: "running",
        to: "exited(137)",
        message: "desired running, observed exited",
      },
    ]);
    expect(down.alerts).toEqual([
      {
        kind: "change",
        node: "rift",
        service: "web",
        component: "api",
        from: "running",
        to: "exited(137)",
        time: new Date(20 * M).toISOString(),
        message: "desired running, observed exited",
      },
    ]);
    const up = run([svc("web")], [ctr("web-api")], 40 * M);
    expect(up.events).toMatchObject([{ kind: "recovered", level: "info", from: "exited(137)" }]);
    expect(up.alerts).toMatchObject([{ kind: "recovered", from: "exited(137)", to: "running" }]);
  });

  it("a transient state (stopping) keeps the previous one", () => {
    const run = cycles();
    run([svc("web")], [ctr("web-api")], 0);
    const r = run([svc("web")], [ctr("web-api", { state: "stopping" })], M);
    expect(r.events).toEqual([]);
    expect(r.states.get("web/api")?.state).toBe("running");
    const e = run([svc("web")], [ctr("web-api", { state: "exited", exitCode: 137 })], 2 * M);
    expect(e.transitions).toMatchObject([{ from: "running", to: "exited(137)" }]);
  });

  it("a transient state seen two cycles in a row is taken as the state", () => {
    const run = cycles();
    run([svc("web")], [ctr("web-api")], 0);
    run([svc("web")], [ctr("web-api", { state: "stopped" })], M);
    const r = run([svc("web")], [ctr("web-api", { state: "stopped" })], 2 * M);
    expect(r.transitions).toMatchObject([{ from: "running", to: "stopped" }]);
  });

  it("no change, no event", () => {
    const run = cycles();
    run([svc("web")], [], 0);
    const again = run([svc("web")], [], M);
    expect(again.events).toEqual([]);
    expect(again.alerts).toEqual([]);
  });

  it("a component first seen broken is news", () => {
    const r = cycles()([svc("web")], [], 0);
    expect(r.transitions).toMatchObject([{ from: "", to: "missing" }]);
    expect(r.alerts).toMatchObject([{ kind: "change", from: "", to: "missing" }]);
  });

  it("alerts at most once per component per cooldown; what it hid is told when it ends", () => {
    const run = cycles({ ...CONFIG, flapThreshold: 100 });
    const d = [svc("web", ["api", "db"])];
    run(d, [ctr("web-api"), ctr("web-db")], 0);
    const a = run(d, [ctr("web-db")], M);
    expect(a.alerts.map((x) => `${x.component} ${x.to}`)).toEqual(["api missing"]);
    // Within the cooldown: api changes again (event, no alert); db is another component.
    const b = run(d, [ctr("web-api", { state: "exited", exitCode: 1 })], 2 * M);
    expect(b.events.map((e) => `${e.component} ${e.to}`)).toEqual(["api exited(1)", "db missing"]);
    expect(b.alerts.map((x) => `${x.component} ${x.to}`)).toEqual(["db missing"]);
    const c = run(d, [ctr("web-api", { state: "exited", exitCode: 1 })], 10 * M);
    expect(c.alerts).toEqual([]);
    // Cooldown over: api is told its current state, once.
    const e = run(d, [ctr("web-api", { state: "exited", exitCode: 1 })], 16 * M + 1);
    expect(e.alerts).toMatchObject([{ component: "api", from: "missing", to: "exited(1)" }]);
    expect(run(d, [ctr("web-api", { state: "exited", exitCode: 1 })], 40 * M).alerts).toEqual([]);
  });

  it("a recovery hidden by the cooldown is told when the cooldown ends", () => {
    const run = cycles({ ...CONFIG, flapThreshold: 100 });
    run([svc("web")], [ctr("web-api")], 0);
    expect(run([svc("web")], [], M).alerts).toHaveLength(1);
    expect(run([svc("web")], [ctr("web-api")], 2 * M).alerts).toEqual([]);
    expect(run([svc("web")], [ctr("web-api")], 17 * M).alerts).toMatchObject([
      { kind: "recovered", from: "missing", to: "running" },
    ]);
  });
});

describe("flapping", () => {
  const d = [svc("web")];
  const up = [ctr("web-api")];
  const down = [ctr("web-api", { state: "exited", exitCode: 1 })];

  it("is reported once, kept quiet, and ends after a flap window without change", () => {
    const run = cycles({ ...CONFIG, cooldownMs: 0 });
    run(d, up, 0);
    expect(run(d, down, 1 * M).alerts).toMatchObject([{ kind: "change" }]);
    expect(run(d, up, 2 * M).alerts).toMatchObject([{ kind: "recovered" }]);
    const third = run(d, down, 3 * M);
    expect(third.flapping).toEqual(["web/api"]);
    expect(third.alerts).toMatchObject([{ kind: "flapping", from: "running", to: "exited(1)" }]);
    expect(third.events.map((e) => e.kind)).toEqual(["drift", "flapping"]);
    // Kept quiet: every change is still an event, none is an alert.
    for (let t = 4; t < 10; t++) {
      const r = run(d, t % 2 === 0 ? up : down, t * M);
      expect(r.events.map((e) => e.kind)).toEqual([t % 2 === 0 ? "recovered" : "drift"]);
      expect(r.alerts).toEqual([]);
      expect(r.flapping).toEqual([]);
    }
    // Last change at 9 min (down); stable until 19 min.
    expect(run(d, down, 18 * M).alerts).toEqual([]);
    const stable = run(d, down, 19 * M);
    expect(stable.events).toMatchObject([{ kind: "stable", from: "flapping", to: "exited(1)" }]);
    expect(stable.alerts).toEqual([]); // exited(1) is what the flapping alert said
    expect(stable.states.get("web/api")?.flapping).toBe(false);
    // After it, changes alert again.
    expect(run(d, up, 20 * M).alerts).toMatchObject([{ kind: "recovered" }]);
  });

  it("changes spread wider than the window are not flapping", () => {
    const run = cycles({ ...CONFIG, cooldownMs: 0 });
    run(d, up, 0);
    for (let i = 1; i <= 6; i++) {
      const r = run(d, i % 2 ? down : up, i * 6 * M);
      expect(r.flapping).toEqual([]);
      expect(r.alerts).toHaveLength(1);
    }
  });

  it("restarts by the restart policy count, even when each cycle sees it running", () => {
    const run = cycles({ ...CONFIG, cooldownMs: 0 });
    run(d, [ctr("web-api", { restartCount: 0 })], 0);
    const r = run(d, [ctr("web-api", { restartCount: 1 })], M);
    expect(r.events).toMatchObject([{ kind: "restarted", from: "running", to: "running" }]);
    const f = run(d, [ctr("web-api", { restartCount: 3 })], 2 * M);
    expect(f.flapping).toEqual(["web/api"]);
    expect(f.alerts).toMatchObject([{ kind: "flapping" }]);
  });

  it("Podman 4 gives no restart count: the same container started again is a restart", () => {
    const run = cycles({ ...CONFIG, cooldownMs: 0 });
    const at = (ms: number, id = "id-web-api") =>
      ctr("web-api", { id, startedAt: new Date(1_700_000_000_000 + ms) });
    run(d, [at(0)], 0);
    expect(run(d, [at(0)], M).events).toEqual([]);
    const r = run(d, [at(30 * S)], 2 * M);
    expect(r.events).toMatchObject([{ kind: "restarted", from: "running", to: "running" }]);
    // Crash-looping under restart=always: running at every poll, and still found out.
    run(d, [at(90 * S)], 3 * M);
    const f = run(d, [at(150 * S)], 4 * M);
    expect(f.flapping).toEqual(["web/api"]);
    // Another container under the name (a deploy replaced it) is not a restart.
    const fresh = cycles({ ...CONFIG, cooldownMs: 0 });
    fresh(d, [at(0)], 0);
    expect(fresh(d, [at(30 * S, "id-new")], M).events).toEqual([]);
  });

  it("a restart the agent itself did (its service was busy) is not taken for the policy's", () => {
    let states: ReadonlyMap<string, ComponentState> = new Map();
    const at = (ms: number) => ctr("web-api", { startedAt: new Date(1_700_000_000_000 + ms) });
    states = evaluate(d, [at(0)], states, 0, CONFIG).states;
    states = evaluate(d, [at(10 * S)], states, M, CONFIG, new Set(["web"])).states;
    expect(evaluate(d, [at(10 * S)], states, 2 * M, CONFIG).events).toEqual([]);
  });

  it("keeps at most flap_threshold change times per component", () => {
    const run = cycles({ ...CONFIG, cooldownMs: 0 });
    let last = run(d, up, 0);
    for (let i = 1; i < 50; i++) last = run(d, i % 2 ? down : up, i * S);
    expect(last.states.get("web/api")?.changes.length).toBeLessThanOrEqual(3);
  });
});

describe("memory and busy services", () => {
  it("forgets components of removed services", () => {
    const run = cycles();
    run([svc("web"), svc("db")], [ctr("web-api"), ctr("db-api")], 0);
    const r = run([svc("web")], [ctr("web-api"), ctr("db-api", { labels: {} })], M);
    // db is no longer defined, and its container has no labels: it is nobody's.
    expect([...r.states.keys()]).toEqual(["web/api"]);
  });

  it("a service whose deploy is in progress keeps its previous state", () => {
    const run = cycles();
    const first = run([svc("web")], [ctr("web-api")], 0);
    const busy = evaluate([svc("web")], [], first.states, M, CONFIG, new Set(["web"]));
    expect(busy.events).toEqual([]);
    expect(busy.states.get("web/api")?.state).toBe("running");
  });
});

describe("retention", () => {
  it("events older than retention are cut off", () => {
    const now = Date.parse("2026-03-30T12:00:00Z");
    const r = evaluate([], [], new Map(), now, { ...CONFIG, retentionMs: 30 * 24 * 60 * M });
    expect(r.pruneBefore.toISOString()).toBe("2026-02-28T12:00:00.000Z");
  });
  it("prunes each cycle with a short retention, else at most hourly", () => {
    expect(pruneDue(undefined, 0, 30 * 24 * 60 * M)).toBe(true);
    expect(pruneDue(0, 59 * M, 30 * 24 * 60 * M)).toBe(false);
    expect(pruneDue(0, 60 * M, 30 * 24 * 60 * M)).toBe(true);
    expect(pruneDue(0, 2 * S, 2 * S)).toBe(true);
  });
});
