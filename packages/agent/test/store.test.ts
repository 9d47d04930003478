import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ServiceDef } from "../src/spec.ts";
import { openStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";

const spec: ServiceDef = {
  name: "web",
  node: "rift",
  active: true,
  path: "web",
  components: [
    { name: "api", image: "reg.example/web:v1.0.0" },
    { name: "ui", image: "reg.example/web-ui:v1.0.0" },
  ],
};

function desired(overrides: Partial<ServiceDef> = {}) {
  const s = { ...spec, ...overrides };
  return {
    name: s.name,
    spec: s,
    sourceToml: 'name = "web"',
    active: s.active,
    version: "v1.0.0",
    specHash: "h1",
    components: (s.components ?? []).map((c) => ({
      name: c.name,
      image: c.image,
      version: "v1.0.0",
      specHash: `h-${c.name}`,
    })),
  };
}

describe("SqliteStore (real migrations, in-memory)", () => {
  let store: Store;
  beforeEach(() => {
    store = openStore(":memory:");
  });
  afterEach(() => store.close());

  it("stores and replaces desired services with components in definition order", () => {
    store.putService(desired());
    const got = store.getService("web");
    expect(got?.components.map((c) => c.name)).toEqual(["api", "ui"]);
    expect(got?.spec).toEqual(spec);
    store.putService(desired({ components: [{ name: "api", image: "reg.example/web:v1.1.0" }] }));
    expect(store.getService("web")?.components.map((c) => c.name)).toEqual(["api"]);
    expect(store.listServices()).toHaveLength(1);
  });

  it("never assigns a host port twice", () => {
    store.assignPorts([{ hostPort: 10000, service: "web", component: "api", route: "" }]);
    expect(() =>
      store.assignPorts([
        { hostPort: 10001, service: "b", component: "x", route: "" },
        { hostPort: 10000, service: "b", component: "y", route: "" },
      ]),
    ).toThrow();
    // The failed batch was one transaction: 10001 was not kept either.
    expect(store.listPorts().map((p) => p.hostPort)).toEqual([10000]);
  });

  it("releases ports with the service, keeping those asked for", () => {
    store.putService(desired());
    store.assignPorts([
      { hostPort: 10000, service: "web", component: "api", route: "rest" },
      { hostPort: 10001, service: "web", component: "api", route: "grpc" },
    ]);
    store.releasePorts("web", [
      { hostPort: 10001, service: "web", component: "api", route: "grpc" },
    ]);
    expect(store.listPorts("web").map((p) => p.hostPort)).toEqual([10001]);
    store.deleteService("web");
    expect(store.listPorts()).toEqual([]);
    expect(store.getService("web")).toBeUndefined();
  });

  it("journals operations so unfinished ones can be found", () => {
    store.beginOperation({ id: "op1", service: "web", kind: "deploy" });
    store.updateOperation("op1", "pull");
    store.beginOperation({ id: "op2", service: "web", kind: "stop" });
    store.finishOperation("op2", "succeeded");
    const open = store.unfinishedOperations();
    expect(open.map((o) => [o.id, o.step, o.status])).toEqual([["op1", "pull", "running"]]);
  });

  it("keeps the last N history entries per service", () => {
    for (let i = 0; i < 7; i++) {
      store.addHistory(
        {
          service: "web",
          version: `v1.0.${i}`,
          spec,
          sourceToml: "",
          outcome: "succeeded",
          message: "",
        },
        5,
      );
    }
    store.addHistory(
      { service: "other", version: "v1", spec, sourceToml: "", outcome: "failed", message: "x" },
      5,
    );
    const h = store.listHistory("web");
    expect(h.map((e) => e.version)).toEqual(["v1.0.6", "v1.0.5", "v1.0.4", "v1.0.3", "v1.0.2"]);
    expect(store.listHistory("web", 2)).toHaveLength(2);
  });

  it("lists events newest first, filtered by service", () => {
    store.addEvent({ service: "web", kind: "deploy", message: "a" });
    store.addEvent({ service: "db", kind: "deploy", message: "b" });
    store.addEvent({
      service: "web",
      kind: "stop",
      level: "warning",
      from: "running",
      to: "stopped",
    });
    expect(store.listEvents({ service: "web" }).map((e) => e.kind)).toEqual(["stop", "deploy"]);
    expect(store.listEvents({ limit: 1 })[0]?.to).toBe("stopped");
  });

  it("replaces the observed container set", () => {
    const row = {
      name: "web-api",
      id: "abc",
      image: "i",
      state: "running",
      exitCode: null,
      health: "",
      service: "web",
      component: "api",
      version: "v1",
    };
    store.replaceObserved([row, { ...row, name: "web-ui", id: "def" }]);
    store.replaceObserved([{ ...row, state: "exited", exitCode: 1 }]);
    expect(store.listObserved().map((r) => [r.name, r.state])).toEqual([["web-api", "exited"]]);
  });

  it("turns foreign keys on", () => {
    expect(() =>
      store.transaction(() => {
        store.putService(desired());
        store.deleteService("web");
      }),
    ).not.toThrow();
  });
});
