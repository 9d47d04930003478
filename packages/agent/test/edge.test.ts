import { Code, ConnectError } from "@connectrpc/connect";
import { RouteMode, SyncAction } from "@mcp/proto/agent/v1";
import { describe, expect, it } from "vitest";
import { edgeRoute, refuseContainersOnEdge } from "../src/edge.ts";
import type { CertificateProvider, RouteRegistrar, RouteRegistration } from "../src/platform.ts";
import { checkPlatform } from "../src/platform-check.ts";
import { certPaths } from "../src/service-routes.ts";
import { clientFor, makeAgent } from "./helpers/agent.ts";
import type { FakeRuntime } from "./helpers/fake-runtime.ts";

const toml = `name = "web"
node = "rift"

[[components]]
name = "api"
image = "reg.example/web:v1.0.0"
`;

/** An in-memory mc-proxy route table with mc-proxy's add semantics. */
function routeTable() {
  const routes = new Map<string, RouteRegistration>();
  const registrar: RouteRegistrar = {
    async add(r) {
      const key = `${r.listener} ${r.hostname}`;
      const same = JSON.stringify(routes.get(key)) === JSON.stringify(r);
      routes.set(key, r);
      return !same;
    },
    async remove(listener, hostname) {
      routes.delete(`${listener} ${hostname}`);
    },
  };
  return { routes, registrar };
}

/** Certificates as names → issue count; `failIssue` makes the next issue fail. */
function certTable() {
  const issued = new Map<string, number>();
  const state = { failIssue: false };
  const provider: CertificateProvider = {
    async ensure(name) {
      if (issued.has(name)) return { ...certPaths("/certs", name), issued: false };
      if (state.failIssue) throw new Error("Metacrypt is sealed");
      issued.set(name, 1);
      return { ...certPaths("/certs", name), issued: true };
    },
    async remove(name) {
      issued.delete(name);
    },
  };
  return { issued, provider, state };
}

function edgeAgent(options: { certs?: boolean } = {}) {
  const t = routeTable();
  const c = certTable();
  const made = makeAgent({
    platform: { routes: t.registrar, ...(options.certs ? { certificates: c.provider } : {}) },
  });
  made.agent.info.role = "edge";
  made.agent.info.listeners = { "443": ":8443" };
  return { ...made, routes: t.routes, registrar: t.registrar, certs: c };
}

async function code(p: Promise<unknown> | AsyncIterable<unknown>): Promise<Code | "ok"> {
  try {
    if (Symbol.asyncIterator in (p as object)) {
      for await (const _ of p as AsyncIterable<unknown>) {
        // drain
      }
    } else {
      await p;
    }
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe("edgeRoute", () => {
  it("maps the port to the configured listener and keeps the backend", () => {
    expect(
      edgeRoute(
        { port: 443, hostname: "Shop.Example.com", backend: "10.0.0.5:20001", mode: "" },
        { "443": ":8443" },
      ),
    ).toEqual({
      listener: ":8443",
      hostname: "shop.example.com",
      backend: "10.0.0.5:20001",
      mode: "l4",
      service: "",
      node: "",
    });
    expect(
      edgeRoute({ port: 9000, hostname: "a.b", backend: "[::1]:80", mode: "l4" }, {}).listener,
    ).toBe(":9000");
  });

  it.each([
    [{ port: 0 }, "port 0 is not a port"],
    [{ hostname: "bad host" }, 'hostname "bad host" is not a DNS name'],
    [{ backend: "10.0.0.5" }, 'backend "10.0.0.5" is not <address>:<port>'],
    [{ backend: "10.0.0.5:70000" }, "backend port 70000 is not a port"],
    [{ service: "Web" }, 'service "Web" is not a name'],
    [{ node: "../x" }, 'node "../x" is not a name'],
  ])("refuses %o", (change, message) => {
    const req = {
      port: 443,
      hostname: "shop.example.com",
      backend: "10.0.0.5:1",
      mode: "l4" as const,
    };
    expect(() => edgeRoute({ ...req, ...change }, {})).toThrow(message);
  });
});

describe("refuseContainersOnEdge", () => {
  const def = { name: "web", node: "svc", active: true, path: "web" };
  it("refuses a service with components on an edge node only", () => {
    const withComponents = { ...def, components: [{ name: "api", image: "x" }] };
    expect(() => refuseContainersOnEdge("edge", "svc", withComponents)).toThrow(
      'node "svc" is an edge node: it runs no containers, so service "web" cannot be deployed',
    );
    expect(() => refuseContainersOnEdge("compute", "rift", withComponents)).not.toThrow();
    expect(() => refuseContainersOnEdge("edge", "svc", def)).not.toThrow();
  });
});

describe("an edge agent over the wire", () => {
  it("refuses to deploy a service with containers (FailedPrecondition), runs nothing", async () => {
    const { agent, runtime } = edgeAgent();
    const client = clientFor(agent, "admin-token");
    const err = await (async () => {
      for await (const _ of client.deploy({ spec: { name: "web", node: "rift", toml } })) {
        // drain
      }
    })().catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toContain('node "rift" is an edge node');
    expect((runtime as FakeRuntime).calls.filter((c) => !c.startsWith("list"))).toEqual([]);
    expect(agent.store.listServices()).toEqual([]);
  });

  it("sync of a service with containers fails that item", async () => {
    const { agent } = edgeAgent();
    const client = clientFor(agent, "admin-token");
    const results: { action: SyncAction; message: string }[] = [];
    for await (const r of client.pushDefinitions({
      specs: [{ name: "web", node: "rift", toml }],
    })) {
      if (r.event.case === "serviceResult") results.push(r.event.value);
    }
    expect(results).toHaveLength(1);
    expect(results[0]?.action).toBe(SyncAction.FAILED);
    expect(results[0]?.message).toContain('node "rift" is an edge node');
  });

  it("adds, re-adds (unchanged) and removes an edge route on its mc-proxy", async () => {
    const { agent, routes } = edgeAgent();
    const client = clientFor(agent, "admin-token");
    const req = {
      port: 443,
      hostname: "shop.example.com",
      backend: "10.0.0.5:20001",
      mode: RouteMode.L4,
    };
    expect(await client.addEdgeRoute(req)).toMatchObject({ changed: true, listener: ":8443" });
    expect([...routes.values()]).toEqual([
      { listener: ":8443", hostname: "shop.example.com", backend: "10.0.0.5:20001", mode: "l4" },
    ]);
    expect(await client.addEdgeRoute(req)).toMatchObject({ changed: false });
    expect(await client.removeEdgeRoute({ port: 443, hostname: "shop.example.com" })).toMatchObject(
      { listener: ":8443" },
    );
    expect(routes.size).toBe(0);
  });

  it("answers InvalidArgument for bad input, FailedPrecondition on a compute node, and needs admin", async () => {
    const { agent } = edgeAgent();
    const admin = clientFor(agent, "admin-token");
    const good = { port: 443, hostname: "shop.example.com", backend: "10.0.0.5:1" };
    expect(await code(admin.addEdgeRoute({ ...good, backend: "nope" }))).toBe(Code.InvalidArgument);
    // L7 needs a certificate, and this edge has no Metacrypt.
    expect(await code(admin.addEdgeRoute({ ...good, mode: RouteMode.L7 }))).toBe(
      Code.FailedPrecondition,
    );
    expect(agent.store.listEdgeRoutes()).toEqual([]);
    expect(await code(clientFor(agent, "user-token").addEdgeRoute(good))).toBe(
      Code.PermissionDenied,
    );
    const compute = makeAgent({ platform: { routes: routeTable().registrar } }).agent;
    expect(await code(clientFor(compute, "admin-token").addEdgeRoute(good))).toBe(
      Code.FailedPrecondition,
    );
    const bare = makeAgent().agent;
    bare.info.role = "edge";
    expect(await code(clientFor(bare, "admin-token").removeEdgeRoute(good))).toBe(
      Code.FailedPrecondition,
    );
  });
});

describe("edge routes in the edge agent's registry", () => {
  const l4 = {
    port: 443,
    hostname: "shop.example.com",
    backend: "10.0.0.5:20001",
    mode: RouteMode.L4,
    service: "shop",
    node: "rift",
  };

  it("keeps what it added, lists it with its compute node, and forgets it on removal", async () => {
    const { agent } = edgeAgent();
    const client = clientFor(agent, "admin-token");
    await client.addEdgeRoute(l4);
    const listed = await client.listRoutes({});
    expect(listed.listeners).toHaveLength(1);
    expect(listed.listeners[0]).toMatchObject({
      address: ":8443",
      routes: [
        {
          hostname: "shop.example.com",
          backend: "10.0.0.5:20001",
          mode: RouteMode.L4,
          service: "shop",
          node: "rift",
        },
      ],
    });
    // A new backend (the service moved to other ports) replaces the stored route.
    const moved = await client.addEdgeRoute({ ...l4, backend: "10.0.0.5:20002" });
    expect(moved.changed).toBe(true);
    expect(agent.store.listEdgeRoutes().map((r) => r.backend)).toEqual(["10.0.0.5:20002"]);
    expect(await client.removeEdgeRoute({ port: 443, hostname: l4.hostname })).toMatchObject({
      removed: true,
    });
    expect(agent.store.listEdgeRoutes()).toEqual([]);
    expect((await client.listRoutes({})).listeners).toEqual([]);
    expect((await client.removeEdgeRoute({ port: 443, hostname: l4.hostname })).removed).toBe(
      false,
    );
    // By the listener ListRoutes shows, when the port is not known any more.
    await client.addEdgeRoute(l4);
    expect(
      await client.removeEdgeRoute({ port: 0, hostname: l4.hostname, listener: ":8443" }),
    ).toMatchObject({ listener: ":8443", removed: true });
    expect(agent.store.listEdgeRoutes()).toEqual([]);
    expect(
      await code(client.removeEdgeRoute({ port: 0, hostname: l4.hostname, listener: "a b" })),
    ).toBe(Code.InvalidArgument);
  });

  it("terminates L7 with a certificate of its own for the hostname, removed with the route", async () => {
    const { agent, routes, certs } = edgeAgent({ certs: true });
    const client = clientFor(agent, "admin-token");
    const res = await client.addEdgeRoute({ ...l4, mode: RouteMode.L7 });
    expect(res).toMatchObject({ changed: true, certificate: "issued" });
    expect([...routes.values()]).toEqual([
      {
        listener: ":8443",
        hostname: "shop.example.com",
        backend: "10.0.0.5:20001",
        mode: "l7",
        tlsCert: "/certs/edge_shop.example.com.pem",
        tlsKey: "/certs/edge_shop.example.com.key",
      },
    ]);
    expect((await client.addEdgeRoute({ ...l4, mode: RouteMode.L7 })).certificate).toBe("reused");
    await client.removeEdgeRoute({ port: 443, hostname: l4.hostname });
    expect([...certs.issued.keys()]).toEqual([]);
  });

  it("a failed route registration stores nothing and gives back the certificate it issued", async () => {
    const { agent, registrar, certs } = edgeAgent({ certs: true });
    registrar.add = async () => {
      throw new Error("mc-proxy is down");
    };
    const client = clientFor(agent, "admin-token");
    expect(await code(client.addEdgeRoute({ ...l4, mode: RouteMode.L7 }))).not.toBe("ok");
    expect(agent.store.listEdgeRoutes()).toEqual([]);
    expect([...certs.issued.keys()]).toEqual([]);
  });

  it("the platform check puts back routes mc-proxy lost, and nothing when all is there", async () => {
    const { agent, routes, certs } = edgeAgent({ certs: true });
    const client = clientFor(agent, "admin-token");
    await client.addEdgeRoute(l4);
    await client.addEdgeRoute({ ...l4, hostname: "www.example.com", mode: RouteMode.L7 });
    const deps = {
      store: agent.store,
      platform: agent.platform,
      lock: agent.engine.lock,
      site: agent.info,
    };
    expect(await checkPlatform(deps)).toEqual({ restored: [], renewed: [], failed: [] });
    routes.clear(); // mc-proxy restarted without its state
    const r = await checkPlatform(deps);
    expect(r.restored.sort()).toEqual(["shop.example.com on :8443", "www.example.com on :8443"]);
    expect(routes.size).toBe(2);
    // A certificate that went away (expired, deleted) is issued again.
    certs.issued.clear();
    expect((await checkPlatform(deps)).renewed).toEqual(["/certs/edge_www.example.com.pem"]);
    const events = agent.store.listEvents({}).map((e) => e.kind);
    expect(events).toContain("route-restored");
    expect(events).toContain("certificate-renewed");
  });

  it("a check that cannot renew reports it and leaves the route in place", async () => {
    const { agent, routes, certs } = edgeAgent({ certs: true });
    await clientFor(agent, "admin-token").addEdgeRoute({ ...l4, mode: RouteMode.L7 });
    certs.issued.clear();
    certs.state.failIssue = true;
    const r = await checkPlatform({
      store: agent.store,
      platform: agent.platform,
      lock: agent.engine.lock,
      site: agent.info,
    });
    expect(r.failed).toEqual(["edge route shop.example.com on :8443: Metacrypt is sealed"]);
    expect(routes.size).toBe(1);
  });
});
