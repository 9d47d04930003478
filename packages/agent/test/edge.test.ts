import { Code, ConnectError } from "@connectrpc/connect";
import { RouteMode, SyncAction } from "@mcp/proto/agent/v1";
import { describe, expect, it } from "vitest";
import { edgeRoute, refuseContainersOnEdge } from "../src/edge.ts";
import type { RouteRegistrar, RouteRegistration } from "../src/platform.ts";
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

function edgeAgent() {
  const t = routeTable();
  const made = makeAgent({ platform: { routes: t.registrar } });
  made.agent.info.role = "edge";
  made.agent.info.listeners = { "443": ":8443" };
  return { ...made, routes: t.routes };
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
    [{ mode: "l7" as const }, "mode l7 is not supported on an edge node"],
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
    expect(await code(admin.addEdgeRoute({ ...good, mode: RouteMode.L7 }))).toBe(
      Code.InvalidArgument,
    );
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
