// The token endpoint's own answers, without a registry: plain HTTP on loopback.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { mciasModule } from "../mcias/index.ts";
import { startSim } from "../runner.ts";
import { type RegistryAuthSim, registryAuthModule, startRegistryAuthSim } from "./index.ts";

let dir: string;
let sim: RegistryAuthSim;

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "registry-auth-server-"));
  sim = await startRegistryAuthSim({
    dir,
    mcias: { url: `https://127.0.0.1:${await closedPort()}` },
  });
});
afterAll(async () => {
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

const basic = `Basic ${Buffer.from("admin:pw").toString("base64")}`;

test("no credentials: 401 with a Basic challenge, counted as refused", async () => {
  const res = await fetch(`${sim.realm}?service=mcr&scope=repository:app:pull`);
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
  expect(((await res.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe(
    "UNAUTHORIZED",
  );
  expect(sim.stats.refused).toBeGreaterThan(0);
});

test("another service: 400; POST: 405; other paths: 404; health", async () => {
  expect(
    (await fetch(`${sim.realm}?service=other`, { headers: { authorization: basic } })).status,
  ).toBe(400);
  expect((await fetch(sim.realm, { method: "POST" })).status).toBe(405);
  expect((await fetch(`${sim.url}/nope`)).status).toBe(404);
  expect(await (await fetch(`${sim.url}/health`)).json()).toEqual({ status: "ok" });
});

test("MCIAS unreachable: 503, not a refusal", async () => {
  const res = await fetch(`${sim.realm}?service=mcr&scope=repository:app:pull`, {
    headers: { authorization: basic },
  });
  expect(res.status).toBe(503);
});

test("the module refuses a bad TTL option with a one-line error", async () => {
  const d = await mkdtemp(join(tmpdir(), "registry-auth-opt-"));
  try {
    await expect(
      startSim({
        dir: d,
        modules: [mciasModule, registryAuthModule],
        options: { registryTokenTtl: "soon" },
      }),
    ).rejects.toThrow(/^--registry-token-ttl: soon is not a whole number of seconds$/);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
