// End to end with real parts: the sim's MCIAS and this token service (HTTPS), a real
// docker-registry (distribution 2.8) configured by writeRegistryConfig for token auth,
// real rootless Podman (user mcp) pushing and pulling through the token flow with an
// auth file, and @mcp/mcr-client checking tags.
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMcrClient,
  isMcrUnauthorized,
  isMcrUnreachable,
  type McrClient,
  type McrClientOptions,
} from "@mcp/mcr-client";
import { freePort, type PodmanHarness, REGISTRY_BINARY, setupPodman } from "@mcp/testkit";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { SimLogger } from "../framework.ts";
import { mciasModule } from "../mcias/index.ts";
import { type SimInstance, startSim } from "../runner.ts";
import {
  ensureSigningKey,
  registryAuthModule,
  signJwtEs256,
  writeRegistryConfig,
} from "./index.ts";

interface Registry {
  url: string;
  host: string;
  stop(): Promise<void>;
}

/** docker-registry with the config writeRegistryConfig makes, on a free loopback port. */
async function startTokenRegistry(dir: string, extra: Record<string, unknown>): Promise<Registry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, `registry-${port}.yml`);
  await writeRegistryConfig(config, {
    addr: host,
    storageDir: join(dir, "registry-data"),
    realm: String(extra.realm),
    service: String(extra.service),
    issuer: String(extra.issuer),
    rootCertBundle: String(extra.rootCertBundle),
  });
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.once("error", () => {});
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
    const res = await fetch(`http://${host}/v2/`).catch(() => undefined);
    if (res?.status === 401) {
      expect(res.headers.get("www-authenticate")).toContain(`realm="${String(extra.realm)}"`);
      break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://${host}`, host, stop };
}

let dir: string;
let sim: SimInstance;
let registry: Registry;
let podman: PodmanHarness;
let passwords: { admin: string; operator: string };
let ca: string;
let repo: string;
let dispatcher: Agent;
const issued: string[] = [];
const clients: McrClient[] = [];

const log: SimLogger = {
  info(msg, f) {
    if (msg.includes("token issued")) issued.push(String(f?.sub));
  },
  warn() {},
  error() {},
};

function client(opts: Partial<McrClientOptions>): McrClient {
  const c = createMcrClient({ url: registry.url, ca, ...opts });
  clients.push(c);
  return c;
}

/** A containers-auth.json for `user`, readable by the Podman user only. */
async function authFile(name: string, user: string, password: string): Promise<string> {
  const d = await podman.tempDir();
  const path = join(d, `${name}.json`);
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  await writeFile(path, JSON.stringify({ auths: { [registry.host]: { auth } } }), { mode: 0o600 });
  if (process.getuid?.() === 0) await chown(path, podman.user.uid, podman.user.gid);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-sim-registry-auth-"));
  sim = await startSim({ dir, log, modules: [mciasModule, registryAuthModule] });
  const mcias = sim.endpoints.mcias;
  passwords = JSON.parse(await readFile(String(mcias?.extra?.initialPasswordsFile), "utf8"));
  const auth = sim.endpoints["registry-auth"];
  ca = await readFile(String(auth?.caFile), "utf8");
  dispatcher = new Agent({ connect: { ca } });
  registry = await startTokenRegistry(dir, auth?.extra ?? {});
  podman = await setupPodman();
  repo = `${podman.prefix}app`;
  // Push one image as admin with real Podman through the token flow.
  const ref = `${registry.host}/${repo}:v1.0.0`;
  await podman.client.tagImage(podman.image, ref);
  await podman.client.pushImage(ref, {
    authFile: await authFile("admin", "admin", passwords.admin),
    tlsVerify: false,
  });
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.close();
  await dispatcher?.close();
  await podman?.cleanup();
  await registry?.stop();
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("token auth against a real docker-registry", () => {
  test("the registry refuses anonymous access with a Bearer challenge for this service", async () => {
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/v1.0.0`, { method: "HEAD" });
    expect(res.status).toBe(401);
    const extra = sim.endpoints["registry-auth"]?.extra;
    expect(res.headers.get("www-authenticate")).toBe(
      `Bearer realm="${extra?.realm}",service="${extra?.service}",scope="repository:${repo}:pull"`,
    );
  });

  test("good credentials: the pushed tag exists with a digest, an absent one is false, tags list", async () => {
    const c = client({ credentials: { username: "admin", password: passwords.admin } });
    const info = await c.manifest(`${registry.host}/${repo}:v1.0.0`);
    expect(info?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await c.tagExists(`${registry.host}/${repo}:v9.9.9`)).toBe(false);
    expect(await c.listTags(repo)).toEqual(["v1.0.0"]);
  });

  test("token reuse: many checks, one token request", async () => {
    const before = issued.length;
    const c = client({ credentials: { username: "operator", password: passwords.operator } });
    for (let i = 0; i < 5; i++)
      expect(await c.tagExists({ repository: repo, tag: "v1.0.0" })).toBe(true);
    expect(await c.listTags(repo)).toEqual(["v1.0.0"]);
    expect(issued.slice(before)).toEqual(["operator"]);
  });

  test("checkTags of 30 references fetches one token for all repositories", async () => {
    const before = issued.length;
    const refs = Array.from({ length: 30 }, (_, i) =>
      i === 0
        ? `${registry.host}/${repo}:v1.0.0`
        : `${registry.host}/${podman.prefix}svc${i}:v1.0.0`,
    );
    const out = await client({
      credentials: { username: "admin", password: passwords.admin },
    }).checkTags(refs, {
      concurrency: 8,
    });
    expect(out.map((r) => r.error)).toEqual(refs.map(() => undefined));
    expect(out.map((r) => r.exists)).toEqual(refs.map((_, i) => i === 0));
    expect(issued.length - before).toBe(1);
  });

  test("an MCIAS token works as the password and as Bearer", async () => {
    const res = await request(new URL("/v1/auth/login", sim.endpoints.mcias?.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "operator", password: passwords.operator }),
      dispatcher,
    });
    const { token } = (await res.body.json()) as { token: string };
    for (const as of ["password", "bearer"] as const) {
      const c = client({ credentials: { mciasToken: token, as } });
      expect(await c.tagExists({ repository: repo, tag: "v1.0.0" })).toBe(true);
    }
  });

  test("the JWT: claims, kid, and access by role (admin pull+push, others pull)", async () => {
    const extra = sim.endpoints["registry-auth"]?.extra ?? {};
    const ask = async (user: string, password: string) => {
      const url = new URL(String(extra.realm));
      url.searchParams.set("service", String(extra.service));
      url.searchParams.append("scope", `repository:${repo}:pull,push`);
      url.searchParams.append("scope", "registry:catalog:*");
      const res = await request(url, {
        headers: {
          authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`,
        },
        dispatcher,
      });
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as {
        token: string;
        expires_in: number;
        issued_at: string;
      };
      expect(body.expires_in).toBe(300);
      const [h, c] = body.token
        .split(".")
        .slice(0, 2)
        .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
      return { header: h, claims: c };
    };
    const admin = await ask("admin", passwords.admin);
    expect(admin.header).toEqual({ typ: "JWT", kid: extra.kid, alg: "ES256" });
    expect(String(extra.kid)).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    const now = Math.floor(Date.now() / 1000);
    expect(admin.claims).toMatchObject({ iss: extra.issuer, aud: extra.service, sub: "admin" });
    expect(admin.claims.exp - admin.claims.iat).toBe(300);
    expect(Math.abs(admin.claims.iat - now)).toBeLessThan(5);
    expect(admin.claims.nbf).toBeLessThanOrEqual(admin.claims.iat);
    expect(admin.claims.jti).toMatch(/^[0-9a-f]{32}$/);
    expect(admin.claims.access).toEqual([
      { type: "repository", name: repo, actions: ["pull", "push"] },
    ]);
    const op = await ask("operator", passwords.operator);
    expect(op.claims.access).toEqual([{ type: "repository", name: repo, actions: ["pull"] }]);
  });

  test("distribution 2.8 takes the key by libtrust kid or by x5c, and refuses an unknown kid", async () => {
    const extra = sim.endpoints["registry-auth"]?.extra ?? {};
    const signer = await ensureSigningKey(join(dir, "registry-auth"));
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: extra.issuer,
      sub: "admin",
      aud: extra.service,
      exp: now + 60,
      nbf: now - 1,
      iat: now,
      jti: "t",
      access: [{ type: "repository", name: repo, actions: ["pull"] }],
    };
    const head = async (header: Record<string, unknown>) => {
      const res = await request(`${registry.url}/v2/${repo}/manifests/v1.0.0`, {
        method: "HEAD",
        headers: {
          authorization: `Bearer ${signJwtEs256(header, claims, signer.key)}`,
          accept: "application/vnd.oci.image.manifest.v1+json",
        },
      });
      await res.body.dump();
      return res.statusCode;
    };
    const certDer = new X509Certificate(signer.certPem).raw;
    expect(await head({ typ: "JWT", kid: signer.kid })).toBe(200);
    expect(await head({ typ: "JWT", x5c: [certDer.toString("base64")] })).toBe(200);
    expect(
      await head({
        typ: "JWT",
        kid: "AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:GGGG:HHHH:IIII:JJJJ:KKKK:LLLL",
      }),
    ).toBe(401);
    expect(await head({ typ: "JWT" })).toBe(401);
  });

  test("the token service's certificate is checked: without the sim CA the call is Unreachable", async () => {
    const c = createMcrClient({
      url: registry.url,
      credentials: { username: "admin", password: passwords.admin },
    });
    clients.push(c);
    const e = await c.tagExists({ repository: repo, tag: "v1.0.0" }).catch((x: unknown) => x);
    expect(isMcrUnreachable(e)).toBe(true);
    expect((e as Error).message).toMatch(
      /^token service https:\/\/127\.0\.0\.1:\d+ is unreachable \(/,
    );
  });

  test("wrong credentials are Unauthorized", async () => {
    const c = client({ credentials: { username: "admin", password: "not-the-password" } });
    const e = await c.tagExists({ repository: repo, tag: "v1.0.0" }).catch((x: unknown) => x);
    expect(isMcrUnauthorized(e)).toBe(true);
    expect((e as Error).message).not.toContain("not-the-password");
  });

  test("real podman pull with an auth file works for a non-admin; push does not", async () => {
    const file = await authFile("operator", "operator", passwords.operator);
    const ref = `${registry.host}/${repo}:v1.0.0`;
    await podman.client.removeImage(ref, { force: true }).catch(() => {});
    await podman.client.pullImage(ref, { authFile: file, tlsVerify: false });
    expect(await podman.client.imageExists(ref)).toBe(true);

    const pushRef = `${registry.host}/${repo}:v2.0.0`;
    await podman.client.tagImage(podman.image, pushRef);
    const e = await podman.client
      .pushImage(pushRef, { authFile: file, tlsVerify: false, timeoutMs: 60_000 })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    const text = `${(e as Error).message} ${(e as { detail?: string }).detail ?? ""}`;
    // Blobs are shared with v1.0.0 and already there, so the refusal lands on the manifest.
    expect(text).toMatch(/denied|unauthorized|authentication required|uploading manifest/i);
    const admin = client({ credentials: { username: "admin", password: passwords.admin } });
    expect(await admin.tagExists({ repository: repo, tag: "v2.0.0" })).toBe(false);
  }, 90_000);

  test("a restarted token service keeps its key: the registry still accepts its tokens", async () => {
    await sim.stop();
    sim = await startSim({ dir, log, modules: [mciasModule, registryAuthModule] });
    const c = client({ credentials: { username: "admin", password: passwords.admin } });
    expect(await c.tagExists({ repository: repo, tag: "v1.0.0" })).toBe(true);
  });

  test("registry down is Unreachable", async () => {
    const c = client({
      credentials: { username: "admin", password: passwords.admin },
      timeoutMs: 3000,
    });
    await registry.stop();
    const e = await c.tagExists({ repository: repo, tag: "v1.0.0" }).catch((x: unknown) => x);
    expect(isMcrUnreachable(e)).toBe(true);
  });
});
