// The first deploy of a service starts its containers while Podman lists the node
// (docs/decisions/0210-deploy-start-while-listing.md). These tests pin what that must not
// change: the plan still wins when the name is taken, a missing image is still pulled, and
// every failure still leaves nothing behind.
import { describe, expect, it } from "vitest";
import { LABEL_SERVICE, LABEL_SPEC_HASH } from "../src/deploy/plan.ts";
import type { Platform } from "../src/platform.ts";
import type { ServiceDef } from "../src/spec.ts";
import { engineSetup } from "./helpers/engine.ts";

const IMAGE = "reg.example/web:v1.0.0";

function def(mode: "l4" | "l7" = "l4"): ServiceDef {
  return {
    name: "web",
    node: "rift",
    active: true,
    path: "web",
    components: [
      { name: "api", image: IMAGE, routes: [{ name: "rest", port: 8443, mode }] },
      { name: "worker", image: IMAGE },
    ],
  };
}

function setup(platform: Platform = {}) {
  return engineSetup(IMAGE, platform);
}

describe("first deploy of a service: containers start while the node is listed", () => {
  it("runs the containers before the list answers, and checks no image separately", async () => {
    const { engine, runtime, store, emit, events } = setup();
    const r = await engine.deploy(def(), "toml", emit);
    expect(r.changed).toBe(true);
    const list = runtime.calls.indexOf("list");
    expect(runtime.calls.indexOf("create web-api")).toBeLessThan(list);
    expect(runtime.calls.indexOf("create web-worker")).toBeLessThan(list);
    // One run per container, no `image exists`, one list.
    expect(runtime.calls.filter((c) => c.startsWith("create "))).toHaveLength(2);
    expect(runtime.calls.filter((c) => c.startsWith("exists "))).toEqual([]);
    expect(runtime.calls.filter((c) => c === "list")).toHaveLength(1);
    expect(runtime.containers.get("web-api")?.state).toBe("running");
    expect(runtime.containers.get("web-api")?.spec.env.PORT_REST).toBe("20000");
    expect(store.getService("web")?.components.map((c) => c.specHash)).toEqual([
      runtime.containers.get("web-api")?.labels[LABEL_SPEC_HASH],
      runtime.containers.get("web-worker")?.labels[LABEL_SPEC_HASH],
    ]);
    // The progress the CLI shows is the same as ever.
    const finals = events.filter((e) => e.status !== "started").map((e) => `${e.name} ${e.status}`);
    expect(finals).toEqual([
      "adopted skipped",
      "allocate-ports done",
      "store-spec done",
      "certificate skipped",
      "pull unchanged",
      "container done",
      "container done",
      "register-routes skipped",
      "register-dns skipped",
    ]);
    // And the next deploy of the same definition changes nothing.
    expect((await engine.deploy(def(), "toml", emit)).changed).toBe(false);
  });

  it("a container that holds the name already is not removed by the refused run: the plan decides", async () => {
    const { engine, runtime, emit } = setup();
    // Made by hand, not by MCP: no labels.
    await runtime.run({
      name: "web-api",
      image: IMAGE,
      labels: {},
      env: {},
      ports: [],
      volumes: [],
    });
    await runtime.stop("web-api");
    const before = runtime.containers.get("web-api")?.id;
    runtime.calls.length = 0;
    const r = await engine.deploy(def(), "toml", emit);
    expect(r.changed).toBe(true);
    // The refused early run removed nothing; the plan replaced the container as before
    // (stop, rename to _prev, run, remove _prev after success).
    const removes = runtime.calls.filter((c) => c.startsWith("remove "));
    expect(removes).toEqual(["remove web-api_prev"]);
    expect(runtime.calls).toContain("rename web-api");
    const api = runtime.containers.get("web-api");
    expect(api?.id).not.toBe(before);
    expect(api?.labels[LABEL_SERVICE]).toBe("web");
    expect(api?.state).toBe("running");
  });

  it("an image that is not there yet is pulled, then the container runs", async () => {
    const { engine, runtime, emit, events } = setup();
    runtime.images.clear();
    const r = await engine.deploy(def(), "toml", emit);
    expect(r.changed).toBe(true);
    expect(runtime.calls).toContain(`pull ${IMAGE}`);
    expect(runtime.containers.get("web-api")?.state).toBe("running");
    expect(runtime.containers.get("web-worker")?.state).toBe("running");
    expect(events.some((e) => e.name === "pull" && e.status === "done")).toBe(true);
  });

  it("a run that fails for another reason fails the deploy without a retry, and rolls back", async () => {
    const { engine, runtime, store, emit } = setup();
    runtime.failOn("start", "web-worker", "cgroup trouble");
    await expect(engine.deploy(def(), "toml", emit)).rejects.toThrow(
      /container \(worker\) failed: cgroup trouble/,
    );
    expect(runtime.calls.filter((c) => c === "create web-worker")).toHaveLength(1);
    expect([...runtime.containers.keys()]).toEqual([]);
    expect(store.getService("web")).toBeUndefined();
    expect(store.listPorts()).toEqual([]);
  });

  it("a later step that fails removes the containers started early", async () => {
    const { engine, runtime, store, emit } = setup({
      routes: {
        add: async () => {
          throw new Error("mc-proxy down");
        },
        remove: async () => undefined,
        list: async () => [],
      },
    } as unknown as Platform);
    await expect(engine.deploy(def(), "toml", emit)).rejects.toThrow(/mc-proxy down/);
    expect([...runtime.containers.keys()]).toEqual([]);
    expect(store.getService("web")).toBeUndefined();
    expect(store.listPorts()).toEqual([]);
  });

  it("a list that fails removes the containers started early (no container step owns them)", async () => {
    const { engine, runtime, store, emit } = setup();
    runtime.list = async () => {
      throw new Error("podman ps failed");
    };
    await expect(engine.deploy(def(), "toml", emit)).rejects.toThrow(/podman ps failed/);
    expect([...runtime.containers.keys()]).toEqual([]);
    expect(store.getService("web")).toBeUndefined();
    expect(store.listPorts()).toEqual([]);
  });

  it("waits for the list when a certificate is issued first (L7 with certificates)", async () => {
    const { engine, runtime, emit } = setup({
      certificates: {
        ensure: async () => ({
          issued: true,
          certPath: "/certs/web.pem",
          keyPath: "/certs/web.key",
        }),
      },
    } as unknown as Platform);
    await engine.deploy(def("l7"), "toml", emit);
    expect(runtime.calls.indexOf("list")).toBeLessThan(runtime.calls.indexOf("create web-api"));
  });

  it("a service already defined is planned from the list first, as before", async () => {
    const { engine, runtime, emit } = setup();
    await engine.deploy(def(), "toml", emit);
    runtime.containers.delete("web-worker");
    runtime.calls.length = 0;
    await engine.deploy(def(), "toml", emit);
    expect(runtime.calls[0]).toBe("list");
    expect(runtime.calls).toContain("create web-worker");
    expect(runtime.calls).not.toContain("create web-api");
  });
});
