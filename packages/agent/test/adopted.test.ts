import { describe, expect, it } from "vitest";
import {
  adoptedSpecHash,
  matchAdopted,
  observedSpecHash,
  parseStoredHash,
} from "../src/deploy/adopted.ts";
import { compareService } from "../src/deploy/drift.ts";
import { Engine } from "../src/deploy/engine.ts";
import { planContainers } from "../src/deploy/plan.ts";
import type { StepEvent } from "../src/deploy/steps.ts";
import { HealthChecker } from "../src/health/checker.ts";
import { ObservedState } from "../src/observed.ts";
import type { ContainerSettings } from "../src/runtime/inspect.ts";
import type { ContainerInfo } from "../src/runtime/runtime.ts";
import type { ComponentDef, ServiceDef } from "../src/spec.ts";
import { openStore } from "../src/store/sqlite.ts";
import { makeAgent } from "./helpers/agent.ts";
import { fakeClock } from "./helpers/clock.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

const IMAGE = "reg.example/web:v1.0.0";

const web: ComponentDef = {
  name: "web",
  image: IMAGE,
  cmd: ["httpd", "-f", "-p", "8080"],
  env: ["MODE=demo"],
  volumes: ["/srv/data:/data"],
  user: "0:0",
  restart: "unless-stopped",
  routes: [{ port: 8080, mode: "l4" }],
};

const settings: ContainerSettings = {
  cmd: ["httpd", "-f", "-p", "8080"],
  env: ["MODE=demo"],
  volumes: ["/srv/data:/data"],
  user: "0:0",
  restart: "unless-stopped",
};

const published = [{ hostPort: 31000, containerPort: 8080, protocol: "tcp" as const }];

describe("matchAdopted", () => {
  it("keeps a container that runs as defined; the route takes the published host port", () => {
    expect(matchAdopted("shop", web, { image: IMAGE, ports: published }, settings)).toEqual({
      ok: true,
      ports: [{ service: "shop", component: "web", route: "", hostPort: 31000 }],
    });
  });

  it("ignores PORT and PORT_<NAME>: the agent sets them", () => {
    const c = { ...web, env: ["MODE=demo", "PORT=1"] };
    const s = { ...settings, env: ["MODE=demo", "PORT_X=2"] };
    expect(matchAdopted("shop", c, { image: IMAGE, ports: published }, s).ok).toBe(true);
  });

  it("accepts any command when the definition sets none (the image default)", () => {
    const { cmd: _cmd, ...c } = web;
    expect(matchAdopted("shop", c, { image: IMAGE, ports: published }, settings).ok).toBe(true);
  });

  it.each([
    ["image", { image: "reg.example/web:v2" }, {}, "image"],
    ["command", { cmd: ["httpd"] }, {}, "command differs"],
    ["env", { env: ["MODE=prod"] }, {}, "environment differs"],
    ["extra env", {}, { env: ["MODE=demo", "X=1"] }, "environment differs"],
    ["volumes", { volumes: [] }, {}, "volumes differ"],
    ["network", { network: "mcpnet" }, {}, "network differs"],
    ["user", {}, { user: undefined }, "user differs"],
    ["restart", { restart: "always" }, {}, "restart policy differs"],
    ["route port", { routes: [{ port: 9090, mode: "l4" as const }] }, {}, "no published"],
    ["unrouted publication", { routes: [] }, {}, "host port 31000 (container 8080) is not a route"],
  ])("replaces when %s differs", (_what, comp, obs, reason) => {
    const r = matchAdopted(
      "shop",
      { ...web, ...comp },
      { image: IMAGE, ports: published },
      { ...settings, ...obs },
    );
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.reasons.join("; ")).toContain(reason);
  });
});

describe("stored hash of a kept adopted container", () => {
  const info = (id: string, labels: Record<string, string> = {}): ContainerInfo => ({
    id,
    name: "shop-web",
    image: IMAGE,
    state: "running",
    status: "Up",
    labels,
    ports: [],
    health: "",
    restartCount: 0,
  });

  it("round-trips and applies only to the recorded container id", () => {
    const stored = adoptedSpecHash("abc123", "h1");
    expect(parseStoredHash(stored)).toEqual({ adoptedId: "abc123", hash: "h1" });
    expect(parseStoredHash("h1")).toEqual({ hash: "h1" });
    expect(observedSpecHash(info("abc123"), stored)).toBe("h1");
    expect(observedSpecHash(info("other"), stored)).toBeUndefined();
    expect(observedSpecHash(info("x", { "mcp.spec-hash": "h2" }), stored)).toBe("h2");
  });

  it("planContainers treats an unlabelled container by the hash it stands for", () => {
    const spec = {
      name: "shop-web",
      image: IMAGE,
      labels: { "mcp.component": "web", "mcp.spec-hash": "h1" },
      env: {},
      ports: [],
      volumes: [],
    };
    const c = info("abc123");
    expect(planContainers("shop", [spec], [c], new Map([["shop-web", "h1"]]))[0]?.kind).toBe(
      "unchanged",
    );
    expect(planContainers("shop", [spec], [c])[0]?.kind).toBe("replace");
  });
});

/** The fake runtime plus inspect, reading back what a container was run with. */
class InspectingRuntime extends FakeRuntime {
  async inspect(name: string): Promise<ContainerSettings> {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no such container ${name}`);
    const s = c.spec;
    return {
      cmd: s.cmd,
      env: Object.entries(s.env).map(([k, v]) => `${k}=${v}`),
      volumes: s.volumes.length > 0 ? s.volumes : undefined,
      user: s.user,
      restart: s.restart,
      network: s.network,
    };
  }
}

describe("the first deploy after adopt", () => {
  const def = (component: ComponentDef = web): ServiceDef => ({
    name: "shop",
    node: "rift",
    active: true,
    path: "shop",
    components: [component],
  });

  async function adopted() {
    const store = openStore(":memory:");
    const runtime = new InspectingRuntime();
    runtime.images.add(IMAGE);
    // As an operator ran it before MCP: no MCP labels, a hand-picked published port.
    const id = await runtime.run({
      name: "shop-web",
      image: IMAGE,
      labels: {},
      env: { MODE: "demo" },
      ports: published,
      volumes: ["/srv/data:/data"],
      cmd: ["httpd", "-f", "-p", "8080"],
      user: "0:0",
      restart: "unless-stopped",
    });
    // What Agent.adopt records: the component with spec hash "".
    const { routes: _r, ...bare } = web;
    store.putService({
      name: "shop",
      spec: def(bare),
      sourceToml: "",
      active: true,
      version: "v1.0.0",
      specHash: "x",
      components: [{ name: "web", image: IMAGE, version: "v1.0.0", specHash: "" }],
    });
    const observed = new ObservedState(runtime, store, 0);
    const health = new HealthChecker({ runtime, prober: async () => ({ ok: true, message: "" }) });
    const engine = new Engine({
      store,
      runtime,
      observed,
      platform: {},
      options: {
        nodeName: "rift",
        address: "127.0.0.1",
        zone: "svc.example",
        certsDir: "/certs",
        listeners: {},
        portRange: { low: 20000, high: 20010 },
        historyKeep: 5,
        stopTimeoutSeconds: 1,
        drainMs: 0,
      },
      probe: async () => true,
      health,
      clock: fakeClock(),
    });
    const events: StepEvent[] = [];
    return { store, runtime, engine, id, events, emit: (e: StepEvent) => events.push(e) };
  }

  it("keeps a matching container (same id), records its port and hash; no drift; idempotent", async () => {
    const { store, runtime, engine, id, emit, events } = await adopted();
    const r = await engine.deploy(def(), "toml", emit);
    expect(runtime.containers.get("shop-web")?.id).toBe(id);
    expect(r.ports).toEqual({ web: 31000 });
    expect(store.listPorts("shop")).toEqual([
      { service: "shop", component: "web", route: "", hostPort: 31000 },
    ]);
    expect(events.find((e) => e.name === "adopted" && e.status === "done")?.message).toBe(
      "shop-web kept",
    );
    const s = store.getService("shop")!;
    expect(parseStoredHash(s.components[0]!.specHash).adoptedId).toBe(id);
    expect(compareService(s, await runtime.list()).drift).toBe(false);

    const again = await engine.deploy(def(), "toml", emit);
    expect(again.changed).toBe(false);
    expect(runtime.containers.get("shop-web")?.id).toBe(id);
  });

  it("a later change of a field replaces the kept container", async () => {
    const { store, runtime, engine, id, emit } = await adopted();
    await engine.deploy(def(), "toml", emit);
    await engine.deploy(def({ ...web, env: ["MODE=prod"] }), "toml2", emit);
    const now = runtime.containers.get("shop-web")!;
    expect(now.id).not.toBe(id);
    expect(now.spec.env).toMatchObject({ MODE: "prod" });
    expect(now.labels["mcp.spec-hash"]).toBeDefined();
    expect(compareService(store.getService("shop")!, await runtime.list()).drift).toBe(false);
  });

  it("replaces a container that does not match the definition", async () => {
    const { runtime, engine, id, emit, events } = await adopted();
    await engine.deploy(def({ ...web, env: ["MODE=prod"] }), "toml", emit);
    expect(runtime.containers.get("shop-web")?.id).not.toBe(id);
    expect(events.find((e) => e.name === "adopted" && e.status === "done")?.message).toBe(
      "shop-web will be replaced: environment differs",
    );
  });
});

describe("Plan after adopt", () => {
  it("shows the adopted container kept, not replaced, before and after the first deploy", async () => {
    const runtime = new InspectingRuntime();
    runtime.images.add(IMAGE);
    const { agent, store } = makeAgent({ runtime });
    const id = await runtime.run({
      name: "shop-web",
      image: IMAGE,
      labels: {},
      env: { MODE: "demo" },
      ports: published,
      volumes: ["/srv/data:/data"],
      cmd: ["httpd", "-f", "-p", "8080"],
      user: "0:0",
      restart: "unless-stopped",
    });
    const def: ServiceDef = {
      name: "shop",
      node: "rift",
      active: true,
      path: "shop",
      components: [web],
    };
    store.putService({
      name: "shop",
      spec: { ...def, components: [{ name: "web", image: IMAGE }] },
      sourceToml: "",
      active: true,
      version: "v1.0.0",
      specHash: "x",
      components: [{ name: "web", image: IMAGE, version: "v1.0.0", specHash: "" }],
    });
    const before = await agent.plan(def);
    expect(before.steps.map((s) => s.name)).toEqual(["adopted", "container"]);
    await agent.deploy(def, "toml", () => {});
    expect(runtime.containers.get("shop-web")?.id).toBe(id);
    const after = await agent.plan(def);
    expect(after.steps).toEqual([
      { name: "container", component: "web", description: "shop-web unchanged" },
    ]);
  });
});
