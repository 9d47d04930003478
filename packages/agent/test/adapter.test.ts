import { FakeContainerRuntime } from "@mcp/podman-client/fake";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Engine } from "../src/deploy/engine.ts";
import { HealthChecker } from "../src/health/checker.ts";
import { recoverInterrupted } from "../src/main.ts";
import { ObservedState } from "../src/observed.ts";
import { adaptRuntime } from "../src/runtime/podman.ts";
import type { ServiceDef } from "../src/spec.ts";
import { openStore } from "../src/store/sqlite.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

const IMAGE = "reg.example/web:v1.0.0";
const def = (image = IMAGE): ServiceDef => ({
  name: "web",
  node: "rift",
  active: true,
  path: "web",
  components: [
    {
      name: "api",
      image,
      volumes: ["/srv/web:/srv/web:ro"],
      cmd: ["server"],
      restart: "unless-stopped",
      routes: [{ name: "rest", port: 8443, mode: "l4" }],
    },
  ],
});

function engineOn(runtime: ReturnType<typeof adaptRuntime>) {
  const store = openStore(":memory:");
  const observed = new ObservedState(runtime, store, 0);
  const engine = new Engine({
    store,
    runtime,
    observed,
    platform: {},
    probe: async () => true,
    // Fake containers serve nothing: health probes pass as a working service's would.
    health: new HealthChecker({ runtime, prober: async () => ({ ok: true, message: "" }) }),
    options: {
      nodeName: "rift",
      address: "127.0.0.1",
      zone: "svc.example",
      certsDir: "/certs",
      listeners: {},
      portRange: { low: 31000, high: 31010 },
      historyKeep: 5,
      stopTimeoutSeconds: 1,
      drainMs: 0,
    },
  });
  return { engine, store };
}

describe("the Podman adapter on @mcp/podman-client's fake runtime", () => {
  it("deploys, redeploys unchanged, replaces, stops and undeploys", async () => {
    const fake = new FakeContainerRuntime({
      images: [IMAGE],
      remoteImages: ["reg.example/web:v1.1.0"],
    });
    const { engine } = engineOn(adaptRuntime(fake));
    const emit = () => {};
    const r1 = await engine.deploy(def(), "", emit);
    expect(r1).toMatchObject({ changed: true, ports: { rest: 31000 } });
    const details = await fake.inspectContainer("web-api");
    expect(details.state.running).toBe(true);
    expect(details.env.PORT_REST).toBe("31000");
    expect(details.labels["mcp.service"]).toBe("web");
    expect(details.restartPolicy.name).toBe("unless-stopped");
    expect(details.mounts[0]).toMatchObject({
      source: "/srv/web",
      target: "/srv/web",
      readOnly: true,
    });

    const r2 = await engine.deploy(def(), "", emit);
    expect(r2.changed).toBe(false);
    expect((await fake.inspectContainer("web-api")).id).toBe(details.id);

    const r3 = await engine.deploy(def("reg.example/web:v1.1.0"), "", emit);
    expect(r3.changed).toBe(true);
    const after = await fake.inspectContainer("web-api");
    expect(after.id).not.toBe(details.id);
    expect(after.image).toContain("v1.1.0");
    expect(await fake.containerExists("web-api_prev")).toBe(false);

    await engine.stop("web", emit);
    expect((await fake.inspectContainer("web-api")).state.running).toBe(false);
    await engine.undeploy("web", emit);
    expect(await fake.containerExists("web-api")).toBe(false);
  });
});

describe("recoverInterrupted", () => {
  it("closes journaled operations and gives a half-replaced container its name back", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    const { engine, store } = engineOn(runtime as unknown as ReturnType<typeof adaptRuntime>);
    await engine.deploy(def(), "", () => {});
    const id = runtime.containers.get("web-api")!.id;
    // A crash right after the old container was stopped and renamed.
    await runtime.stop("web-api");
    await runtime.rename("web-api", "web-api_prev");
    store.beginOperation({ id: "op1", service: "web", kind: "deploy" });
    store.updateOperation("op1", "container");

    await recoverInterrupted(store, runtime, pino({ level: "silent" }));
    expect(store.unfinishedOperations()).toEqual([]);
    expect(runtime.containers.get("web-api")?.id).toBe(id);
    expect(runtime.containers.get("web-api")?.state).toBe("running");
    expect(runtime.containers.has("web-api_prev")).toBe(false);
    expect(store.listEvents({ service: "web" })[0]?.kind).toBe("deploy-interrupted");
  });
});
