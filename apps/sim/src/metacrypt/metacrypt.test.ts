import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import {
  certificateExpiry,
  createMetacryptClient,
  type IssueCertificateRequest,
  isMetacryptNotFoundError,
  isMetacryptRejectedError,
  isMetacryptUnauthorizedError,
  isMetacryptUnreachableError,
  needsRenewal,
} from "@mcp/metacrypt-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mciasModule } from "../mcias/index.ts";
import { MciasStore } from "../mcias/store.ts";
import { startSim } from "../runner.ts";
import { parseGoDuration } from "./duration.ts";
import { metacryptModule } from "./index.ts";
import { type MetacryptSim, startMetacryptSim } from "./server.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const request: IssueCertificateRequest = {
  mount: "pki",
  path: "web",
  issuer: "web",
  commonName: "mcp-agent.svc.mcp.metacircular.net",
  profile: "server",
  dnsNames: ["mcp-agent.svc.mcp.metacircular.net", "alt.svc.mcp.metacircular.net"],
  ipAddresses: ["100.64.0.7", "fd00::7"],
  ttl: "2160h",
};

describe("parseGoDuration", () => {
  it("reads Go durations", () => {
    expect(parseGoDuration("2160h")).toBe(2160 * HOUR);
    expect(parseGoDuration("720h")).toBe(720 * HOUR);
    expect(parseGoDuration("90m")).toBe(90 * 60_000);
    expect(parseGoDuration("1h30m15s")).toBe(HOUR + 30 * 60_000 + 15_000);
    expect(parseGoDuration("1.5h")).toBe(1.5 * HOUR);
    expect(parseGoDuration("250ms")).toBe(250);
    expect(parseGoDuration("0")).toBe(0);
  });
  it.each(["", "h", "10", "10d", "1h 30m", "-", "1hh"])("rejects %j", (s) => {
    expect(() => parseGoDuration(s)).toThrow(/invalid duration/);
  });
});

describe("Metacrypt sim with @mcp/metacrypt-client", () => {
  let dir: string;
  let sim: MetacryptSim;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mcp-metacrypt-sim-"));
    sim = await startMetacryptSim({ dir });
  });
  afterAll(async () => {
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const client = () =>
    createMetacryptClient({ url: sim.url, token: sim.token ?? "", ca: sim.caPem });

  it("issues a leaf that chains to the CA, with the SANs, profile and TTL asked for", async () => {
    const c = client();
    const before = Date.now();
    const issued = await c.issueCertificate(request);
    await c.close();

    const leaf = new X509Certificate(issued.certificate);
    const root = new X509Certificate(await readFile(join(dir, "ca.pem")));
    expect(issued.caChain).toHaveLength(1);
    expect(new X509Certificate(issued.caChain[0] as string).fingerprint256).toBe(
      root.fingerprint256,
    );
    expect(leaf.checkIssued(root)).toBe(true);
    expect(leaf.verify(root.publicKey)).toBe(true);
    expect(leaf.subject).toBe("CN=mcp-agent.svc.mcp.metacircular.net");
    expect(leaf.subjectAltName).toBe(
      "DNS:mcp-agent.svc.mcp.metacircular.net, DNS:alt.svc.mcp.metacircular.net, IP Address:100.64.0.7, IP Address:FD00:0:0:0:0:0:0:7",
    );
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toContain("1.3.6.1.5.5.7.3.1"); // serverAuth
    const lifetime = new Date(leaf.validTo).getTime() - before;
    expect(lifetime).toBeGreaterThan(2160 * HOUR - 5_000);
    expect(lifetime).toBeLessThanOrEqual(2160 * HOUR + 1_000);
    expect(issued.expiresAt.getTime()).toBe(new Date(leaf.validTo).getTime());
    expect(certificateExpiry(issued.certificate).getTime()).toBe(issued.expiresAt.getTime());
    expect(issued.serial.replaceAll(":", "").toUpperCase()).toBe(leaf.serialNumber);
    // The key really is the leaf's: the pair works for a TLS handshake below.
    expect(issued.privateKey).toContain("-----BEGIN PRIVATE KEY-----");

    // 90 days left: reused now, renewed once fewer than 30 days remain.
    expect(needsRenewal(issued.certificate, new Date())).toBe(false);
    expect(needsRenewal(issued.certificate, new Date(Date.now() + 61 * DAY))).toBe(true);
  });

  it("issues a key pair that serves TLS which a client trusting only ca.pem accepts", async () => {
    const { createServer } = await import("node:tls");
    const c = client();
    const issued = await c.issueCertificate({
      ...request,
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      ttl: "90m",
    });
    await c.close();
    const server = createServer({ cert: issued.certificate, key: issued.privateKey }, (s) =>
      s.end("hi"),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as { port: number }).port;
      const got = await new Promise<string>((resolve, reject) => {
        const s = connect(
          { host: "127.0.0.1", port, servername: "localhost", ca: sim.caPem },
          () => {
            s.setEncoding("utf8");
            let data = "";
            s.on("data", (d) => {
              data += d;
            });
            s.on("end", () => resolve(data));
          },
        );
        s.on("error", reject);
      });
      expect(got).toBe("hi");
    } finally {
      server.close();
    }
  });

  it("records every serial in the index, which survives a restart with the same CA", async () => {
    const c = client();
    const issued = await c.issueCertificate({ ...request, ttl: "720h" });
    await c.close();
    const caBefore = sim.caPem;
    await sim.stop();
    sim = await startMetacryptSim({ dir });
    expect(sim.caPem).toBe(caBefore);
    const serials = (await sim.ca.index()).map((e) => e.serial);
    expect(serials).toContain(issued.serial.replaceAll(":", ""));
    const c2 = client();
    const again = await c2.issueCertificate(request);
    await c2.close();
    expect(new X509Certificate(again.certificate).checkIssued(new X509Certificate(caBefore))).toBe(
      true,
    );
    expect((await stat(join(dir, "ca-key.pem"))).mode & 0o777).toBe(0o600);
  });

  it("serves its CA at /v1/ca", async () => {
    const res = await fetch(`${sim.url}/v1/ca`).catch((e: unknown) => e);
    // Node's fetch does not trust the sim CA; the endpoint is for bootstrapping with -k.
    expect(res).toBeInstanceOf(Error);
    const { get } = await import("node:https");
    const body = await new Promise<string>((resolve, reject) => {
      get(`${sim.url}/v1/ca`, { ca: sim.caPem }, (r) => {
        let text = "";
        r.setEncoding("utf8");
        r.on("data", (d) => {
          text += d;
        });
        r.on("end", () => resolve(text));
      }).on("error", reject);
    });
    expect(body).toBe(sim.caPem);
  });

  it("answers a wrong token with Unauthorized, without echoing the token", async () => {
    const c = createMetacryptClient({ url: sim.url, token: "not-the-token-s3cret", ca: sim.caPem });
    const e = await c.issueCertificate(request).catch((x: unknown) => x);
    await c.close();
    expect(isMetacryptUnauthorizedError(e)).toBe(true);
    expect(String((e as Error).message)).not.toContain("s3cret");
  });

  it("uses a token validator when given one (e.g. the sim MCIAS)", async () => {
    const d = await mkdtemp(join(tmpdir(), "mcp-metacrypt-sim-"));
    const s = await startMetacryptSim({ dir: d, validateToken: async (t) => t === "from-mcias" });
    try {
      expect(s.token).toBeUndefined();
      const ok = createMetacryptClient({ url: s.url, token: "from-mcias", ca: s.caPem });
      await expect(ok.issueCertificate(request)).resolves.toMatchObject({
        serial: expect.any(String),
      });
      await ok.close();
      const no = createMetacryptClient({ url: s.url, token: "other", ca: s.caPem });
      expect(
        isMetacryptUnauthorizedError(await no.issueCertificate(request).catch((x: unknown) => x)),
      ).toBe(true);
      await no.close();
    } finally {
      await s.stop();
      await rm(d, { recursive: true, force: true });
    }
  });

  it("reads tokens from <dir>/tokens", async () => {
    const d = await mkdtemp(join(tmpdir(), "mcp-metacrypt-sim-"));
    const first = await startMetacryptSim({ dir: d });
    await first.stop();
    await writeFile(join(d, "tokens"), "# operator tokens\nalpha\nbeta\n");
    const s = await startMetacryptSim({ dir: d });
    try {
      expect(s.token).toBe("alpha");
      const c = createMetacryptClient({ url: s.url, token: "beta", ca: s.caPem });
      await expect(c.issueCertificate(request)).resolves.toBeDefined();
      await c.close();
    } finally {
      await s.stop();
      await rm(d, { recursive: true, force: true });
    }
  });

  it("rejects bad requests with a reason naming the field, and unknown mounts with NotFound", async () => {
    const c = client();
    const e1 = await c.issueCertificate({ ...request, ttl: "10d" }).catch((x: unknown) => x);
    expect(isMetacryptRejectedError(e1)).toBe(true);
    expect((e1 as Error).message).toMatch(/data\.ttl/);
    const e2 = await c
      .issueCertificate({ ...request, ipAddresses: ["999.1.1.1"] })
      .catch((x: unknown) => x);
    expect((e2 as Error).message).toMatch(/data\.ip_addresses/);
    const e3 = await c.issueCertificate({ ...request, mount: "nope" }).catch((x: unknown) => x);
    expect(isMetacryptNotFoundError(e3)).toBe(true);
    await c.close();
  });

  it("is Unreachable for a client that does not trust the sim CA", async () => {
    const c = createMetacryptClient({ url: sim.url, token: sim.token ?? "" });
    const e = await c.issueCertificate(request).catch((x: unknown) => x);
    expect(isMetacryptUnreachableError(e)).toBe(true);
    await c.close();
  });
});

describe("metacrypt as an mcp-sim module", () => {
  it("starts beside MCIAS, accepts MCIAS tokens and its token file, and keeps its port", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mcp-metacrypt-mod-"));
    const modules = [mciasModule, metacryptModule];
    let sim = await startSim({ dir, modules });
    try {
      const ep = sim.endpoints.metacrypt;
      expect(ep?.caFile).toBe(join(dir, "metacrypt", "ca.pem"));
      const ca = await readFile(ep?.caFile as string, "utf8");
      const { token } = await new MciasStore(join(dir, "mcias")).issueToken("admin", HOUR);
      const viaMcias = createMetacryptClient({ url: ep?.url as string, token, ca });
      const issued = await viaMcias.issueCertificate(request);
      await viaMcias.close();
      expect(new X509Certificate(issued.certificate).checkIssued(new X509Certificate(ca))).toBe(
        true,
      );

      const fileToken = (await readFile(ep?.extra?.tokenFile as string, "utf8")).trim();
      const viaFile = createMetacryptClient({ url: ep?.url as string, token: fileToken, ca });
      await expect(viaFile.issueCertificate(request)).resolves.toBeDefined();
      await viaFile.close();

      const port = ep?.port;
      await sim.stop();
      sim = await startSim({ dir, modules });
      expect(sim.endpoints.metacrypt?.port).toBe(port);
    } finally {
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
