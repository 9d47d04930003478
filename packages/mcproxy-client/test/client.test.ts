// The client against a real gRPC server (Connect's node adapter on http2) on a real unix socket.
// The server's handlers are scripted per test so every error path can be reached; the client
// against the working mc-proxy stand-in is tested in apps/sim.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ProxyAdminService, RouteMode, RouteSchema } from "@mcp/proto/mcproxy/v1";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createMcProxyClient,
  isMcProxyError,
  type McProxyClient,
  McProxyError,
  type McProxyErrorKind,
} from "../src/index.ts";

type Impl = Partial<ServiceImpl<typeof ProxyAdminService>>;

let dir: string;
let socketPath: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "mcproxy-client-"));
  socketPath = path.join(dir, "mc-proxy.sock");
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

interface Served {
  calls: { method: string; req: unknown }[];
  sessions: () => number;
}

async function serve(impl: Impl): Promise<Served> {
  const calls: { method: string; req: unknown }[] = [];
  let sessionCount = 0;
  const recorded: Impl = {};
  for (const [method, fn] of Object.entries(impl)) {
    (recorded as Record<string, unknown>)[method] = (req: unknown, ctx: unknown) => {
      calls.push({ method, req });
      return (fn as (r: unknown, c: unknown) => unknown)(req, ctx);
    };
  }
  const server = http2.createServer(
    connectNodeAdapter({ routes: (router) => router.service(ProxyAdminService, recorded) }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessionCount++;
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { calls, sessions: () => sessionCount };
}

function client(timeoutMs?: number): McProxyClient {
  const c = createMcProxyClient({ socketPath, ...(timeoutMs ? { timeoutMs } : {}) });
  cleanups.push(() => c.close());
  return c;
}

async function failure(promise: Promise<unknown>): Promise<McProxyError> {
  try {
    await promise;
  } catch (err) {
    if (isMcProxyError(err)) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

describe("calls", () => {
  it("sends each call over the socket and decodes the answers", async () => {
    const { calls } = await serve({
      status: () => ({ version: "1.2.1" }),
      listListeners: () => ({
        listeners: [
          { address: ":443", routeCount: 1 },
          { address: ":8443", routeCount: 0 },
        ],
      }),
      listRoutes: (req) => ({
        routes:
          req.listener === ":443"
            ? [
                {
                  listener: ":443",
                  hostname: "app.example.net",
                  backend: "127.0.0.1:10001",
                  mode: RouteMode.L7,
                  tlsCert: "/c.pem",
                  tlsKey: "/c.key",
                },
              ]
            : [],
      }),
      addRoute: () => ({}),
      removeRoute: () => ({}),
    });
    const c = client();
    expect(await c.status()).toEqual({ version: "1.2.1" });
    expect(await c.listListeners()).toEqual([
      { address: ":443", routeCount: 1 },
      { address: ":8443", routeCount: 0 },
    ]);
    const route = {
      listener: ":443",
      hostname: "app.example.net",
      backend: "127.0.0.1:10001",
      mode: "l7",
      tlsCert: "/c.pem",
      tlsKey: "/c.key",
      backendTls: false,
    };
    expect(await c.listRoutes(":443")).toEqual([route]);
    expect(await c.listRoutes()).toEqual([route]);
    await c.addRoute({
      listener: ":8443",
      hostname: "api.example.net",
      backend: "10.0.0.1:9",
      mode: "l4",
    });
    await c.removeRoute(":8443", "api.example.net");
    const add = calls.find((call) => call.method === "addRoute")!.req;
    expect(add).toMatchObject({
      listener: ":8443",
      hostname: "api.example.net",
      backend: "10.0.0.1:9",
      mode: RouteMode.L4,
      tlsCert: "",
      tlsKey: "",
      backendTls: false,
    });
    expect(calls.find((call) => call.method === "removeRoute")!.req).toMatchObject({
      listener: ":8443",
      hostname: "api.example.net",
    });
    // Listing all routes asks every listener.
    expect(
      calls
        .filter((call) => call.method === "listRoutes")
        .map((call) => (call.req as { listener: string }).listener),
    ).toEqual([":443", ":443", ":8443"]);
  });

  it("reuses one connection for many calls", async () => {
    const served = await serve({ status: () => ({ version: "x" }) });
    const c = client();
    for (let i = 0; i < 20; i++) await c.status();
    await Promise.all(Array.from({ length: 20 }, () => c.status()));
    expect(served.sessions()).toBe(1);
  });
});

describe("errors", () => {
  const cases: [Code, McProxyErrorKind][] = [
    [Code.NotFound, "not-found"],
    [Code.AlreadyExists, "conflict"],
    [Code.InvalidArgument, "rejected"],
    [Code.FailedPrecondition, "rejected"],
    [Code.PermissionDenied, "unauthorized"],
    [Code.Unauthenticated, "unauthorized"],
    [Code.Unavailable, "unreachable"],
    [Code.Internal, "bad-response"],
  ];
  for (const [code, kind] of cases) {
    it(`maps ${Code[code]} to ${kind}, keeping the server's message and the cause`, async () => {
      await serve({
        removeRoute: () => {
          throw new ConnectError("no route for x.example.net", code);
        },
      });
      const err = await failure(client().removeRoute(":443", "x.example.net"));
      expect(err.kind).toBe(kind);
      expect(err.grpcCode).toBe(Code[code]);
      expect(err.message).toBe("mc-proxy RemoveRoute: no route for x.example.net");
      expect(err.cause).toBeInstanceOf(ConnectError);
      expect(isMcProxyError(err, kind)).toBe(true);
    });
  }

  it("reports a call the proxy does not implement as a bad response", async () => {
    await serve({ status: () => ({ version: "x" }) });
    const err = await failure(client().listListeners());
    expect(err.kind).toBe("bad-response");
    expect(err.grpcCode).toBe("Unimplemented");
  });

  it("reports a route with no known mode as a bad response", async () => {
    await serve({
      listRoutes: () => ({
        routes: [
          create(RouteSchema, { listener: ":443", hostname: "a.example.net", backend: "h:1" }),
        ],
      }),
    });
    const err = await failure(client().listRoutes(":443"));
    expect(err.kind).toBe("bad-response");
  });

  it("reports a missing socket as unreachable, naming the path", async () => {
    const started = performance.now();
    const err = await failure(client().status());
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain(socketPath);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("reports a file that is not a listening socket as unreachable", async () => {
    await writeFile(socketPath, "");
    const err = await failure(client().status());
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain(socketPath);
  });

  it("gives up after the timeout when the proxy accepts but never answers", async () => {
    const silent = net.createServer(() => {});
    const held = new Set<net.Socket>();
    silent.on("connection", (s) => held.add(s));
    await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of held) s.destroy();
          silent.close(() => resolve());
        }),
    );
    const started = performance.now();
    const err = await failure(client(300).status());
    const elapsed = performance.now() - started;
    expect(err.kind).toBe("timeout");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("gives up after the timeout when a handler hangs", async () => {
    await serve({ addRoute: () => new Promise(() => {}) });
    const err = await failure(
      client(200).addRoute({
        listener: ":443",
        hostname: "a.example.net",
        backend: "h:1",
        mode: "l4",
      }),
    );
    expect(err.kind).toBe("timeout");
  });

  it("fails calls after close()", async () => {
    await serve({ status: () => ({ version: "x" }) });
    const c = client();
    await c.status();
    c.close();
    const err = await failure(c.status());
    expect(err.kind).toBe("unreachable");
    expect(err.message).toContain("closed");
  });

  it("refuses a non-positive timeout at construction", () => {
    expect(() => createMcProxyClient({ socketPath, timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});

describe("isMcProxyError", () => {
  it("recognises errors by brand, not by class identity", () => {
    const foreign = Object.assign(new Error("x"), {
      kind: "not-found",
      [Symbol.for("@mcp/mcproxy-client/McProxyError")]: true,
    });
    expect(isMcProxyError(foreign)).toBe(true);
    expect(isMcProxyError(foreign, "not-found")).toBe(true);
    expect(isMcProxyError(foreign, "conflict")).toBe(false);
    expect(isMcProxyError(new Error("x"))).toBe(false);
    expect(isMcProxyError(new McProxyError("timeout", "t"), "timeout")).toBe(true);
  });
});
