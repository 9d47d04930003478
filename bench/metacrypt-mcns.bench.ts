// Metacrypt and MCNS: what the certificate and DNS steps of a deploy cost.
//
// Both stand-ins run in this process (startSim from @mcp/sim) over HTTPS on a kept-alive
// connection.
//   1. issueCertificate through @mcp/metacrypt-client against the same POST sent with bare
//      undici (baseline): the client's overhead is small beside key generation + signing.
//   2. needsRenewal on a PEM: what a deploy pays to decide it can reuse a certificate,
//      against issuing a new one.
//   3. MCNS createRecord, and ensureRecord on a record that exists (409 + list: what a
//      repeated deploy pays), DNS answers over UDP (checked with node's Resolver, timed with raw dns-packet queries).
// Run: . ./env.sh && pnpm --filter @mcp/sim build && pnpm --filter @mcp/metacrypt-client build &&
//      pnpm --filter @mcp/mcns-client build && node bench/metacrypt-mcns.bench.ts

import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createMcnsClient } from "@mcp/mcns-client";
import { createMetacryptClient, needsRenewal } from "@mcp/metacrypt-client";
import { startSim } from "@mcp/sim";
import dnsPacket from "dns-packet";
import { Agent, request } from "undici";

const here = path.dirname(fileURLToPath(import.meta.url));
const ISSUES = 200;
const RENEWAL_CHECKS = 20_000;
const RECORDS = 300;
const QUERIES = 2_000;
const ZONE = "svc.mcp.metacircular.net";

function stats(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99) };
}
const round = (n: number) => Math.round(n * 1000) / 1000;

async function sample(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

const dir = await mkdtemp(path.join(tmpdir(), "metacrypt-mcns-bench-"));
try {
  let t = performance.now();
  const sim = await startSim({ dir, only: ["metacrypt", "mcns"] });
  const start = performance.now() - t;
  const mc = sim.endpoints.metacrypt!;
  const ns = sim.endpoints.mcns!;
  const mcCa = await readFile(mc.caFile!, "utf8");
  const nsCa = await readFile(ns.caFile!, "utf8");
  const mcToken = (await readFile(String(mc.extra!.tokenFile), "utf8")).trim();
  const nsToken = (await readFile(String(ns.extra!.tokenFile), "utf8")).trim();

  const metacrypt = createMetacryptClient({ url: mc.url!, token: mcToken, ca: mcCa });
  const req = {
    mount: "pki",
    path: "web",
    issuer: "web",
    profile: "server",
    commonName: `svc.${ZONE}`,
    dnsNames: [`svc.${ZONE}`],
    ipAddresses: ["100.64.0.7"],
    ttl: "2160h",
  };
  const raw = new Agent({ connect: { ca: mcCa } });
  const rawBody = JSON.stringify({
    mount: "pki",
    operation: "issue",
    path: "web",
    data: {
      issuer: "web",
      common_name: req.commonName,
      profile: "server",
      dns_names: req.dnsNames,
      ip_addresses: req.ipAddresses,
      ttl: "2160h",
    },
  });
  const rawIssue = async () => {
    const res = await request(`${mc.url}/v1/engine/request`, {
      method: "POST",
      headers: { authorization: `Bearer ${mcToken}`, "content-type": "application/json" },
      body: rawBody,
      dispatcher: raw,
    });
    if (res.statusCode !== 200) throw new Error(`issue: ${res.statusCode}`);
    await res.body.json();
  };
  await sample(20, rawIssue);
  await sample(20, () => metacrypt.issueCertificate(req));
  // Interleaved, so both see the same machine noise and the same CA index size.
  const clientSamples: number[] = [];
  const rawSamples: number[] = [];
  for (let i = 0; i < ISSUES; i++) {
    clientSamples.push(...(await sample(1, () => metacrypt.issueCertificate(req))));
    rawSamples.push(...(await sample(1, rawIssue)));
  }
  const viaClient = stats(clientSamples);
  const viaRaw = stats(rawSamples);

  const { certificate } = await metacrypt.issueCertificate(req);
  t = performance.now();
  for (let i = 0; i < RENEWAL_CHECKS; i++) needsRenewal(certificate);
  const renewalUs = ((performance.now() - t) / RENEWAL_CHECKS) * 1000;

  const mcns = createMcnsClient({ url: ns.url!, token: nsToken, ca: nsCa });
  const creates = stats(
    await sample(RECORDS, (i) =>
      mcns.createRecord(ZONE, { name: `svc${i}`, type: "A", value: `10.0.${i >> 8}.${i & 255}` }),
    ),
  );
  const ensures = stats(
    await sample(RECORDS, (i) =>
      mcns.ensureRecord(ZONE, { name: `svc${i}`, type: "A", value: `10.0.${i >> 8}.${i & 255}` }),
    ),
  );
  // node's Resolver (c-ares) caches answers, so it only proves the records resolve;
  // timings use raw dns-packet queries over one UDP socket, each answered by the server.
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${ns.extra!.dnsPort}`]);
  for (let i = 0; i < RECORDS; i++) {
    const [addr] = await resolver.resolve4(`svc${i}.${ZONE}`);
    if (addr !== `10.0.${i >> 8}.${i & 255}`) throw new Error(`svc${i} resolved to ${addr}`);
  }
  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const pending = new Map<number, () => void>();
  sock.on("message", (msg) => {
    const id = msg.readUInt16BE(0);
    pending.get(id)?.();
    pending.delete(id);
  });
  const udpQuery = (i: number) =>
    new Promise<void>((resolve) => {
      const id = i & 0xffff;
      pending.set(id, resolve);
      sock.send(
        dnsPacket.encode({
          type: "query",
          id,
          questions: [{ type: "A", name: `svc${i % RECORDS}.${ZONE}` }],
        }),
        Number(ns.extra!.dnsPort),
        "127.0.0.1",
      );
    });
  await sample(200, udpQuery);
  t = performance.now();
  const queries = stats(await sample(QUERIES, udpQuery));
  const qps = QUERIES / ((performance.now() - t) / 1000);
  sock.close();

  await metacrypt.close();
  await mcns.close();
  await raw.close();
  await sim.stop();

  const figures = [
    {
      metric:
        "issueCertificate via @mcp/metacrypt-client (P-256 keygen + sign on the stand-in), median",
      value: round(viaClient.median),
      unit: "ms",
      baseline: round(viaRaw.median),
      ratio: round(viaClient.median / viaRaw.median),
    },
    {
      metric: "issueCertificate via @mcp/metacrypt-client, p99",
      value: round(viaClient.p99),
      unit: "ms",
      baseline: round(viaRaw.p99),
    },
    {
      metric: "needsRenewal on a PEM (X509Certificate parse), mean",
      value: round(renewalUs),
      unit: "µs",
      baseline: round(viaClient.median * 1000),
      ratio: round(renewalUs / (viaClient.median * 1000)),
    },
    {
      metric: `MCNS createRecord (${RECORDS} records, HTTPS), median`,
      value: round(creates.median),
      unit: "ms",
    },
    {
      metric: "MCNS ensureRecord on an existing record (409 + list), median",
      value: round(ensures.median),
      unit: "ms",
      baseline: round(creates.median),
      ratio: round(ensures.median / creates.median),
    },
    {
      metric: "DNS A query over UDP (dns-packet client, one socket), median",
      value: round(queries.median),
      unit: "ms",
    },
    { metric: "DNS A query over UDP, p99", value: round(queries.p99), unit: "ms" },
    {
      metric: "DNS A queries over UDP, sequential, one client",
      value: Math.round(qps),
      unit: "queries/s",
    },
    {
      metric: "metacrypt + mcns stand-ins cold start (new CAs, certs)",
      value: round(start),
      unit: "ms",
    },
  ];
  for (const f of figures)
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${f.baseline !== undefined ? ` (baseline ${f.baseline})` : ""}`,
    );
  await writeFile(
    path.join(here, "results", "metacrypt-mcns.json"),
    `${JSON.stringify({ name: "metacrypt-mcns", figures }, null, 2)}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
