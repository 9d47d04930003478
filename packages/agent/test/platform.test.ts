import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DnsRecord } from "@mcp/mcns-client";
import {
  type AddRouteInput,
  type McProxyClient,
  McProxyNotFoundError,
  type McProxyRoute,
  McProxyUnreachableError,
} from "@mcp/mcproxy-client";
import type { IssueCertificateRequest, IssuedCertificate } from "@mcp/metacrypt-client";
import { SimCa } from "@mcp/sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isConfigError, parseConfig } from "../src/config.ts";
import {
  CertificateGenerations,
  createPlatform,
  isPlatformError,
  McProxyRoutes,
  MetacryptCertificates,
  nodeRecord,
  PlatformError,
  planRecords,
  reuseDecision,
  sameRoute,
  writeFileAtomic,
} from "../src/platform/index.ts";

const DAY = 86_400_000;
const HOST = "web.svc.mcp.metacircular.net";

let dir: string;
let ca: SimCa;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-platform-unit-"));
  ca = await SimCa.open(join(dir, "ca"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function issue(names: string[], days: number) {
  return ca.issue({
    commonName: names[0] ?? HOST,
    dnsNames: names,
    ipAddresses: [],
    ttlMs: days * DAY,
    profile: "server",
    issuer: "web",
  });
}

/** A stand-in for the Metacrypt client, signing with a real CA and counting calls. */
function fakeIssuer(days = 90) {
  const calls: IssueCertificateRequest[] = [];
  const fn = async (req: IssueCertificateRequest): Promise<IssuedCertificate> => {
    calls.push(req);
    const c = await issue([...(req.dnsNames ?? [])], days);
    return { ...c, expiresAt: c.expiresAt };
  };
  return { fn, calls };
}

describe("reuseDecision", () => {
  it("reuses a certificate 60 days from expiry and renews one 10 days from it", async () => {
    const long = await issue([HOST], 60);
    const short = await issue([HOST], 10);
    expect(reuseDecision(long.certificate, long.privateKey, [HOST])).toEqual({ reuse: true });
    const r = reuseDecision(short.certificate, short.privateKey, [HOST]);
    expect(r.reuse).toBe(false);
    expect(r.reuse === false && r.reason).toMatch(/^it expires \d{4}-/);
  });

  it("renews at the 30-day boundary, judged from the given time", async () => {
    const c = await issue([HOST], 60);
    const at = (d: number) => new Date(Date.now() + d * DAY);
    expect(reuseDecision(c.certificate, c.privateKey, [HOST], at(29)).reuse).toBe(true);
    expect(reuseDecision(c.certificate, c.privateKey, [HOST], at(31)).reuse).toBe(false);
  });

  it("renews when a hostname is missing, the key does not match, or the files are bad", async () => {
    const a = await issue([HOST], 90);
    const b = await issue([HOST], 90);
    const no = (d: ReturnType<typeof reuseDecision>) => (d.reuse ? "reuse" : d.reason);
    expect(no(reuseDecision(a.certificate, a.privateKey, [HOST, "api.example.net"]))).toBe(
      "it does not name api.example.net",
    );
    expect(no(reuseDecision(a.certificate, b.privateKey, [HOST]))).toBe(
      "the key does not match the certificate",
    );
    expect(no(reuseDecision(undefined, a.privateKey, [HOST]))).toBe("no certificate yet");
    expect(no(reuseDecision("garbage", a.privateKey, [HOST]))).toBe(
      "the certificate on disk cannot be read",
    );
    expect(no(reuseDecision(a.certificate, "garbage", [HOST]))).toBe(
      "the key on disk cannot be read",
    );
    // Hostnames compare case-insensitively.
    expect(no(reuseDecision(a.certificate, a.privateKey, [HOST.toUpperCase()]))).toBe("reuse");
  });
});

describe("MetacryptCertificates", () => {
  it("issues once with the route hostnames as SANs, writes 0600 files, then reuses", async () => {
    const certs = join(dir, "certs-a");
    const issuer = fakeIssuer();
    const issued: string[] = [];
    const p = new MetacryptCertificates({
      dir: certs,
      issue: issuer.fn,
      mount: "pki",
      path: "web",
      issuer: "web",
      profile: "server",
      ttl: "2160h",
      onIssued: (path) => issued.push(path),
    });
    const first = await p.ensure("web", [HOST, "www.example.net"]);
    expect(first).toEqual({
      certPath: join(certs, "web.pem"),
      keyPath: join(certs, "web.key"),
      issued: true,
    });
    expect(issuer.calls).toEqual([
      {
        mount: "pki",
        path: "web",
        issuer: "web",
        profile: "server",
        commonName: HOST,
        dnsNames: [HOST, "www.example.net"],
        ipAddresses: [],
        ttl: "2160h",
      },
    ]);
    expect((await stat(first.certPath)).mode & 0o777).toBe(0o600);
    expect((await stat(first.keyPath)).mode & 0o777).toBe(0o600);
    // Leaf then chain, so mc-proxy can serve the whole chain.
    const pem = await readFile(first.certPath, "utf8");
    expect(pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(pem.endsWith(ca.caPem)).toBe(true);
    expect(issued).toEqual([first.certPath]);

    const second = await p.ensure("web", [HOST, "www.example.net"]);
    expect(second.issued).toBe(false);
    expect(issuer.calls).toHaveLength(1);

    // A new hostname needs a new certificate.
    expect((await p.ensure("web", [HOST, "new.example.net"])).issued).toBe(true);
    expect(issuer.calls).toHaveLength(2);

    await p.remove("web");
    await p.remove("web");
    expect(await readdir(certs)).toEqual([]);
  });

  it("replaces a certificate that expires within 30 days", async () => {
    const certs = join(dir, "certs-b");
    const short = fakeIssuer(10);
    const opts = {
      dir: certs,
      mount: "pki",
      path: "web",
      issuer: "web",
      profile: "server",
      ttl: "240h",
    };
    await new MetacryptCertificates({ ...opts, issue: short.fn }).ensure("web", [HOST]);
    const long = fakeIssuer(90);
    const p = new MetacryptCertificates({ ...opts, issue: long.fn });
    expect((await p.ensure("web", [HOST])).issued).toBe(true);
    expect((await p.ensure("web", [HOST])).issued).toBe(false);
    expect(long.calls).toHaveLength(1);
  });

  it("writes nothing when Metacrypt fails", async () => {
    const certs = join(dir, "certs-c");
    const p = new MetacryptCertificates({
      dir: certs,
      issue: async () => {
        throw new Error("metacrypt: unreachable");
      },
      mount: "pki",
      path: "web",
      issuer: "web",
      profile: "server",
      ttl: "2160h",
    });
    await expect(p.ensure("web", [HOST])).rejects.toThrow("metacrypt: unreachable");
    await expect(readdir(certs)).rejects.toThrow(/ENOENT/);
  });
});

describe("writeFileAtomic", () => {
  it("replaces a file with a 0600 one and leaves no temporary file", async () => {
    const d = await mkdtemp(join(dir, "atomic-"));
    const f = join(d, "x.key");
    await writeFile(f, "old", { mode: 0o644 });
    await writeFileAtomic(f, "new");
    expect(await readFile(f, "utf8")).toBe("new");
    expect((await stat(f)).mode & 0o777).toBe(0o600);
    expect(await readdir(d)).toEqual(["x.key"]);
  });
});

function fakeProxy(routes: McProxyRoute[] = []) {
  const adds: AddRouteInput[] = [];
  let fail: Error | undefined;
  const client: McProxyClient = {
    status: async () => ({ version: "fake" }),
    listListeners: async () => [],
    listRoutes: async (listener) => {
      if (fail) throw fail;
      return routes.filter((r) => r.listener === listener);
    },
    addRoute: async (r) => {
      adds.push(r);
      const i = routes.findIndex((x) => x.listener === r.listener && x.hostname === r.hostname);
      const route = {
        listener: r.listener,
        hostname: r.hostname,
        backend: r.backend,
        mode: r.mode,
        tlsCert: r.tlsCert ?? "",
        tlsKey: r.tlsKey ?? "",
        backendTls: false,
      };
      if (i >= 0) routes[i] = route;
      else routes.push(route);
    },
    removeRoute: async (listener, hostname) => {
      const i = routes.findIndex((x) => x.listener === listener && x.hostname === hostname);
      if (i < 0) throw new McProxyNotFoundError("mc-proxy: no such route");
      routes.splice(i, 1);
    },
    close: () => {},
  };
  return {
    client,
    routes,
    adds,
    failWith: (e: Error) => {
      fail = e;
    },
  };
}

const l7 = {
  listener: ":443",
  hostname: HOST,
  backend: "127.0.0.1:10001",
  mode: "l7" as const,
  tlsCert: "/certs/web.pem",
  tlsKey: "/certs/web.key",
};

describe("McProxyRoutes", () => {
  it("adds a route once, then reports it unchanged; a new backend replaces it", async () => {
    const proxy = fakeProxy();
    const routes = new McProxyRoutes(proxy.client);
    expect(await routes.add(l7)).toBe(true);
    expect(await routes.add(l7)).toBe(false);
    expect(await routes.add({ ...l7, hostname: HOST.toUpperCase() })).toBe(false);
    expect(await routes.add({ ...l7, backend: "127.0.0.1:10002" })).toBe(true);
    expect(proxy.adds.map((a) => a.backend)).toEqual(["127.0.0.1:10001", "127.0.0.1:10002"]);
  });

  it("adds an L7 route again after its certificate was re-issued, so the proxy reloads it", async () => {
    const proxy = fakeProxy();
    const gens = new CertificateGenerations();
    const routes = new McProxyRoutes(proxy.client, gens);
    gens.bump(l7.tlsCert);
    expect(await routes.add(l7)).toBe(true);
    expect(await routes.add(l7)).toBe(false);
    gens.bump(l7.tlsCert);
    expect(await routes.add(l7)).toBe(true);
    expect(await routes.add(l7)).toBe(false);
  });

  it("sends no certificate paths for an L4 route", async () => {
    const proxy = fakeProxy();
    const routes = new McProxyRoutes(proxy.client);
    await routes.add({ ...l7, mode: "l4", tlsCert: undefined, tlsKey: undefined });
    expect(proxy.adds[0]).toEqual({
      listener: ":443",
      hostname: HOST,
      backend: "127.0.0.1:10001",
      mode: "l4",
    });
    expect(proxy.routes[0] && sameRoute(proxy.routes[0], { ...l7, mode: "l4" })).toBe(true);
  });

  it("removes idempotently and names the route when the proxy fails", async () => {
    const proxy = fakeProxy();
    const routes = new McProxyRoutes(proxy.client);
    await routes.add(l7);
    await routes.remove(":443", HOST);
    await routes.remove(":443", HOST);
    expect(proxy.routes).toEqual([]);
    proxy.failWith(new McProxyUnreachableError("mc-proxy unreachable: connect ENOENT /x.sock"));
    await expect(routes.add(l7)).rejects.toThrow(
      `mc-proxy cannot list routes for ${HOST} on :443: mc-proxy unreachable: connect ENOENT /x.sock`,
    );
  });
});

describe("DNS records", () => {
  const rec = (over: Partial<DnsRecord>): DnsRecord => ({
    id: "1",
    name: "web",
    type: "A",
    value: "10.0.0.1",
    ttl: 300,
    ...over,
  });

  it("points the name at the node with A, AAAA or CNAME", () => {
    expect(nodeRecord("web", "100.64.0.7", 300)).toEqual({
      name: "web",
      type: "A",
      value: "100.64.0.7",
      ttl: 300,
    });
    expect(nodeRecord("web", "fd00::7", 60).type).toBe("AAAA");
    expect(nodeRecord("web", "rift.example.net.", 60)).toMatchObject({
      type: "CNAME",
      value: "rift.example.net",
    });
  });

  it("keeps an identical record, replaces another address or TTL, leaves other names alone", () => {
    const want = nodeRecord("web", "10.0.0.1", 300);
    expect(planRecords([rec({})], want)).toEqual({ remove: [], create: false });
    expect(planRecords([], want)).toEqual({ remove: [], create: true });
    const stale = rec({ id: "2", value: "10.0.0.9" });
    const other = rec({ id: "3", name: "api" });
    expect(planRecords([stale, other], want)).toEqual({ remove: [stale], create: true });
    const oldTtl = rec({ id: "4", ttl: 60 });
    expect(planRecords([oldTtl], want)).toEqual({ remove: [oldTtl], create: true });
  });
});

const baseConfig = `
[server]
grpc_addr = "127.0.0.1:9444"
tls_cert = "/x/cert.pem"
tls_key = "/x/key.pem"
[database]
path = ":memory:"
[mcias]
server_url = "https://127.0.0.1:1"
[agent]
node_name = "rift"
`;

describe("createPlatform", () => {
  it("configures nothing when no section names a service", () => {
    const p = createPlatform(parseConfig(baseConfig, { filename: "a.toml" }));
    expect([p.certificates, p.routes, p.dns]).toEqual([undefined, undefined, undefined]);
  });

  it("configures each port whose service is named", async () => {
    const token = join(dir, "token");
    await writeFile(token, "t\n");
    const warnings: string[] = [];
    const p = createPlatform(
      parseConfig(
        `${baseConfig}
[metacrypt]
server_url = "https://127.0.0.1:1"
token_file = "${token}"
[mcproxy]
socket = "${join(dir, "proxy.sock")}"
[mcns]
server_url = "https://127.0.0.1:1"
token_file = "${join(dir, "missing-token")}"
`,
        { filename: "a.toml" },
      ),
      { warn: (m) => warnings.push(m) },
    );
    expect(p.certificates).toBeDefined();
    expect(p.routes).toBeDefined();
    expect(p.dns).toBeDefined();
    expect(warnings).toEqual([
      "mcns.token_file cannot be read yet; deploys will fail until it can",
    ]);
    await expect(p.dns?.register("web")).rejects.toThrow(
      `cannot read mcns.token_file ${join(dir, "missing-token")}: ENOENT`,
    );
    await p.close();
  });

  it("refuses a server URL without a token file, and an unreadable CA, in one line", () => {
    const err = (extra: string) => {
      try {
        createPlatform(parseConfig(`${baseConfig}${extra}`, { filename: "a.toml" }));
      } catch (e) {
        expect(isConfigError(e)).toBe(true);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(err(`[mcns]\nserver_url = "https://127.0.0.1:1"\n`)).toBe(
      "a.toml: mcns.token_file is required when mcns.server_url is set",
    );
    expect(
      err(
        `[metacrypt]\nserver_url = "https://127.0.0.1:1"\ntoken_file = "/t"\nca_cert = "/nope/ca.pem"\n`,
      ),
    ).toBe("a.toml: cannot read metacrypt.ca_cert /nope/ca.pem: ENOENT");
  });
});

describe("PlatformError", () => {
  it("is PlatformUnavailableError when the service could not be reached or timed out", () => {
    const down = new PlatformError(
      "mc-proxy cannot add route x on :443",
      new McProxyUnreachableError("mc-proxy AddRoute: no socket at /x.sock"),
    );
    expect(down.name).toBe("PlatformUnavailableError");
    expect(down.message).toBe(
      "mc-proxy cannot add route x on :443: mc-proxy AddRoute: no socket at /x.sock",
    );
    const refused = new PlatformError("MCNS cannot register x", new McProxyNotFoundError("no"));
    expect(refused.name).toBe("PlatformError");
    expect(isPlatformError(refused) && isPlatformError(down)).toBe(true);
  });
});
