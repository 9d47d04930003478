// MCIAS: what authenticating an agent call costs, and what the 30 s cache saves.
//
// The MCIAS stand-in runs in this process (startSim from @mcp/sim), HTTPS with the sim's
// private CA, on a kept-alive connection.
//   1. validateToken through @mcp/mcias-client against the same POST sent with bare undici
//      (baseline): the client's own overhead (URL, timeout signal, response checks).
//   2. CachedValidator hit (SHA-256 of the token + map lookup): what every agent RPC pays
//      within the 30 s window instead of (1).
//   3. login (scrypt password check on the server) and the stand-in's cold and warm start.
// Run: . ./env.sh && pnpm --filter @mcp/sim build && pnpm --filter @mcp/mcias-client build &&
//      node bench/mcias.bench.ts

import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CachedValidator, createMciasClient } from "@mcp/mcias-client";
import { startSim } from "@mcp/sim";
import { Agent, request } from "undici";

const here = path.dirname(fileURLToPath(import.meta.url));
const VALIDATIONS = 2_000;
const CACHE_HITS = 100_000;
const LOGINS = 50;

function stats(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99) };
}
const round = (n: number) => Math.round(n * 1000) / 1000;

async function sample(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

const dir = await mkdtemp(path.join(tmpdir(), "mcias-bench-"));
try {
  let t = performance.now();
  let sim = await startSim({ dir, only: ["mcias"] });
  const coldStart = performance.now() - t;
  await sim.stop();
  t = performance.now();
  sim = await startSim({ dir, only: ["mcias"] });
  const warmStart = performance.now() - t;

  const ep = sim.endpoints.mcias!;
  const ca = await readFile(ep.caFile!, "utf8");
  const pw = JSON.parse(await readFile(path.join(dir, "mcias", "initial-passwords.json"), "utf8"));
  const client = createMciasClient({ baseUrl: ep.url!, serviceName: "mcp-agent", ca });
  const { token } = await client.login({ username: "admin", password: pw.admin });

  const raw = new Agent({ connect: { ca } });
  const rawValidate = async () => {
    const res = await request(`${ep.url}/v1/token/validate`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ service_name: "mcp-agent" }),
      dispatcher: raw,
    });
    const body = (await res.body.json()) as { valid: boolean };
    if (!body.valid) throw new Error("token not valid");
  };
  // Warm both connections first.
  await sample(100, rawValidate);
  await sample(100, () => client.validateToken(token));
  const viaClient = stats(await sample(VALIDATIONS, () => client.validateToken(token)));
  const viaRaw = stats(await sample(VALIDATIONS, rawValidate));

  const cache = new CachedValidator(client);
  await cache.validate(token);
  t = performance.now();
  for (let i = 0; i < CACHE_HITS; i++) await cache.validate(token);
  const hitUs = ((performance.now() - t) / CACHE_HITS) * 1000;

  const logins = stats(
    await sample(LOGINS, () => client.login({ username: "admin", password: pw.admin })),
  );

  await client.close();
  await raw.close();
  await sim.stop();

  const figures = [
    {
      metric: "validateToken via @mcp/mcias-client (HTTPS, kept alive), median",
      value: round(viaClient.median),
      unit: "ms",
      baseline: round(viaRaw.median),
      ratio: round(viaClient.median / viaRaw.median),
    },
    {
      metric: "validateToken via @mcp/mcias-client, p99",
      value: round(viaClient.p99),
      unit: "ms",
      baseline: round(viaRaw.p99),
    },
    {
      metric: "CachedValidator hit (SHA-256 + lookup), mean",
      value: round(hitUs),
      unit: "µs",
      baseline: round(viaClient.median * 1000),
      ratio: round(hitUs / (viaClient.median * 1000)),
    },
    {
      metric: "login (scrypt N=16384 on the stand-in), median",
      value: round(logins.median),
      unit: "ms",
    },
    {
      metric: "MCIAS stand-in cold start (new CA, accounts, cert)",
      value: round(coldStart),
      unit: "ms",
    },
    { metric: "MCIAS stand-in warm start (state on disk)", value: round(warmStart), unit: "ms" },
  ];
  for (const f of figures)
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${f.baseline !== undefined ? ` (baseline ${f.baseline})` : ""}`,
    );
  await writeFile(
    path.join(here, "results", "mcias.json"),
    `${JSON.stringify({ name: "mcias", figures }, null, 2)}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
