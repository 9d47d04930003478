// The mc-proxy stand-in end to end: @mcp/mcproxy-client over the real admin unix socket (gRPC,
// HTTP/2), and real TLS clients through the real listeners to real HTTP/HTTPS backends.

import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import type net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import {
  createMcProxyClient,
  isMcProxyError,
  type McProxyClient,
  type McProxyError,
} from "@mcp/mcproxy-client";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type McProxySim, startMcProxySim } from "./sim.ts";
import {
  askOver,
  connectTrickling,
  createTestCa,
  requestVia,
  startHttpBackend,
  startHttpsBackend,
  startUpgradeBackend,
  type TestBackend,
  type TestCa,
} from "./test-helpers.ts";

let dir: string;
let sim: McProxySim | undefined;
let client: McProxyClient;
const cleanups: (() => Promise<void> | void)[] = [];
let ca: TestCa;
let backendCa: TestCa;

beforeAll(async () => {
  [ca, backendCa] = await Promise.all([createTestCa("proxy CA"), createTestCa("backend CA")]);
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "mcproxy-sim-"));
  sim = await startMcProxySim({ dir });
  client = createMcProxyClient({ socketPath: sim.socketPath, timeoutMs: 5_000 });
});

afterEach(async () => {
  client.close();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await sim?.stop();
  sim = undefined;
  await rm(dir, { recursive: true, force: true });
});

afterAll(() => {});

function port(listener: string): number {
  const l = sim!.listeners.find((x) => x.address === listener);
  if (!l) throw new Error(`no listener ${listener}`);
  return l.port;
}

async function backend(start: Promise<TestBackend>): Promise<TestBackend> {
  const b = await start;
  cleanups.push(() => b.close());
  return b;
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

async function l7Route(hostname: string, target: string, listener = ":443") {
  const creds = await ca.issue([hostname], dir);
  await client.addRoute({
    listener,
    hostname,
    backend: target,
    mode: "l7",
    tlsCert: creds.certFile,
    tlsKey: creds.keyFile,
  });
  return creds;
}

/** Resolves with the error a TLS client gets when the proxy refuses it. */
function refused(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected the connection to be refused");
    },
    (err: Error) => err,
  );
}

describe("admin API through @mcp/mcproxy-client", () => {
  it("reports its version and the configured listeners", async () => {
    expect((await client.status()).version).toMatch(/^sim-/);
    expect(await client.listListeners()).toEqual([
      { address: ":443", routeCount: 0 },
      { address: ":8443", routeCount: 0 },
      { address: ":9443", routeCount: 0 },
    ]);
  });

  it("adds, lists, replaces and removes routes", async () => {
    await client.addRoute({
      listener: ":8443",
      hostname: "API.Example.net",
      backend: "127.0.0.1:10001",
      mode: "l4",
    });
    const creds = await l7Route("web.example.net", "127.0.0.1:10002");
    expect(await client.listRoutes(":8443")).toEqual([
      {
        listener: ":8443",
        hostname: "api.example.net",
        backend: "127.0.0.1:10001",
        mode: "l4",
        tlsCert: "",
        tlsKey: "",
        backendTls: false,
      },
    ]);
    expect((await client.listRoutes()).map((r) => r.hostname)).toEqual([
      "web.example.net",
      "api.example.net",
    ]);
    expect((await client.listRoutes(":443"))[0]).toMatchObject({
      mode: "l7",
      tlsCert: creds.certFile,
      tlsKey: creds.keyFile,
    });
    expect((await client.listListeners()).map((l) => l.routeCount)).toEqual([1, 1, 0]);

    // Same hostname on the same listener replaces; it is not a second route.
    await client.addRoute({
      listener: ":8443",
      hostname: "api.example.net",
      backend: "127.0.0.1:10003",
      mode: "l4",
    });
    expect((await client.listRoutes(":8443")).map((r) => r.backend)).toEqual(["127.0.0.1:10003"]);

    await client.removeRoute(":8443", "api.example.net");
    expect(await client.listRoutes(":8443")).toEqual([]);
    const err = await failure(client.removeRoute(":8443", "api.example.net"));
    expect(err.kind).toBe("not-found");
    expect(err.message).toContain("api.example.net");
  });

  it("persists every one of many concurrent adds", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `c${i}.example.net`);
    await Promise.all(
      names.map((hostname, i) =>
        client.addRoute({
          listener: ":8443",
          hostname,
          backend: `127.0.0.1:${20000 + i}`,
          mode: "l4",
        }),
      ),
    );
    const saved = JSON.parse(await readFile(path.join(dir, "routes.json"), "utf8"));
    expect(saved.routes.map((r: { hostname: string }) => r.hostname).sort()).toEqual(
      [...names].sort(),
    );
    expect((await client.listListeners())[1]).toEqual({ address: ":8443", routeCount: 40 });
  });

  it("refuses bad routes with a message naming what is wrong, and changes nothing", async () => {
    const bad: [Parameters<McProxyClient["addRoute"]>[0], string, string][] = [
      [
        { listener: ":1234", hostname: "a.example.net", backend: "127.0.0.1:1", mode: "l4" },
        "not-found",
        ":1234",
      ],
      [
        { listener: ":443", hostname: "a..example.net", backend: "127.0.0.1:1", mode: "l4" },
        "rejected",
        "a..example.net",
      ],
      [
        { listener: ":443", hostname: "a.example.net", backend: "127.0.0.1", mode: "l4" },
        "rejected",
        "backend",
      ],
      [
        { listener: ":443", hostname: "a.example.net", backend: "127.0.0.1:70000", mode: "l4" },
        "rejected",
        "backend",
      ],
      [
        { listener: ":443", hostname: "a.example.net", backend: "127.0.0.1:1", mode: "l7" },
        "rejected",
        "tls_cert",
      ],
      [
        {
          listener: ":443",
          hostname: "a.example.net",
          backend: "127.0.0.1:1",
          mode: "l7",
          tlsCert: path.join(dir, "nope.pem"),
          tlsKey: path.join(dir, "nope.key"),
        },
        "rejected",
        "nope.pem",
      ],
      [
        {
          listener: ":443",
          hostname: "a.example.net",
          backend: "127.0.0.1:1",
          mode: "l4",
          tlsCert: "/x.pem",
        },
        "rejected",
        "L7",
      ],
    ];
    for (const [route, kind, mentions] of bad) {
      const err = await failure(client.addRoute(route));
      expect(err.kind, JSON.stringify(route)).toBe(kind);
      expect(err.message).toContain(mentions);
    }
    // A certificate whose key does not match.
    const one = await ca.issue(["a.example.net"], dir);
    const two = await ca.issue(["a.example.net"], dir);
    const err = await failure(
      client.addRoute({
        listener: ":443",
        hostname: "a.example.net",
        backend: "127.0.0.1:1",
        mode: "l7",
        tlsCert: one.certFile,
        tlsKey: two.keyFile,
      }),
    );
    expect(err.kind).toBe("rejected");
    expect(await client.listRoutes()).toEqual([]);
  });

  it("keeps routes and listener ports across a restart", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("web.example.net", web.address);
    await client.addRoute({
      listener: ":9443",
      hostname: "raw.example.net",
      backend: "127.0.0.1:10009",
      mode: "l4",
    });
    const before = sim!.listeners;
    const saved = JSON.parse(await readFile(path.join(dir, "routes.json"), "utf8"));
    expect(saved.routes).toHaveLength(2);
    const state = JSON.parse(await readFile(path.join(dir, "state.json"), "utf8"));
    expect(state.listeners.map((l: { address: string }) => l.address)).toEqual([
      ":443",
      ":8443",
      ":9443",
    ]);

    client.close();
    await sim!.stop();
    sim = await startMcProxySim({ dir });
    client = createMcProxyClient({ socketPath: sim.socketPath });
    expect(sim.listeners).toEqual(before);
    expect((await client.listRoutes()).map((r) => r.hostname)).toEqual([
      "web.example.net",
      "raw.example.net",
    ]);
    const res = await requestVia(port(":443"), "web.example.net", ca.certPem);
    expect(res.body).toBe("web:GET:/:");
  });

  it("refuses to start on a socket another proxy is serving", async () => {
    await expect(
      startMcProxySim({
        dir: await mkdtemp(path.join(tmpdir(), "mcproxy-sim2-")),
        socketPath: sim!.socketPath,
      }),
    ).rejects.toThrow(/another process/);
    expect((await client.status()).version).toMatch(/^sim-/);
  });

  it("one client outlives a proxy restart: unreachable while it is down, fine after", async () => {
    await client.addRoute({
      listener: ":443",
      hostname: "a.example.net",
      backend: "127.0.0.1:1",
      mode: "l4",
    });
    await sim!.stop();
    const down = await failure(client.status());
    expect(down.kind).toBe("unreachable");
    expect(down.message).toContain(sim!.socketPath);
    sim = await startMcProxySim({ dir });
    expect((await client.listRoutes(":443")).map((r) => r.hostname)).toEqual(["a.example.net"]);
  });

  it("keeps routes of a listener that a restart no longer configures", async () => {
    await client.addRoute({
      listener: ":9443",
      hostname: "kept.example.net",
      backend: "127.0.0.1:1",
      mode: "l4",
    });
    client.close();
    await sim!.stop();
    sim = await startMcProxySim({ dir, listeners: [{ address: ":443" }] });
    client = createMcProxyClient({ socketPath: sim.socketPath });
    await client.addRoute({
      listener: ":443",
      hostname: "new.example.net",
      backend: "127.0.0.1:2",
      mode: "l4",
    });
    client.close();
    await sim.stop();
    sim = await startMcProxySim({ dir });
    client = createMcProxyClient({ socketPath: sim.socketPath });
    expect((await client.listRoutes()).map((r) => r.hostname).sort()).toEqual([
      "kept.example.net",
      "new.example.net",
    ]);
  });

  it("sets the socket's file mode when asked", async () => {
    const other = await mkdtemp(path.join(tmpdir(), "mcproxy-sim4-"));
    cleanups.push(() => rm(other, { recursive: true, force: true }));
    const second = await startMcProxySim({
      dir: other,
      socketMode: 0o666,
      listeners: [{ address: ":443" }],
    });
    cleanups.push(() => second.stop());
    expect((await stat(second.socketPath)).mode & 0o777).toBe(0o666);
  });

  it("refuses a socket path too long for a unix socket", async () => {
    await expect(
      startMcProxySim({ dir, socketPath: `/tmp/${"x".repeat(120)}.sock` }),
    ).rejects.toThrow(/longer than 107 bytes/);
  });

  it("refuses to start on a corrupt routes file, naming it", async () => {
    const other = await mkdtemp(path.join(tmpdir(), "mcproxy-sim3-"));
    cleanups.push(() => rm(other, { recursive: true, force: true }));
    await writeFile(path.join(other, "routes.json"), "{not json");
    await expect(startMcProxySim({ dir: other })).rejects.toThrow(/routes\.json/);
  });
});

describe("data plane", () => {
  it("L7: terminates TLS 1.3 with the route's certificate and forwards HTTP with X-Forwarded-*", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("web.example.net", web.address);
    const res = await requestVia(port(":443"), "web.example.net", ca.certPem, {
      method: "POST",
      path: "/submit?x=1",
      body: "hello",
      headers: { "x-forwarded-for": "203.0.113.9" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe("web:POST:/submit?x=1:hello");
    expect(res.alpn).toBe("http/1.1");
    expect(res.peerCert.subject.CN).toBe("web.example.net");
    const seen = web.seen[0]!;
    expect(seen.headers["x-forwarded-proto"]).toBe("https");
    expect(seen.headers["x-forwarded-host"]).toBe("web.example.net");
    expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.9, 127.0.0.1");
    expect(seen.headers.host).toBe("web.example.net");
  });

  it("L7: streams a large body both ways", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("big.example.net", web.address);
    const body = "x".repeat(3 * 1024 * 1024);
    const res = await requestVia(port(":443"), "big.example.net", ca.certPem, {
      method: "PUT",
      body,
    });
    expect(res.body.length).toBe("web:PUT:/:".length + body.length);
  });

  it("L7 with backend_tls: speaks HTTPS to the backend", async () => {
    const creds = await backendCa.issue(["internal.example.net"], dir);
    const secure = await backend(startHttpsBackend("secure", creds));
    const front = await ca.issue(["secure.example.net"], dir);
    await client.addRoute({
      listener: ":443",
      hostname: "secure.example.net",
      backend: secure.address,
      mode: "l7",
      tlsCert: front.certFile,
      tlsKey: front.keyFile,
      backendTls: true,
    });
    const res = await requestVia(port(":443"), "secure.example.net", ca.certPem);
    expect(res.body).toBe("secure:GET:/:");
    expect(res.peerCert.subject.CN).toBe("secure.example.net");
  });

  it("L7: forwards an Upgrade (WebSocket-style) and splices the two connections", async () => {
    const echo = await backend(startUpgradeBackend());
    await l7Route("ws.example.net", echo.address);
    const { status, socket } = await new Promise<{ status: number; socket: net.Socket }>(
      (resolve, reject) => {
        const req = https.request({
          host: "127.0.0.1",
          port: port(":443"),
          servername: "ws.example.net",
          ca: ca.certPem,
          path: "/socket",
          headers: { host: "ws.example.net", connection: "Upgrade", upgrade: "echo" },
          agent: false,
        });
        req.on("upgrade", (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
        req.on("response", (res) =>
          reject(new Error(`got ${res.statusCode} instead of an upgrade`)),
        );
        req.on("error", reject);
        req.end();
      },
    );
    cleanups.push(() => void socket.destroy());
    expect(status).toBe(101);
    const echoed = new Promise<string>((resolve) => {
      let got = "";
      socket.on("data", (chunk: Buffer) => {
        got += chunk.toString();
        if (got.length >= 9) resolve(got);
      });
    });
    socket.write("ping-pong");
    expect(await echoed).toBe("ping-pong");
    expect(echo.seen[0]!.headers["x-forwarded-proto"]).toBe("https");
    expect(echo.seen[0]!.url).toBe("/socket");

    // A backend that declines the upgrade: its answer reaches the client.
    const declined = await requestVia(port(":443"), "ws.example.net", ca.certPem, {
      headers: { connection: "Upgrade", upgrade: "other" },
    }).catch((err: Error) => err);
    expect(declined).not.toBeInstanceOf(Error);
    expect((declined as { status: number }).status).toBe(400);
  });

  it("L7: answers 502 when the backend is down", async () => {
    await l7Route("down.example.net", "127.0.0.1:1");
    const res = await requestVia(port(":443"), "down.example.net", ca.certPem);
    expect(res.status).toBe(502);
  });

  it("L7: refuses a TLS 1.2 client", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("web.example.net", web.address);
    const err = await refused(
      requestVia(port(":443"), "web.example.net", ca.certPem, { maxVersion: "TLSv1.2" }),
    );
    expect(err.message).toMatch(/alert|protocol|version|socket hang up|ECONNRESET/i);
    expect(web.seen).toHaveLength(0);
  });

  it("L4: passes TLS through untouched, so the client sees the backend's own certificate", async () => {
    const creds = await backendCa.issue(["api.example.net"], dir);
    const api = await backend(startHttpsBackend("api", creds));
    await client.addRoute({
      listener: ":8443",
      hostname: "api.example.net",
      backend: api.address,
      mode: "l4",
    });
    const res = await requestVia(port(":8443"), "api.example.net", backendCa.certPem, {
      path: "/v1",
    });
    expect(res.body).toBe("api:GET:/v1:");
    expect(res.peerCert.issuer.CN).toBe("backend CA");
    // The proxy's own CA is not involved: a client trusting only it fails verification.
    const err = await refused(requestVia(port(":8443"), "api.example.net", ca.certPem));
    expect(err.message).toMatch(/certificate|issuer/i);
  });

  it("refuses unknown SNI, no SNI, and routes of another listener", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("web.example.net", web.address, ":443");
    await refused(requestVia(port(":443"), "other.example.net", ca.certPem));
    await refused(requestVia(port(":8443"), "web.example.net", ca.certPem));
    // A client that sends no server name (connecting by IP without servername).
    await refused(
      new Promise((resolve, reject) => {
        const s = tls.connect({
          host: "127.0.0.1",
          port: port(":443"),
          ca: ca.certPem,
          checkServerIdentity: () => undefined,
        });
        s.once("secureConnect", () => resolve(s.end()));
        s.once("error", reject);
        s.once("close", () => reject(new Error("closed")));
      }),
    );
    expect(web.seen).toHaveLength(0);
  });

  it("switches a route for new connections at once while established ones continue", async () => {
    const oldCreds = await backendCa.issue(["switch.example.net"], dir);
    const blue = await backend(startHttpsBackend("blue", oldCreds));
    const green = await backend(startHttpsBackend("green", oldCreds));
    await client.addRoute({
      listener: ":8443",
      hostname: "switch.example.net",
      backend: blue.address,
      mode: "l4",
    });

    // An established connection to blue, kept open across the switch.
    const held = tls.connect({
      host: "127.0.0.1",
      port: port(":8443"),
      servername: "switch.example.net",
      ca: backendCa.certPem,
    });
    cleanups.push(() => void held.destroy());
    await new Promise<void>((resolve, reject) => {
      held.once("secureConnect", resolve);
      held.once("error", reject);
    });
    expect(await askOver(held, "switch.example.net", "/before")).toBe("blue:GET:/before:");

    await client.addRoute({
      listener: ":8443",
      hostname: "switch.example.net",
      backend: green.address,
      mode: "l4",
    });
    const fresh = await requestVia(port(":8443"), "switch.example.net", backendCa.certPem, {
      path: "/new",
    });
    expect(fresh.body).toBe("green:GET:/new:");
    expect(await askOver(held, "switch.example.net", "/after")).toBe("blue:GET:/after:");

    // L7 too: the next connection goes to the new backend.
    const web1 = await backend(startHttpBackend("web1"));
    const web2 = await backend(startHttpBackend("web2"));
    await l7Route("site.example.net", web1.address);
    expect((await requestVia(port(":443"), "site.example.net", ca.certPem)).body).toBe(
      "web1:GET:/:",
    );
    await l7Route("site.example.net", web2.address);
    expect((await requestVia(port(":443"), "site.example.net", ca.certPem)).body).toBe(
      "web2:GET:/:",
    );
  });

  it("stops routing a hostname once its route is removed", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("gone.example.net", web.address);
    expect((await requestVia(port(":443"), "gone.example.net", ca.certPem)).status).toBe(200);
    await client.removeRoute(":443", "gone.example.net");
    await refused(requestVia(port(":443"), "gone.example.net", ca.certPem));
    expect(web.seen).toHaveLength(1);
  });

  it("reads a ClientHello that arrives a few bytes at a time (L4 and L7)", async () => {
    const web = await backend(startHttpBackend("web"));
    await l7Route("slow.example.net", web.address);
    const creds = await backendCa.issue(["slow4.example.net"], dir);
    const api = await backend(startHttpsBackend("api", creds));
    await client.addRoute({
      listener: ":8443",
      hostname: "slow4.example.net",
      backend: api.address,
      mode: "l4",
    });

    const l7 = await connectTrickling(port(":443"), {
      servername: "slow.example.net",
      ca: ca.certPem,
    });
    cleanups.push(() => void l7.destroy());
    expect(await askOver(l7, "slow.example.net", "/7")).toBe("web:GET:/7:");
    const l4 = await connectTrickling(port(":8443"), {
      servername: "slow4.example.net",
      ca: backendCa.certPem,
    });
    cleanups.push(() => void l4.destroy());
    expect(await askOver(l4, "slow4.example.net", "/4")).toBe("api:GET:/4:");
  });

  it("picks up a renewed certificate when the route is added again", async () => {
    const web = await backend(startHttpBackend("web"));
    const first = await l7Route("renew.example.net", web.address);
    const r1 = await requestVia(port(":443"), "renew.example.net", ca.certPem);
    const renewed = await ca.issue(["renew.example.net"], dir);
    // Same paths, new content: what the agent does when it renews a certificate in place.
    await writeFile(first.certFile, renewed.cert);
    await writeFile(first.keyFile, renewed.key);
    await client.addRoute({
      listener: ":443",
      hostname: "renew.example.net",
      backend: web.address,
      mode: "l7",
      tlsCert: first.certFile,
      tlsKey: first.keyFile,
    });
    const r2 = await requestVia(port(":443"), "renew.example.net", ca.certPem);
    expect(r2.peerCert.serialNumber).not.toBe(r1.peerCert.serialNumber);
  });
});
