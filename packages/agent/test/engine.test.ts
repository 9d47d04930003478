import { describe, expect, it } from "vitest";
import type { EngineOptions } from "../src/deploy/engine.ts";
import type { StepEvent } from "../src/deploy/steps.ts";
import { isAgentError } from "../src/errors.ts";
import type { Platform, RouteRegistration } from "../src/platform.ts";
import type { ServiceDef } from "../src/spec.ts";
import { ENGINE_OPTIONS, engineSetup } from "./helpers/engine.ts";

const IMAGE1 = "reg.example/web:v1.0.0";
const IMAGE2 = "reg.example/web:v1.1.0";

function def(image = IMAGE1, extra: Partial<ServiceDef> = {}): ServiceDef {
  return {
    name: "web",
    node: "rift",
    active: true,
    path: "web",
    components: [
      {
        name: "api",
        image,
        routes: [
          { name: "rest", port: 8443, mode: "l4" },
          { name: "grpc", port: 9443, mode: "l4" },
        ],
      },
      { name: "ui", image, routes: [{ port: 443, mode: "l7" }] },
    ],
    ...extra,
  };
}

const options: EngineOptions = { ...ENGINE_OPTIONS, listeners: { "443": "https" } };

function setup(platform: Platform = {}) {
  return engineSetup(IMAGE1, platform, options);
}

const finals = (events: StepEvent[]) => events.filter((e) => e.status !== "started");

describe("Engine.deploy", () => {
  it("allocates ports, sets PORT env, labels and starts containers", async () => {
    const { engine, runtime, store, emit, events } = setup();
    const r = await engine.deploy(def(), "toml", emit);
    expect(r.changed).toBe(true);
    expect(r.ports).toEqual({ rest: 20000, grpc: 20001, ui: 20002 });
    const api = runtime.containers.get("web-api")!;
    expect(api.state).toBe("running");
    expect(api.spec.env).toMatchObject({ PORT_REST: "20000", PORT_GRPC: "20001" });
    expect(runtime.containers.get("web-ui")!.spec.env).toMatchObject({ PORT: "20002" });
    expect(api.labels).toMatchObject({
      "mcp.service": "web",
      "mcp.component": "api",
      "mcp.version": "v1.0.0",
    });
    expect(api.labels["mcp.spec-hash"]).toMatch(/^[0-9a-f]{16}$/);
    expect(store.listPorts("web").map((p) => p.hostPort)).toEqual([20000, 20001, 20002]);
    expect(store.getService("web")?.version).toBe("v1.0.0");
    expect(store.listHistory("web")[0]?.outcome).toBe("succeeded");
    // Platform steps report that they are not configured.
    const platformSteps = finals(events).filter((e) =>
      ["certificate", "register-routes", "register-dns"].includes(e.name),
    );
    expect(platformSteps.map((e) => [e.name, e.status, e.message])).toEqual([
      ["certificate", "skipped", "skipped (not configured)"],
      ["register-routes", "skipped", "skipped (not configured)"],
      ["register-dns", "skipped", "skipped (not configured)"],
    ]);
  });

  it("changes nothing when the same spec is deployed twice", async () => {
    const { engine, runtime, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const id = runtime.containers.get("web-api")!.id;
    runtime.calls.length = 0;
    const events: StepEvent[] = [];
    const r = await engine.deploy(def(), "toml", (e) => events.push(e));
    expect(r.changed).toBe(false);
    expect(runtime.containers.get("web-api")!.id).toBe(id);
    // One list, nothing else touches the runtime.
    expect(runtime.calls).toEqual(["list"]);
    const statuses = new Set(finals(events).map((e) => e.status));
    expect([...statuses].every((s) => s === "unchanged" || s === "skipped")).toBe(true);
    expect(finals(events).some((e) => e.status === "unchanged")).toBe(true);
  });

  it("pulls an image only when it is missing", async () => {
    const { engine, runtime, emit } = setup();
    await engine.deploy(def(IMAGE2), "toml", emit);
    expect(runtime.calls.filter((c) => c.startsWith("pull"))).toEqual([`pull ${IMAGE2}`]);
  });

  it("replaces a container whose spec changed, beside the old one on fresh ports", async () => {
    const { engine, runtime, store, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const before = runtime.containers.get("web-api")!.id;
    runtime.images.add(IMAGE2);
    const r = await engine.deploy(def(IMAGE2), "toml2", emit);
    expect(r.changed).toBe(true);
    // Routed components start beside the old container, so they get fresh ports.
    expect(r.ports).toEqual({ rest: 20003, grpc: 20004, ui: 20005 });
    expect(store.listPorts("web").map((p) => p.hostPort)).toEqual([20003, 20004, 20005]);
    expect(runtime.containers.has("web-api_next")).toBe(false);
    const api = runtime.containers.get("web-api")!;
    expect(api.id).not.toBe(before);
    expect(api.image).toBe(IMAGE2);
    expect(api.state).toBe("running");
    expect(runtime.containers.has("web-api_prev")).toBe(false);
    expect(store.listHistory("web").map((h) => h.version)).toEqual(["v1.1.0", "v1.0.0"]);
  });

  it("leaves the previous version running when a step fails", async () => {
    const { engine, runtime, store, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const apiBefore = runtime.containers.get("web-api")!.id;
    const uiBefore = runtime.containers.get("web-ui")!.id;
    runtime.images.add(IMAGE2);
    // The second component's new container fails to start.
    runtime.failOn("start", "web-ui_next", "OCI runtime error");
    const events: StepEvent[] = [];
    const err = await engine.deploy(def(IMAGE2), "toml2", (e) => events.push(e)).catch((e) => e);
    expect(isAgentError(err)).toBe(true);
    expect(err.message).toBe("container (ui) failed: OCI runtime error");
    for (const [name, id] of [
      ["web-api", apiBefore],
      ["web-ui", uiBefore],
    ] as const) {
      const c = runtime.containers.get(name)!;
      expect(c.id).toBe(id);
      expect(c.image).toBe(IMAGE1);
      expect(c.state).toBe("running");
    }
    expect(runtime.containers.has("web-api_prev")).toBe(false);
    expect([...runtime.containers.keys()].sort()).toEqual(["web-api", "web-ui"]);
    expect(store.listPorts("web").map((p) => p.hostPort)).toEqual([20000, 20001, 20002]);
    expect(store.getService("web")?.version).toBe("v1.0.0");
    expect(events.filter((e) => e.status === "undone").map((e) => e.component)).toEqual(
      expect.arrayContaining(["api"]),
    );
    expect(store.listHistory("web")[0]?.outcome).toBe("rolled_back");
    expect(store.unfinishedOperations()).toEqual([]);
  });

  it("releases new ports and forgets a new service when its first deploy fails", async () => {
    const { engine, runtime, store, emit } = setup();
    runtime.failOn("create", "web-ui");
    await expect(engine.deploy(def(), "toml", emit)).rejects.toThrow(/create failed/);
    expect(store.listPorts()).toEqual([]);
    expect(store.getService("web")).toBeUndefined();
    expect(runtime.containers.size).toBe(0);
    expect(store.listEvents({ service: "web" })[0]?.kind).toBe("deploy-failed");
  });

  it("registers routes and DNS through the platform ports", async () => {
    const routes: RouteRegistration[] = [];
    const dns: string[] = [];
    const certs: string[] = [];
    const { engine, emit, runtime } = setup({
      certificates: {
        ensure: async (s, hosts) => {
          certs.push(`${s}:${hosts.join(",")}`);
          return { certPath: `/certs/${s}.pem`, keyPath: `/certs/${s}.key`, issued: true };
        },
        remove: async () => {},
      },
      routes: {
        add: async (r) => {
          routes.push(r);
          return true;
        },
        remove: async (l, h) => {
          const i = routes.findIndex((r) => r.listener === l && r.hostname === h);
          if (i >= 0) routes.splice(i, 1);
        },
      },
      dns: {
        register: async (n) => {
          dns.push(n);
          return true;
        },
        unregister: async (n) => {
          dns.splice(dns.indexOf(n), 1);
        },
      },
    });
    await engine.deploy(def(), "toml", emit);
    expect(certs).toEqual(["web:web.svc.example"]);
    expect(routes).toContainEqual({
      listener: "https",
      hostname: "web.svc.example",
      backend: "10.0.0.5:20002",
      mode: "l7",
      tlsCert: "/certs/web.pem",
      tlsKey: "/certs/web.key",
    });
    expect(routes.find((r) => r.listener === ":8443")?.backend).toBe("10.0.0.5:20000");
    expect(dns).toEqual(["web"]);

    // Stop: DNS, then routes, then containers.
    const events: StepEvent[] = [];
    await engine.stop("web", (e) => events.push(e));
    expect(finals(events).map((e) => e.name)).toEqual([
      "remove-dns",
      "remove-routes",
      "stop",
      "stop",
    ]);
    expect(routes).toEqual([]);
    expect(dns).toEqual([]);
    expect(runtime.containers.get("web-api")!.state).toBe("exited");
  });

  it("undoes route registration when DNS fails", async () => {
    const routes: string[] = [];
    const { engine, runtime, emit } = setup({
      routes: {
        add: async (r) => {
          routes.push(r.hostname);
          return true;
        },
        remove: async (_l, h) => {
          routes.splice(routes.indexOf(h), 1);
        },
      },
      dns: {
        register: async () => {
          throw new Error("MCNS unavailable");
        },
        unregister: async () => {},
      },
    });
    await expect(engine.deploy(def(), "toml", emit)).rejects.toThrow(
      "register-dns failed: MCNS unavailable",
    );
    expect(routes).toEqual([]);
    expect(runtime.containers.size).toBe(0);
  });

  it("serializes deploys of one service and runs different services concurrently", async () => {
    const { engine, emit } = setup();
    const order: string[] = [];
    const track = (tag: string) => (e: StepEvent) => {
      if (e.name === "allocate-ports" && e.status === "started") order.push(`${tag}:start`);
      if (e.name === "register-dns" && e.status !== "started") order.push(`${tag}:end`);
      emit(e);
    };
    const a = engine.deploy(def(), "t", track("a"));
    const b = engine.deploy(def(), "t", track("b"));
    await Promise.all([a, b]);
    expect(order).toEqual(["a:start", "a:end", "b:start", "b:end"]);

    const other = { ...def(), name: "db" };
    const seen: string[] = [];
    await Promise.all([
      engine.deploy(
        { ...def(IMAGE1), name: "x1" },
        "t",
        (e) => e.status === "started" && seen.push(`x1:${e.name}`),
      ),
      engine.deploy(
        { ...other, name: "x2" },
        "t",
        (e) => e.status === "started" && seen.push(`x2:${e.name}`),
      ),
    ]);
    // Both started before either finished all steps: interleaved.
    const firstX2 = seen.indexOf("x2:allocate-ports");
    const lastX1 = seen.lastIndexOf("x1:register-dns");
    expect(firstX2).toBeLessThan(lastX1);
  });

  it("removes containers of components that left the definition", async () => {
    const { engine, runtime, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const one = def();
    one.components = one.components!.slice(0, 1);
    await engine.deploy(one, "toml", emit);
    expect([...runtime.containers.keys()]).toEqual(["web-api"]);
  });

  it("deploys only the named component when asked", async () => {
    const { engine, runtime, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const ui = runtime.containers.get("web-ui")!.id;
    runtime.images.add(IMAGE2);
    const r = await engine.deploy(def(IMAGE2), "toml2", emit, { component: "api" });
    expect(r.changed).toBe(true);
    expect(runtime.containers.get("web-api")!.image).toBe(IMAGE2);
    expect(runtime.containers.get("web-ui")!.id).toBe(ui);
    expect(runtime.containers.get("web-ui")!.image).toBe(IMAGE1);
    await expect(engine.deploy(def(), "t", emit, { component: "nope" })).rejects.toMatchObject({
      kind: "not-found",
    });
  });

  it("stores an inactive definition and stops its containers", async () => {
    const { engine, runtime, store, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const r = await engine.deploy(def(IMAGE1, { active: false }), "toml", emit);
    expect(r.changed).toBe(true);
    expect(runtime.containers.get("web-api")!.state).toBe("exited");
    expect(store.getService("web")?.active).toBe(false);
  });
});

describe("Engine stop/start/restart/undeploy", () => {
  it("starts and restarts in place, keeping container ids", async () => {
    const { engine, runtime, store, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    const id = runtime.containers.get("web-api")!.id;
    await engine.stop("web", emit);
    expect(store.getService("web")?.active).toBe(false);
    const r = await engine.start("web", emit);
    expect(r.changed).toBe(true);
    expect(runtime.containers.get("web-api")!.state).toBe("running");
    expect(runtime.containers.get("web-api")!.id).toBe(id);
    expect(store.getService("web")?.active).toBe(true);
    await engine.restart("web", emit, "api");
    expect(runtime.containers.get("web-api")!.restartCount).toBe(1);
    expect(runtime.containers.get("web-api")!.id).toBe(id);
    // A restart stops as a stop does: it waits [podman] stop_timeout before the kill.
    expect(runtime.restartTimeouts).toEqual([options.stopTimeoutSeconds]);
  });

  it("undeploy removes containers, ports and the definition", async () => {
    const { engine, runtime, store, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    await engine.undeploy("web", emit);
    expect(runtime.containers.size).toBe(0);
    expect(store.listPorts()).toEqual([]);
    expect(store.getService("web")).toBeUndefined();
    // Ports are free for the next service.
    const r = await engine.deploy({ ...def(), name: "next" }, "t", emit);
    expect(r.ports.rest).toBe(20000);
  });

  it("reports unknown services and components as not found", async () => {
    const { engine, emit } = setup();
    await expect(engine.stop("nope", emit)).rejects.toMatchObject({ kind: "not-found" });
    await expect(engine.undeploy("nope", emit)).rejects.toMatchObject({ kind: "not-found" });
    await engine.deploy(def(), "toml", emit);
    await expect(engine.restart("web", emit, "nope")).rejects.toMatchObject({ kind: "not-found" });
  });
});
