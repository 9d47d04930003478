import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ImageRetention,
  imagesToPrune,
  normalizeImageRef,
  trackPulls,
} from "../src/deploy/retention.ts";
import type { ServiceDef } from "../src/spec.ts";
import { openStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

const def = (name: string, ...images: string[]): { spec: ServiceDef } => ({
  spec: {
    name,
    node: "rift",
    active: true,
    path: name,
    components: images.map((image, i) => ({ name: `c${i}`, image })),
  },
});

describe("normalizeImageRef", () => {
  it("spells Docker Hub short names, default tags and registries the way Podman lists them", () => {
    expect(normalizeImageRef("busybox")).toBe("docker.io/library/busybox:latest");
    expect(normalizeImageRef("me/app:1")).toBe("docker.io/me/app:1");
    expect(normalizeImageRef("127.0.0.1:5000/app")).toBe("127.0.0.1:5000/app:latest");
    expect(normalizeImageRef("localhost/app:v1")).toBe("localhost/app:v1");
    expect(normalizeImageRef("mcr.example/app@sha256:ab")).toBe("mcr.example/app@sha256:ab");
  });
});

describe("imagesToPrune", () => {
  it("removes pulled images no kept history entry of any service and no container needs", () => {
    const history = new Map([
      ["web", [def("web", "r.x/web:v3"), def("web", "r.x/web:v2")]],
      ["api", [def("api", "r.x/api:v1", "r.x/shared:v1")]],
    ]);
    expect(
      imagesToPrune(
        history,
        ["r.x/old-but-running:v0"],
        [
          "r.x/web:v1",
          "r.x/web:v2",
          "r.x/web:v3",
          "r.x/shared:v1",
          "r.x/old-but-running:v0",
          "r.x/gone:v9",
          "r.x/web:v1",
        ],
      ),
    ).toEqual(["r.x/gone:v9", "r.x/web:v1"]);
  });

  it("compares references in Podman's spelling, and keeps everything with nothing pulled", () => {
    const history = new Map([["web", [def("web", "busybox")]]]);
    expect(imagesToPrune(history, [], ["docker.io/library/busybox:latest"])).toEqual([]);
    expect(imagesToPrune(new Map(), ["docker.io/me/app:1"], ["me/app:1"])).toEqual([]);
    expect(imagesToPrune(history, ["x"], [])).toEqual([]);
  });
});

describe("ImageRetention", () => {
  let store: Store;
  let runtime: FakeRuntime;
  let warnings: string[];
  let retention: ImageRetention;

  const deployed = (version: string, keep = 2) => {
    const d = def("web", `r.x/web:${version}`);
    store.addHistory(
      { service: "web", version, spec: d.spec, sourceToml: "", outcome: "succeeded", message: "" },
      keep,
    );
  };

  beforeEach(() => {
    store = openStore(":memory:");
    runtime = new FakeRuntime();
    warnings = [];
    retention = new ImageRetention({ store, runtime, warn: (m) => warnings.push(m) });
  });
  afterEach(() => store.close());

  it("notes pulls through the runtime and removes what fell out of the kept history", async () => {
    const tracked = trackPulls(runtime, store);
    for (const v of ["v1", "v2", "v3"]) {
      await tracked.pull(`r.x/web:${v}`);
      deployed(v);
    }
    runtime.images.add("localhost/built-by-hand:v1"); // never pulled by the agent
    expect(store.listPulledImages()).toEqual(["r.x/web:v1", "r.x/web:v2", "r.x/web:v3"]);
    const r = await retention.afterDeploy();
    expect(r).toEqual({ removed: ["r.x/web:v1"], skipped: "", failed: [] });
    expect([...runtime.images].sort()).toEqual([
      "localhost/built-by-hand:v1",
      "r.x/web:v2",
      "r.x/web:v3",
    ]);
    expect(store.listPulledImages()).toEqual(["r.x/web:v2", "r.x/web:v3"]);
    expect(store.listEvents({ service: "" }).map((e) => e.kind)).toContain("image-pruned");
    expect(warnings).toEqual([]);
  });

  it("keeps an image a container still uses, and an image the runtime refuses is a warning", async () => {
    const tracked = trackPulls(runtime, store);
    await tracked.pull("r.x/web:v1");
    await tracked.pull("r.x/other:v1");
    await runtime.create({
      name: "hand-made",
      image: "r.x/web:v1",
      labels: {},
      env: {},
      ports: [],
      volumes: [],
    });
    runtime.failOn("removeImage", "r.x/other:v1", "image is busy");
    const r = await retention.afterDeploy();
    expect(r.removed).toEqual([]);
    expect(r.failed).toEqual(["r.x/other:v1: image is busy"]);
    expect(warnings).toEqual(["image retention: cannot remove r.x/other:v1: image is busy"]);
    // Still tracked: the next deploy tries again.
    expect(store.listPulledImages()).toEqual(["r.x/other:v1", "r.x/web:v1"]);
  });

  it("waits while another operation runs (its fresh pull is in no history or container yet)", async () => {
    await trackPulls(runtime, store).pull("r.x/web:v9");
    store.beginOperation({ id: "op", service: "api", kind: "deploy" });
    const r = await retention.afterDeploy();
    expect(r.removed).toEqual([]);
    expect(r.skipped).toMatch(/operation on api is in progress/);
    expect(runtime.images.has("r.x/web:v9")).toBe(true);
  });

  it("never throws: a failing runtime list becomes a warning", async () => {
    await trackPulls(runtime, store).pull("r.x/web:v1");
    runtime.list = async () => {
      throw new Error("podman is gone");
    };
    const r = await retention.afterDeploy();
    expect(r.skipped).toBe("podman is gone");
    expect(warnings).toEqual(["image retention: podman is gone"]);
  });

  it("a pull that fails is not noted", async () => {
    runtime.failOn("pull", "r.x/web:v1");
    await expect(trackPulls(runtime, store).pull("r.x/web:v1")).rejects.toThrow(/pull failed/);
    expect(store.listPulledImages()).toEqual([]);
  });

  it("the store keeps history beyond N trimmed per service, and lists services with history", () => {
    for (const v of ["v1", "v2", "v3", "v4"]) deployed(v, 3);
    expect(store.listHistory("web").map((h) => h.version)).toEqual(["v4", "v3", "v2"]);
    expect(store.listHistoryServices()).toEqual(["web"]);
  });
});
