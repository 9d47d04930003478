// MCR: what "does this tag exist?" costs through @mcp/mcr-client against a real
// docker-registry (distribution 2.8) with token auth, the token service being the sim's
// registry-auth module in front of the sim's MCIAS (HTTPS, in this process).
//   1. manifest exists, first call of a new client: 401 challenge, token request (MCIAS
//      login = scrypt on the stand-in), retry. Against: the same HEAD with a token reused.
//   2. manifest exists with a reused token through the client, against the same HEAD sent
//      with bare undici and the same token (the client's own overhead).
//   3. 30 tags in 30 repositories (what `mcp sync` checks): checkTags (one token request for
//      all, 8 in flight) against 30 tagExists calls in sequence, each with a new client
//      (cold) and with a warm one.
// Run: . ./env.sh && pnpm --filter @mcp/sim --filter @mcp/mcr-client --filter @mcp/testkit build &&
//      node bench/mcr.bench.ts
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createMcrClient } from "@mcp/mcr-client";
// The module is not exported by @mcp/sim yet (its index is another engineer's); switch to
// `import { registryAuthModule } from "@mcp/sim"` once it is.
import { mciasModule, registryAuthModule, startSim } from "@mcp/sim";
import { startRegistry } from "@mcp/testkit";
import { Agent, request } from "undici";

const here = path.dirname(fileURLToPath(import.meta.url));
const COLD = 30;
const WARM = 500;
const ROUNDS = 10;
const REPOS = 30;

function stats(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
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

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Pushes a one-layer OCI image by the distribution API with a bearer token. */
async function push(base: string, repo: string, tag: string, auth: string): Promise<void> {
  const blobs = [
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: [] },
      }),
    ),
    Buffer.from(`layer ${repo}`),
  ];
  for (const b of blobs) {
    const start = await request(`${base}/v2/${repo}/blobs/uploads/`, {
      method: "POST",
      headers: { authorization: auth },
    });
    await start.body.dump();
    const loc = new URL(String(start.headers.location), base);
    loc.searchParams.set("digest", sha(b));
    const put = await request(loc, { method: "PUT", headers: { authorization: auth }, body: b });
    await put.body.dump();
    if (put.statusCode !== 201) throw new Error(`blob upload: HTTP ${put.statusCode}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha(blobs[0] as Buffer),
        size: blobs[0]?.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: sha(blobs[1] as Buffer),
          size: blobs[1]?.length,
        },
      ],
    }),
  );
  const res = await request(`${base}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { authorization: auth, "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: manifest,
  });
  await res.body.dump();
  if (res.statusCode !== 201) throw new Error(`manifest put: HTTP ${res.statusCode}`);
}

const dir = await mkdtemp(path.join(tmpdir(), "mcr-bench-"));
const sim = await startSim({ dir, modules: [mciasModule, registryAuthModule] });
const ep = sim.endpoints["registry-auth"];
if (!ep?.extra || !ep.caFile) throw new Error("registry-auth did not start");
const registry = await startRegistry({
  tokenAuth: {
    realm: String(ep.extra.realm),
    service: String(ep.extra.service),
    issuer: String(ep.extra.issuer),
    rootCertBundle: String(ep.extra.rootCertBundle),
  },
});
try {
  const ca = await readFile(ep.caFile, "utf8");
  const pw = JSON.parse(
    await readFile(path.join(dir, "mcias", "initial-passwords.json"), "utf8"),
  ) as { admin: string };
  const credentials = { username: "admin", password: pw.admin };
  const repos = Array.from({ length: REPOS }, (_, i) => `bench/svc${i}`);

  // Seed: one admin token for push on all repositories, then the images.
  const tokenDispatcher = new Agent({ connect: { ca } });
  const tokenUrl = new URL(String(ep.extra.realm));
  tokenUrl.searchParams.set("service", String(ep.extra.service));
  for (const r of repos) tokenUrl.searchParams.append("scope", `repository:${r}:pull,push`);
  const tr = await request(tokenUrl, {
    headers: { authorization: basic("admin", pw.admin) },
    dispatcher: tokenDispatcher,
  });
  const { token: pushToken } = (await tr.body.json()) as { token: string };
  for (const r of repos) await push(registry.url, r, "v1.0.0", `Bearer ${pushToken}`);
  const refs = repos.map((r) => registry.ref(`${r}:v1.0.0`));

  // 1. cold: a new client per call (challenge + token + retry).
  const cold = stats(
    await sample(COLD, async () => {
      const c = createMcrClient({ url: registry.url, ca, credentials });
      if (!(await c.tagExists(refs[0] as string))) throw new Error("tag missing");
      await c.close();
    }),
  );

  // 2. warm: reused token, client vs bare undici with the same token.
  const warmClient = createMcrClient({ url: registry.url, ca, credentials });
  await warmClient.tagExists(refs[0] as string);
  const pullUrl = new URL(String(ep.extra.realm));
  pullUrl.searchParams.set("service", String(ep.extra.service));
  pullUrl.searchParams.set("scope", `repository:${repos[0]}:pull`);
  const pr = await request(pullUrl, {
    headers: { authorization: basic("admin", pw.admin) },
    dispatcher: tokenDispatcher,
  });
  const { token: pullToken } = (await pr.body.json()) as { token: string };
  const raw = new Agent();
  const rawHead = async () => {
    const res = await request(`${registry.url}/v2/${repos[0]}/manifests/v1.0.0`, {
      method: "HEAD",
      headers: {
        authorization: `Bearer ${pullToken}`,
        accept: "application/vnd.oci.image.manifest.v1+json",
      },
      dispatcher: raw,
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`HEAD: ${res.statusCode}`);
  };
  await sample(50, rawHead);
  await sample(50, () => warmClient.tagExists(refs[0] as string));
  const warm = stats(await sample(WARM, () => warmClient.tagExists(refs[0] as string)));
  const bare = stats(await sample(WARM, rawHead));

  // 3. 30 tags: concurrent (checkTags) vs sequential; cold (new client) and warm.
  const concCold = stats(
    await sample(ROUNDS, async () => {
      const c = createMcrClient({ url: registry.url, ca, credentials });
      const out = await c.checkTags(refs, { concurrency: 8 });
      if (!out.every((r) => r.exists)) throw new Error("checkTags: missing");
      await c.close();
    }),
  );
  const seqCold = stats(
    await sample(ROUNDS, async () => {
      const c = createMcrClient({ url: registry.url, ca, credentials });
      for (const r of refs) if (!(await c.tagExists(r))) throw new Error("missing");
      await c.close();
    }),
  );
  await warmClient.checkTags(refs);
  const concWarm = stats(
    await sample(ROUNDS * 3, () => warmClient.checkTags(refs, { concurrency: 8 })),
  );
  const seqWarm = stats(
    await sample(ROUNDS * 3, async () => {
      for (const r of refs) await warmClient.tagExists(r);
    }),
  );
  await warmClient.close();
  await raw.close();
  await tokenDispatcher.close();

  const figures = [
    {
      metric: "manifest exists, new client (challenge + token from MCIAS login + retry), median",
      value: round(cold.median),
      unit: "ms",
      baseline: round(warm.median),
      ratio: round(cold.median / warm.median),
    },
    {
      metric: "manifest exists, reused token via @mcp/mcr-client, median",
      value: round(warm.median),
      unit: "ms",
      baseline: round(bare.median),
      ratio: round(warm.median / bare.median),
    },
    {
      metric: "manifest exists, reused token via @mcp/mcr-client, p99",
      value: round(warm.p99),
      unit: "ms",
      baseline: round(bare.p99),
    },
    {
      metric:
        "30 tags in 30 repositories, new client: checkTags (1 token, 8 in flight) vs sequential (30 tokens), median",
      value: round(concCold.median),
      unit: "ms",
      baseline: round(seqCold.median),
      ratio: round(concCold.median / seqCold.median),
    },
    {
      metric: "30 tags, warm client: checkTags (8 in flight) vs sequential, median",
      value: round(concWarm.median),
      unit: "ms",
      baseline: round(seqWarm.median),
      ratio: round(concWarm.median / seqWarm.median),
    },
  ];
  const out = { name: "mcr", figures };
  await writeFile(path.join(here, "results", "mcr.json"), `${JSON.stringify(out, null, 2)}\n`);
  for (const f of figures)
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${"baseline" in f ? ` (baseline ${f.baseline})` : ""}`,
    );
} finally {
  await registry.stop();
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
