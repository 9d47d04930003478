// @mcp/mcias-client against the working MCIAS stand-in, over the real protocol: HTTPS
// with the sim's private CA, tokens persisted on disk.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CachedValidator,
  createMciasClient,
  type HttpMciasClient,
  isAdmin,
  isMciasUnavailable,
  MciasUnauthorizedError,
} from "@mcp/mcias-client";
import { Secret, TOTP } from "otpauth";
import { Agent, request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mintSimToken } from "../src/mcias/index.ts";
import { MciasStore } from "../src/mcias/store.ts";
import { type SimInstance, startSim } from "../src/runner.ts";

let dir: string;
let sim: SimInstance | undefined;
const clients: HttpMciasClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-sim-mcias-"));
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await sim?.stop();
  sim = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Record<string, string> = {}) {
  sim = await startSim({ dir, only: ["mcias"], options });
  const ep = sim.endpoints.mcias!;
  const ca = await readFile(ep.caFile!, "utf8");
  return { url: ep.url!, ca, port: ep.port! };
}

function client(url: string, ca: string | undefined, timeoutMs = 3000): HttpMciasClient {
  const c = createMciasClient({
    baseUrl: url,
    serviceName: "mcp-agent",
    timeoutMs,
    ...(ca ? { ca } : {}),
  });
  clients.push(c);
  return c;
}

async function passwords(): Promise<{ admin: string; operator: string }> {
  return JSON.parse(await readFile(join(dir, "mcias", "initial-passwords.json"), "utf8"));
}

async function revoke(url: string, ca: string, token: string): Promise<number> {
  const agent = new Agent({ connect: { ca } });
  try {
    const res = await request(`${url}/v1/token/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    await res.body.text();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

describe("MCIAS stand-in with @mcp/mcias-client", () => {
  it("logs in and validates admin and non-admin users", async () => {
    const { url, ca } = await start();
    const pw = await passwords();
    const c = client(url, ca);

    const admin = await c.login({ username: "admin", password: pw.admin });
    expect(admin.token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
    expect(admin.expiresAt.getTime()).toBeGreaterThan(Date.now() + 3_500_000); // default 1h
    const va = await c.validateToken(admin.token);
    expect(va).toMatchObject({ valid: true, username: "admin", roles: ["admin"] });
    expect(isAdmin(va)).toBe(true);

    const op = await c.login({ username: "operator", password: pw.operator, totpCode: "000000" });
    const vo = await c.validateToken(op.token);
    expect(vo).toMatchObject({ valid: true, username: "operator" });
    expect(isAdmin(vo)).toBe(false);

    expect(await c.validateToken("not-a-token")).toEqual({ valid: false });
  });

  it("rejects a wrong password and an unknown user as Unauthorized", async () => {
    const { url, ca } = await start();
    const c = client(url, ca);
    await expect(c.login({ username: "admin", password: "wrong" })).rejects.toBeInstanceOf(
      MciasUnauthorizedError,
    );
    await expect(c.login({ username: "nobody", password: "x" })).rejects.toBeInstanceOf(
      MciasUnauthorizedError,
    );
    // A service account has no password and cannot log in.
    await expect(c.login({ username: "mcp-agent", password: "" })).rejects.toBeInstanceOf(
      MciasUnauthorizedError,
    );
  });

  it("expires tokens after --token-ttl", async () => {
    const { url, ca } = await start({ tokenTtl: "1s" });
    const c = client(url, ca);
    const { token, expiresAt } = await c.login({
      username: "admin",
      password: (await passwords()).admin,
    });
    expect(expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(1000);
    expect((await c.validateToken(token)).valid).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await c.validateToken(token)).toEqual({ valid: false });
  });

  it("reports a revoked token invalid; a cached validator within 30 s does not yet", async () => {
    const { url, ca } = await start();
    const c = client(url, ca);
    const { token } = await c.login({ username: "admin", password: (await passwords()).admin });
    const cached = new CachedValidator(c);
    expect((await cached.validate(token)).valid).toBe(true);
    expect(await revoke(url, ca, token)).toBe(200);
    expect(await c.validateToken(token)).toEqual({ valid: false });
    // The documented window: the cache answers from memory until its entry expires.
    expect((await cached.validate(token)).valid).toBe(true);
    cached.forget(token);
    expect((await cached.validate(token)).valid).toBe(false);
    expect(await revoke(url, ca, "unknown-token")).toBe(404);
  });

  it("is Unavailable when the sim is down, and without the CA", async () => {
    const { url, ca } = await start();
    const untrusting = client(url, undefined);
    const e1 = await untrusting.validateToken("abc").catch((e: unknown) => e);
    expect(isMciasUnavailable(e1)).toBe(true);

    await sim?.stop();
    sim = undefined;
    const c = client(url, ca, 1000);
    const e2 = await c.validateToken("abc").catch((e: unknown) => e);
    expect(isMciasUnavailable(e2)).toBe(true);
    expect((e2 as Error).message).toMatch(/unreachable \(ECONNREFUSED\)/);
    const cached = new CachedValidator(c);
    await expect(cached.validate("abc")).rejects.toSatisfy(isMciasUnavailable);
  });

  it("keeps users, tokens and its port across a restart", async () => {
    const first = await start();
    const pw = await passwords();
    const { token } = await client(first.url, first.ca).login({
      username: "admin",
      password: pw.admin,
    });
    await sim?.stop();
    sim = undefined;

    const second = await start();
    expect(second.port).toBe(first.port);
    expect(second.ca).toBe(first.ca);
    expect(await passwords()).toEqual(pw);
    const v = await client(second.url, second.ca).validateToken(token);
    expect(v).toMatchObject({ valid: true, username: "admin" });
  });

  it("validates a token minted into the store while the server runs", async () => {
    const { url, ca } = await start();
    const store = new MciasStore(join(dir, "mcias"));
    const { token } = await store.issueToken("mcp-agent", 60_000);
    const { token: old } = await store.issueToken("admin", 1000, Date.now() - 5000);
    const { token: minted } = await mintSimToken(dir, "admin", "5m");
    const c = client(url, ca);
    expect(await c.validateToken(token)).toMatchObject({
      valid: true,
      username: "mcp-agent",
      roles: [],
    });
    expect(await c.validateToken(old)).toEqual({ valid: false });
    expect(isAdmin(await c.validateToken(minted))).toBe(true);
    await expect(mintSimToken(dir, "ghost")).rejects.toThrow(/no account "ghost"/);
    // No raw token on disk: files are named by the token's SHA-256.
    const { readdir } = await import("node:fs/promises");
    const names = await readdir(join(dir, "mcias", "tokens"));
    expect(names.some((n) => n.includes(token))).toBe(false);
    expect(names).toHaveLength(3);
  });

  it("requires a TOTP code from accounts that have a secret", async () => {
    const { url, ca } = await start();
    const store = new MciasStore(join(dir, "mcias"));
    const secret = new Secret({ size: 20 });
    await store.putAccount({
      username: "kyle",
      kind: "user",
      roles: ["admin"],
      password: "pw",
      totp_secret: secret.base32,
    });
    const totp = new TOTP({ secret, algorithm: "SHA1", digits: 6, period: 30 });
    const c = client(url, ca);
    await expect(c.login({ username: "kyle", password: "pw" })).rejects.toBeInstanceOf(
      MciasUnauthorizedError,
    );
    const wrong = String((Number(totp.generate()) + 1) % 1_000_000).padStart(6, "0");
    await expect(
      c.login({ username: "kyle", password: "pw", totpCode: wrong }),
    ).rejects.toBeInstanceOf(MciasUnauthorizedError);
    const ok = await c.login({ username: "kyle", password: "pw", totpCode: totp.generate() });
    expect(await c.validateToken(ok.token)).toMatchObject({ valid: true, username: "kyle" });
  });
});
