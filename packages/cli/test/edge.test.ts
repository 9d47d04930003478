import type { ServiceDef } from "@mcp/servicedef";
import { describe, expect, it } from "vitest";
import type { Config } from "../src/config.js";
import { edgeLine, edgeNodes, edgeRoutesFor, publicRoutes, staleEdgeRoutes } from "../src/edge.js";

const def: ServiceDef = {
  name: "shop",
  node: "rift",
  active: true,
  path: "shop",
  components: [
    {
      name: "web",
      image: "reg.example/shop:v1",
      drain: "1s",
      routes: [
        { port: 443, mode: "l4", hostname: "shop.example.com" },
        { name: "admin", port: 8443, mode: "l4" },
      ],
    },
    {
      name: "api",
      image: "reg.example/shop:v1",
      drain: "1s",
      routes: [
        { name: "rest", port: 443, mode: "l4", hostname: "api.example.com" },
        { name: "ui", port: 443, mode: "l7", hostname: "ui.example.com" },
      ],
    },
  ],
};

describe("edgeRoutesFor", () => {
  it("takes the routes with a public hostname, backend = compute address and assigned port", () => {
    expect(
      edgeRoutesFor(def, { web: 20001, admin: 20002, rest: 20003, ui: 20004 }, "10.0.0.5"),
    ).toEqual({
      routes: [
        { port: 443, hostname: "shop.example.com", backend: "10.0.0.5:20001", mode: "l4" },
        { port: 443, hostname: "api.example.com", backend: "10.0.0.5:20003", mode: "l4" },
        // L7: the edge terminates TLS and forwards HTTP to the container's port.
        { port: 443, hostname: "ui.example.com", backend: "10.0.0.5:20004", mode: "l7" },
      ],
      skipped: [],
    });
  });

  it("reports a route whose port the deploy result lacks", () => {
    expect(edgeRoutesFor(def, { rest: 1 }, "10.0.0.5").skipped).toContain(
      "shop.example.com: no host port in the deploy result",
    );
  });
});

describe("edgeNodes", () => {
  it("are the [[nodes]] with role edge", () => {
    const config = {
      nodes: [
        { name: "rift", address: "a:1", role: "compute" },
        { name: "svc", address: "b:1", role: "edge" },
        { name: "old", address: "c:1" },
      ],
    } as Config;
    expect(edgeNodes(config).map((n) => n.name)).toEqual(["svc"]);
  });
});

describe("publicRoutes", () => {
  it("are the routes with a hostname (what undeploy removes from edge nodes)", () => {
    expect(publicRoutes(def)).toEqual([
      { port: 443, hostname: "shop.example.com" },
      { port: 443, hostname: "api.example.com" },
      { port: 443, hostname: "ui.example.com" },
    ]);
  });
});

describe("edgeLine", () => {
  const base = {
    edge: "svc",
    hostname: "ui.example.com",
    listener: ":443",
    backend: "10.0.0.5:20004",
  };
  it("says what the edge did, in one line", () => {
    expect(edgeLine({ ...base, mode: "l7", changed: true, certificate: "issued" })).toBe(
      "edge svc: l7 ui.example.com on :443 → 10.0.0.5:20004, certificate issued",
    );
    expect(edgeLine({ ...base, mode: "l4", changed: false, certificate: "" })).toBe(
      "edge svc: l4 ui.example.com on :443 → 10.0.0.5:20004 (unchanged)",
    );
    expect(
      edgeLine({ edge: "svc", hostname: "ui.example.com", listener: ":443", removed: true }),
    ).toBe("edge svc: ui.example.com removed from :443");
  });
});

describe("staleEdgeRoutes", () => {
  const carried = [
    { listener: ":443", hostname: "shop.example.com" },
    { listener: ":443", hostname: "old.example.com" },
    { listener: ":443", hostname: "ui.example.com" },
  ];
  it("are the hostnames the definition dropped, and those that moved to another listener", () => {
    const added = [
      { listener: ":443", hostname: "shop.example.com" },
      { listener: ":8443", hostname: "ui.example.com" },
    ];
    expect(staleEdgeRoutes(carried, def, added)).toEqual([
      { listener: ":443", hostname: "old.example.com" },
      { listener: ":443", hostname: "ui.example.com" },
    ]);
  });

  it("keeps a public route this deploy did not place (--component): only dropped names go", () => {
    expect(staleEdgeRoutes(carried, def, [])).toEqual([
      { listener: ":443", hostname: "old.example.com" },
    ]);
  });

  it("takes everything from a definition without routes (an inactive service)", () => {
    expect(staleEdgeRoutes(carried, { ...def, components: [] }, [])).toEqual(carried);
  });
});
