import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { compareService } from "../src/deploy/drift.ts";
import {
  containerSpecFor,
  LABEL_SPEC_HASH,
  planContainers,
  routeKeys,
} from "../src/deploy/plan.ts";
import { allocatePorts, candidatePorts, diffPorts, probeHostPort } from "../src/deploy/ports.ts";
import type { ContainerInfo } from "../src/runtime/runtime.ts";
import { type ComponentDef, canonicalJson, imageTag, portEnvName } from "../src/spec.ts";
import type { StoredService } from "../src/store/store.ts";

const comp: ComponentDef = {
  name: "api",
  image: "reg.example/web:v1.0.0",
  env: ["A=1", "B=2"],
  routes: [
    { name: "rest", port: 8443, mode: "l4" },
    { name: "grpc-web", port: 9443, mode: "l4" },
  ],
};
const ports = [
  { hostPort: 10000, service: "web", component: "api", route: "rest" },
  { hostPort: 10001, service: "web", component: "api", route: "grpc-web" },
];

function info(spec: ReturnType<typeof containerSpecFor>, state = "running"): ContainerInfo {
  return {
    id: "id1",
    name: spec.name,
    image: spec.image,
    state,
    status: "",
    labels: spec.labels,
    ports: spec.ports,
    health: "",
    restartCount: 0,
  };
}

describe("helpers", () => {
  it("names port variables and versions", () => {
    expect(portEnvName({})).toBe("PORT");
    expect(portEnvName({ name: "grpc" })).toBe("PORT_GRPC");
    expect(portEnvName({ name: "grpc-web" })).toBe("PORT_GRPC_WEB");
    expect(imageTag("mcr.example:8443/svc:v1.2.0")).toBe("v1.2.0");
    expect(imageTag("mcr.example:8443/svc")).toBe("");
    expect(canonicalJson({ b: 1, a: { d: 1, c: undefined } })).toBe('{"a":{"d":1},"b":1}');
  });
});

describe("containerSpecFor", () => {
  it("sets PORT_<NAME>, publishes the ports and labels the container", () => {
    const spec = containerSpecFor("web", comp, ports);
    expect(spec.name).toBe("web-api");
    expect(spec.env).toEqual({ A: "1", B: "2", PORT_REST: "10000", PORT_GRPC_WEB: "10001" });
    expect(spec.ports.map((p) => p.hostPort)).toEqual([10000, 10001]);
    expect(spec.labels["mcp.version"]).toBe("v1.0.0");
  });

  it("has a deterministic hash that changes with anything that matters", () => {
    const a = containerSpecFor("web", comp, ports).labels[LABEL_SPEC_HASH];
    expect(containerSpecFor("web", { ...comp }, [...ports]).labels[LABEL_SPEC_HASH]).toBe(a);
    expect(
      containerSpecFor("web", { ...comp, env: ["A=2"] }, ports).labels[LABEL_SPEC_HASH],
    ).not.toBe(a);
    const moved = [{ ...ports[0]!, hostPort: 10005 }, ports[1]!];
    expect(containerSpecFor("web", comp, moved).labels[LABEL_SPEC_HASH]).not.toBe(a);
  });
});

describe("planContainers", () => {
  const spec = containerSpecFor("web", comp, ports);
  it("creates, keeps, starts and replaces", () => {
    expect(planContainers("web", [spec], []).map((a) => a.kind)).toEqual(["create"]);
    expect(planContainers("web", [spec], [info(spec)]).map((a) => a.kind)).toEqual(["unchanged"]);
    expect(planContainers("web", [spec], [info(spec, "exited")]).map((a) => a.kind)).toEqual([
      "start",
    ]);
    const old = info({ ...spec, labels: { ...spec.labels, [LABEL_SPEC_HASH]: "x" } });
    expect(planContainers("web", [spec], [old]).map((a) => a.kind)).toEqual(["replace"]);
  });
  it("removes containers of the service that are no longer defined, and only those", () => {
    const gone = info({
      ...spec,
      name: "web-old",
      labels: { ...spec.labels, "mcp.component": "old" },
    });
    const foreign = info({ ...spec, name: "db-x", labels: { "mcp.service": "db" } });
    const actions = planContainers("web", [spec], [info(spec), gone, foreign]);
    expect(actions.map((a) => [a.kind, a.component])).toEqual([
      ["unchanged", "api"],
      ["remove", "old"],
    ]);
  });
});

describe("ports", () => {
  it("keeps, needs and releases by route", () => {
    const d = diffPorts(
      [
        { component: "api", route: "rest" },
        { component: "api", route: "admin" },
      ],
      ports,
    );
    expect(d.keep.map((p) => p.hostPort)).toEqual([10000]);
    expect(d.need).toEqual([{ component: "api", route: "admin" }]);
    expect(d.release.map((p) => p.hostPort)).toEqual([10001]);
    expect(
      routeKeys({ name: "web", node: "n", active: true, path: "web", components: [comp] }),
    ).toHaveLength(2);
  });

  it("never hands out an assigned port, and skips ports busy on the host", async () => {
    expect([...candidatePorts({ low: 1, high: 5 }, new Set([2, 4]))]).toEqual([1, 3, 5]);
    const busy = new Set([3]);
    const got = await allocatePorts(
      [
        { component: "a", route: "" },
        { component: "b", route: "" },
      ],
      "svc",
      { low: 1, high: 5 },
      new Set([2]),
      async (p) => !busy.has(p),
    );
    expect(got.map((p) => p.hostPort)).toEqual([1, 4]);
    await expect(
      allocatePorts([{ component: "a", route: "" }], "s", { low: 1, high: 2 }, new Set([1, 2])),
    ).rejects.toThrow("no free host port left in 1-2");
  });

  it("probes the host for real", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await probeHostPort(port)).toBe(false);
    } finally {
      server.close();
    }
    expect(await probeHostPort(port)).toBe(true);
  });
});

describe("compareService", () => {
  const spec = containerSpecFor("web", comp, ports);
  const stored: StoredService = {
    name: "web",
    spec: { name: "web", node: "n", active: true, path: "web", components: [comp] },
    sourceToml: "",
    active: true,
    version: "v1.0.0",
    specHash: "h",
    components: [
      {
        name: "api",
        image: comp.image,
        version: "v1.0.0",
        specHash: spec.labels[LABEL_SPEC_HASH]!,
      },
    ],
    createdAt: "",
    updatedAt: "",
    deployedAt: null,
  };
  it("finds no drift when the container matches", () => {
    expect(compareService(stored, [info(spec)]).drift).toBe(false);
  });
  it("reports missing, stopped, version and spec drift", () => {
    expect(compareService(stored, []).components[0]?.reasons).toEqual([
      "desired running, observed missing",
    ]);
    expect(compareService(stored, [info(spec, "exited")]).components[0]?.reasons).toEqual([
      "desired running, observed exited",
    ]);
    const old = info({
      ...spec,
      image: "reg.example/web:v0.9.0",
      labels: { ...spec.labels, "mcp.version": "v0.9.0" },
    });
    expect(compareService(stored, [old]).components[0]?.reasons).toEqual([
      "version v0.9.0 runs, v1.0.0 desired",
    ]);
    const changed = info({ ...spec, labels: { ...spec.labels, [LABEL_SPEC_HASH]: "other" } });
    expect(compareService(stored, [changed]).components[0]?.drift).toBe(true);
  });
  it("treats a stopped service with stopped containers as in sync", () => {
    const stopped = { ...stored, active: false };
    expect(compareService(stopped, [info(spec, "exited")]).drift).toBe(false);
    expect(compareService(stopped, [info(spec)]).components[0]?.reasons).toEqual([
      "desired stopped, observed running",
    ]);
  });
});
