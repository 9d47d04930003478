import { X509Certificate } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { createMcnsClient, type McnsClient } from "@mcp/mcns-client";
import { createMcProxyClient, type McProxyClient } from "@mcp/mcproxy-client";
import { type SimInstance, silentLogger, startSim } from "@mcp/sim";
import { freePort } from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentConfig, parseConfig } from "../../src/config.ts";
import { Engine, type EngineOptions } from "../../src/deploy/engine.ts";
import { KeyedLock } from "../../src/deploy/lock.ts";
import type { StepEvent } from "../../src/deploy/steps.ts";
import { addEdgeRoute, removeEdgeRoute } from "../../src/edge.ts";
import { ObservedState } from "../../src/observed.ts";
import { createPlatform, type PlatformHandle } from "../../src/platform/index.ts";
import { checkPlatform, EDGE_LOCK } from "../../src/platform-check.ts";
import type { ServiceDef } from "../../src/spec.ts";
import { openStore } from "../../src/store/sqlite.ts";
import { FakeRuntime } from "../helpers/fake-runtime.ts";

// The platform adapters against the real sim services: a CA that signs (Metacrypt), a proxy
// that terminates TLS and forwards (mc-proxy, admin gRPC on a unix socket) and a DNS server
// answering from the records API (MCNS). Containers are faked here; the agent-process test
// runs the same path on real Podman.

const ZONE = "svc.mcp.metacircular.net";

let dir: string;
let sim: SimInstance;
let platform: PlatformHandle;
let config: AgentConfig;
let proxy: McProxyClient;
let mcns: McnsClient;
let resolver: Resolver;
let metacryptCa: string;

function configText(o: { metacryptUrl?: string; mcnsUrl?: string; socket?: string } = {}): string {
  const mc = sim.endpoints.metacrypt;
  const ns = sim.endpoints.mcns;
  const px = sim.endpoints.mcproxy;
  return `
[server]
grpc_addr = "127.0.0.1:1"
tls_cert = "/unused"
tls_key = "/unused"
[database]
path = ":memory:"
[mcias]
server_url = "https://127.0.0.1:1"
[agent]
node_name = "rift"
address = "127.0.0.1"
[metacrypt]
server_url = "${o.metacryptUrl ?? mc?.url}"
ca_cert = "${mc?.caFile}"
token_file = "${mc?.extra?.tokenFile}"
[mcproxy]
socket = "${o.socket ?? px?.socket}"
[mcns]
server_url = "${o.mcnsUrl ?? ns?.url}"
ca_cert = "${ns?.caFile}"
token_file = "${ns?.extra?.tokenFile}"
zone = "${ZONE}"
ttl = 60
[certs]
dir = "${dir}/certs"
`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-platform-it-"));
  try {
    sim = await startSim({
      dir: join(dir, "sim"),
      only: ["metacrypt", "mcproxy", "mcns"],
      log: silentLogger,
    });
    config = parseConfig(configText(), { filename: "agent.toml" });
    platform = createPlatform(config);
    proxy = createMcProxyClient({ socketPath: sim.endpoints.mcproxy?.socket ?? "" });
    const ns = sim.endpoints.mcns;
    mcns = createMcnsClient({
      url: ns?.url ?? "",
      token: (await readFile(String(ns?.extra?.tokenFile), "utf8")).trim(),
      ca: await readFile(ns?.caFile ?? ""),
    });
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${ns?.extra?.dnsPort}`]);
    metacryptCa = await readFile(sim.endpoints.metacrypt?.caFile ?? "", "utf8");
  } catch (e) {
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}, 60_000);

afterAll(async () => {
  proxy?.close();
  await mcns?.close();
  await platform?.close();
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** GET https://<servername>/ through the proxy's :443 loopback port, trusting only `ca`. */
function httpsGet(servername: string, ca: string): Promise<{ status: number; body: string }> {
  const [host, port] = String(sim.endpoints.mcproxy?.extra?.[":443"]).split(":");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        servername,
        ca,
        path: "/",
        headers: { host: servername },
        timeout: 3000,
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

async function resolves(name: string): Promise<string[] | string> {
  try {
    return await resolver.resolve4(name);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

async function listenHttp(port: number, text: string): Promise<Server> {
  const server = createServer((_req, res) => res.end(text));
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return server;
}

describe("platform adapters on the sim services", () => {
  it("issues a certificate from Metacrypt, writes it 0600, and reuses it the second time", async () => {
    const host = `cert.${ZONE}`;
    const first = await platform.certificates?.ensure("cert", [host]);
    expect(first).toEqual({
      certPath: join(dir, "certs", "cert.pem"),
      keyPath: join(dir, "certs", "cert.key"),
      issued: true,
    });
    for (const f of [first?.certPath, first?.keyPath]) {
      expect((await stat(f ?? "")).mode & 0o777).toBe(0o600);
    }
    const leaf = new X509Certificate(await readFile(first?.certPath ?? ""));
    expect(leaf.subjectAltName).toBe(`DNS:${host}`);
    expect(leaf.verify(new X509Certificate(metacryptCa).publicKey)).toBe(true);

    const second = await platform.certificates?.ensure("cert", [host]);
    expect(second?.issued).toBe(false);
    expect(new X509Certificate(await readFile(second?.certPath ?? "")).serialNumber).toBe(
      leaf.serialNumber,
    );
    await platform.certificates?.remove("cert");
    await expect(stat(first?.certPath ?? "")).rejects.toThrow(/ENOENT/);
  });

  it("adds and removes routes visible through the proxy's admin API, idempotently", async () => {
    const route = {
      listener: ":8443",
      hostname: `l4.${ZONE}`,
      backend: "127.0.0.1:10999",
      mode: "l4" as const,
    };
    expect(await platform.routes?.add(route)).toBe(true);
    expect(await platform.routes?.add(route)).toBe(false);
    expect(await proxy.listRoutes(":8443")).toEqual([
      { ...route, tlsCert: "", tlsKey: "", backendTls: false },
    ]);
    await platform.routes?.remove(":8443", route.hostname);
    await platform.routes?.remove(":8443", route.hostname);
    expect(await proxy.listRoutes(":8443")).toEqual([]);
  });

  it("registers the service name in MCNS so a DNS query answers the node address", async () => {
    const name = `dns.${ZONE}`;
    expect(await platform.dns?.register("dns")).toBe(true);
    expect(await platform.dns?.register("dns")).toBe(false);
    expect(await resolves(name)).toEqual(["127.0.0.1"]);
    expect(await mcns.listRecords(ZONE, { name: "dns" })).toMatchObject([
      { name: "dns", type: "A", value: "127.0.0.1", ttl: 60 },
    ]);
    await platform.dns?.unregister("dns");
    await platform.dns?.unregister("dns");
    expect(await resolves(name)).toBe("ENOTFOUND");
  });

  it("registers an AAAA record for an IPv6 node address", async () => {
    const v6 = createPlatform(
      parseConfig(configText().replace('address = "127.0.0.1"', 'address = "::1"'), {
        filename: "agent.toml",
      }),
    );
    try {
      expect(await v6.dns?.register("six")).toBe(true);
      expect(await resolver.resolve6(`six.${ZONE}`)).toEqual(["::1"]);
      expect(await resolves(`six.${ZONE}`)).toBe("ENODATA");
      await v6.dns?.unregister("six");
      expect(await mcns.listRecords(ZONE, { name: "six" })).toEqual([]);
    } finally {
      await v6.close();
    }
  });

  it("moves the name when the node address changes", async () => {
    await platform.dns?.register("moved");
    const other = createPlatform(
      parseConfig(configText().replace('address = "127.0.0.1"', 'address = "127.0.0.9"'), {
        filename: "agent.toml",
      }),
    );
    try {
      expect(await other.dns?.register("moved")).toBe(true);
      expect(await resolves(`moved.${ZONE}`)).toEqual(["127.0.0.9"]);
      await other.dns?.unregister("moved");
    } finally {
      await other.close();
    }
  });
});

// --- the deploy engine with these adapters ---------------------------------------------

const portLow = 41000 + Math.floor(Math.random() * 100) * 100;

function engineFor(p: PlatformHandle) {
  const store = openStore(":memory:");
  const runtime = new FakeRuntime();
  runtime.images.add("reg.example/web:v1.0.0");
  const options: EngineOptions = {
    nodeName: "rift",
    address: "127.0.0.1",
    zone: ZONE,
    certsDir: config.certs.dir,
    listeners: {},
    portRange: { low: portLow, high: portLow + 99 },
    historyKeep: 5,
    stopTimeoutSeconds: 1,
  };
  const engine = new Engine({
    store,
    runtime,
    observed: new ObservedState(runtime, store, 0),
    platform: p,
    options,
  });
  const events: StepEvent[] = [];
  return { engine, runtime, store, options, events, emit: (e: StepEvent) => events.push(e) };
}

function webDef(name: string): ServiceDef {
  return {
    name,
    node: "rift",
    active: true,
    path: name,
    components: [
      {
        name: "web",
        image: "reg.example/web:v1.0.0",
        routes: [
          { name: "https", port: 443, mode: "l7" },
          { name: "tls", port: 9443, mode: "l4" },
        ],
      },
    ],
  };
}

async function everything(name: string) {
  const routes = (await proxy.listRoutes()).filter((r) => r.hostname === `${name}.${ZONE}`);
  const records = await mcns.listRecords(ZONE, { name });
  return { routes, records };
}

describe("deploy engine with the real platform", () => {
  it("deploys: L7 route over TLS from the Metacrypt CA reaches the backend, DNS answers; stop and undeploy remove them", async () => {
    const { engine, emit, events } = engineFor(platform);
    const name = "site";
    const host = `${name}.${ZONE}`;
    const r = await engine.deploy(webDef(name), "toml", emit);
    const done = events.filter((e) => e.status === "done").map((e) => e.name);
    expect(done).toEqual(
      expect.arrayContaining(["certificate", "register-routes", "register-dns"]),
    );
    const backend = await listenHttp(r.ports.https ?? 0, "hello through mc-proxy");
    try {
      const res = await httpsGet(host, metacryptCa);
      expect(res).toEqual({ status: 200, body: "hello through mc-proxy" });
      expect(await resolves(host)).toEqual(["127.0.0.1"]);
      const { routes } = await everything(name);
      expect(routes.map((x) => [x.listener, x.mode, x.backend]).sort()).toEqual([
        [":443", "l7", `127.0.0.1:${r.ports.https}`],
        [":9443", "l4", `127.0.0.1:${r.ports.tls}`],
      ]);

      // The same definition again changes nothing on the platform.
      events.length = 0;
      expect((await engine.deploy(webDef(name), "toml", emit)).changed).toBe(false);
      expect(events.filter((e) => e.status === "done")).toEqual([]);

      await engine.stop(name, emit);
      expect(await everything(name)).toEqual({ routes: [], records: [] });
      expect(await resolves(host)).toBe("ENOTFOUND");
      await expect(httpsGet(host, metacryptCa)).rejects.toThrow();

      await engine.undeploy(name, emit);
      await expect(stat(join(config.certs.dir, `${name}.pem`))).rejects.toThrow(/ENOENT/);
      await expect(stat(join(config.certs.dir, `${name}.key`))).rejects.toThrow(/ENOENT/);
    } finally {
      backend.close();
    }
  });

  async function closedPort(): Promise<number> {
    return freePort();
  }

  it("MCNS down: the deploy fails at the DNS step and the routes it added are removed", async () => {
    const down = createPlatform(
      parseConfig(configText({ mcnsUrl: `https://127.0.0.1:${await closedPort()}` }), {
        filename: "agent.toml",
      }),
    );
    try {
      const { engine, emit, events, runtime } = engineFor(down);
      const err = await engine.deploy(webDef("nodns"), "toml", emit).catch((e: Error) => e);
      expect((err as Error).message).toMatch(
        /^register-dns failed: MCNS cannot register nodns\.svc\.mcp\.metacircular\.net: .*(unreachable|refused)/i,
      );
      expect(events.filter((e) => e.status === "undone").map((e) => e.name)).toEqual(
        expect.arrayContaining(["register-routes", "container", "allocate-ports"]),
      );
      expect(await everything("nodns")).toEqual({ routes: [], records: [] });
      expect(runtime.containers.size).toBe(0);
      expect((err as Error).cause).toMatchObject({ name: "PlatformUnavailableError" });
    } finally {
      await down.close();
    }
  });

  it("mc-proxy down: the deploy fails at the route step and undoes the containers", async () => {
    const down = createPlatform(
      parseConfig(configText({ socket: join(dir, "no-proxy.sock") }), { filename: "agent.toml" }),
    );
    try {
      const { engine, emit, runtime } = engineFor(down);
      const err = await engine.deploy(webDef("noproxy"), "toml", emit).catch((e: Error) => e);
      expect((err as Error).message).toMatch(
        /^register-routes failed: mc-proxy cannot list routes for noproxy\.svc\.mcp\.metacircular\.net on :443: /,
      );
      expect(runtime.containers.size).toBe(0);
      expect((err as Error).cause).toMatchObject({ name: "PlatformUnavailableError" });
      expect(await everything("noproxy")).toEqual({ routes: [], records: [] });
    } finally {
      await down.close();
    }
  });

  it("Metacrypt down: the deploy fails at the certificate step before any container", async () => {
    const down = createPlatform(
      parseConfig(configText({ metacryptUrl: `https://127.0.0.1:${await closedPort()}` }), {
        filename: "agent.toml",
      }),
    );
    try {
      const { engine, emit, runtime } = engineFor(down);
      const err = await engine.deploy(webDef("nocert"), "toml", emit).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/^certificate failed: .*metacrypt/i);
      expect(runtime.calls.filter((c) => c.startsWith("create"))).toEqual([]);
      expect((err as Error).cause).toMatchObject({ name: "PlatformUnavailableError" });
      await expect(stat(join(config.certs.dir, "nocert.pem"))).rejects.toThrow(/ENOENT/);
      expect(await everything("nocert")).toEqual({ routes: [], records: [] });
    } finally {
      await down.close();
    }
  });
});

/** The serial number of the certificate the proxy's :443 serves for `servername`. */
function servedSerial(servername: string, ca: string): Promise<string> {
  const [host, port] = String(sim.endpoints.mcproxy?.extra?.[":443"]).split(":");
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), servername, ca, timeout: 3000 }, () => {
      resolve(socket.getPeerX509Certificate()?.serialNumber ?? "");
      socket.end();
    });
    socket.on("timeout", () => socket.destroy(new Error("timed out")));
    socket.on("error", reject);
  });
}

describe("the platform check against the real sim services", () => {
  it("puts back a route mc-proxy lost, so the service answers again; a second run changes nothing", async () => {
    const { engine, emit, store, options } = engineFor(platform);
    const name = "lost";
    const host = `${name}.${ZONE}`;
    const r = await engine.deploy(webDef(name), "toml", emit);
    const backend = await listenHttp(r.ports.https ?? 0, "back again");
    try {
      await proxy.removeRoute(":443", host);
      await expect(httpsGet(host, metacryptCa)).rejects.toThrow();
      const deps = { store, platform, lock: engine.lock, site: options };
      const first = await checkPlatform(deps);
      expect(first).toEqual({ restored: [`${host} on :443`], renewed: [], failed: [] });
      expect(await httpsGet(host, metacryptCa)).toEqual({ status: 200, body: "back again" });
      expect(await checkPlatform(deps)).toEqual({ restored: [], renewed: [], failed: [] });
      expect(store.listEvents({ service: name }).map((e) => e.kind)).toContain("route-restored");
      // A stopped service's routes stay gone.
      await engine.stop(name, emit);
      expect(await checkPlatform(deps)).toEqual({ restored: [], renewed: [], failed: [] });
      expect((await everything(name)).routes).toEqual([]);
      await engine.undeploy(name, emit);
    } finally {
      backend.close();
    }
  });

  it("renews a certificate within 30 days of expiry, and mc-proxy serves the new one", async () => {
    // 70 days on, a 90-day certificate has 20 days left: due for renewal.
    const later = () => new Date(Date.now() + 70 * 86_400_000);
    const short = createPlatform(config, { now: later });
    try {
      const { engine, emit, store, options } = engineFor(short);
      const name = "renewed";
      const host = `${name}.${ZONE}`;
      const r = await engine.deploy(webDef(name), "toml", emit);
      const backend = await listenHttp(r.ports.https ?? 0, "fresh");
      try {
        const before = await servedSerial(host, metacryptCa);
        const check = await checkPlatform({
          store,
          platform: short,
          lock: engine.lock,
          site: options,
        });
        expect(check).toEqual({
          restored: [],
          renewed: [join(config.certs.dir, `${name}.pem`)],
          failed: [],
        });
        const onDisk = new X509Certificate(
          await readFile(join(config.certs.dir, `${name}.pem`), "utf8"),
        );
        const after = await servedSerial(host, metacryptCa);
        expect(after).not.toBe(before);
        expect(after).toBe(onDisk.serialNumber);
        expect(await httpsGet(host, metacryptCa)).toEqual({ status: 200, body: "fresh" });
      } finally {
        backend.close();
        await engine.undeploy(name, emit);
      }
    } finally {
      await short.close();
    }
  });
});

describe("edge routes on the real sim services", () => {
  it("an L7 edge route terminates TLS with a Metacrypt certificate for the public name and forwards HTTP to the compute node's port", async () => {
    const store = openStore(":memory:");
    const ctx = {
      role: "edge" as const,
      nodeName: "svc",
      listeners: {},
      certsDir: config.certs.dir,
      platform,
      store,
    };
    const host = "shop.example.net";
    const port = await freePort();
    const backend = await listenHttp(port, "shop on rift");
    try {
      const added = await addEdgeRoute(ctx, {
        port: 443,
        hostname: host,
        backend: `127.0.0.1:${port}`,
        mode: "l7",
        service: "shop",
        node: "rift",
      });
      expect(added).toEqual({ changed: true, listener: ":443", certificate: "issued" });
      expect(await httpsGet(host, metacryptCa)).toEqual({ status: 200, body: "shop on rift" });
      const pem = join(config.certs.dir, `edge_${host}.pem`);
      expect((await stat(pem)).mode & 0o777).toBe(0o600);
      expect(new X509Certificate(await readFile(pem, "utf8")).subjectAltName).toContain(host);

      // mc-proxy loses it; the check (under the edge lock) puts it back.
      await proxy.removeRoute(":443", host);
      const lock = new KeyedLock();
      const check = await checkPlatform({
        store,
        platform,
        lock,
        site: { listeners: {}, zone: ZONE, address: "127.0.0.1", certsDir: config.certs.dir },
      });
      expect(check.restored).toEqual([`${host} on :443`]);
      expect(await httpsGet(host, metacryptCa)).toEqual({ status: 200, body: "shop on rift" });
      expect(lock.isLocked(EDGE_LOCK)).toBe(false);

      expect(await removeEdgeRoute(ctx, { port: 443, hostname: host })).toEqual({
        listener: ":443",
        removed: true,
      });
      expect((await proxy.listRoutes()).filter((r) => r.hostname === host)).toEqual([]);
      await expect(stat(pem)).rejects.toThrow(/ENOENT/);
    } finally {
      backend.close();
      store.close();
    }
  });
});
