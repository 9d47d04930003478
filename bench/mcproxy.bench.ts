// mc-proxy: what route registration costs the agent, and what the proxy costs a request.
//
// The mc-proxy stand-in runs as its own process (`mcp-sim run --only mcproxy`), as the real
// proxy would; the client, the backend and the load are in this process.
//   1. AddRoute + RemoveRoute over the admin unix socket (gRPC, HTTP/2) with
//      @mcp/mcproxy-client: part of the "cert, route and DNS registration under 200 ms" budget.
//   2. An L7 request through the proxy (TLS 1.3 terminated, HTTP/1.1 forwarded) against the same
//      request straight to the backend (baseline), both on kept-alive connections; and a request
//      on a new TLS connection each time (handshake included).
// Run: . ./env.sh && pnpm --filter @mcp/sim build && pnpm --filter @mcp/mcproxy-client build &&
//      node bench/mcproxy.bench.ts

import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createMcProxyClient } from "@mcp/mcproxy-client";
import { ensureLocalCa, issueServerCert } from "@mcp/sim";

const here = path.dirname(fileURLToPath(import.meta.url));
const simBin = path.join(here, "..", "apps", "sim", "dist", "bin.js");
const ROUTE_ITERATIONS = 300;
const REQUESTS = 2_000;
const NEW_CONNECTION_REQUESTS = 300;

function stats(samples: number[]): { median: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99) };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function get(agent: http.Agent, options: https.RequestOptions, secure: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request({ ...options, agent }, (res) => {
      res.resume();
      res.on("end", () =>
        res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

const dir = await mkdtemp(path.join(tmpdir(), "mcproxy-bench-"));
const sim = spawn(process.execPath, [simBin, "run", "--dir", dir, "--only", "mcproxy", "--json"], {
  stdio: ["ignore", "pipe", "ignore"],
});
const backend = http.createServer((_req, res) => res.end("ok"));
try {
  const firstLine = await new Promise<string>((resolve, reject) => {
    sim.once("exit", (code) => reject(new Error(`mcp-sim exited with ${code}`)));
    createInterface({ input: sim.stdout! }).once("line", resolve);
  });
  const endpoint = JSON.parse(firstLine).modules.mcproxy as {
    socket: string;
    extra: Record<string, string>;
  };
  const l7Port = Number(endpoint.extra[":443"]!.split(":").pop());

  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  const backendPort = (backend.address() as net.AddressInfo).port;
  const ca = await ensureLocalCa(dir);
  const leaf = await issueServerCert(ca, { dnsNames: ["bench.example.net"], ips: [] });
  const certFile = path.join(dir, "bench.pem");
  const keyFile = path.join(dir, "bench.key");
  await writeFile(certFile, leaf.cert);
  await writeFile(keyFile, leaf.key, { mode: 0o600 });

  const client = createMcProxyClient({ socketPath: endpoint.socket });
  await client.status();

  // 1. Route registration.
  const addL4: number[] = [];
  const addL7: number[] = [];
  const remove: number[] = [];
  const pair: number[] = [];
  for (let i = 0; i < ROUTE_ITERATIONS; i++) {
    const hostname = `r${i}.example.net`;
    const l4 = await timed(() =>
      client.addRoute({
        listener: ":8443",
        hostname,
        backend: `127.0.0.1:${backendPort}`,
        mode: "l4",
      }),
    );
    const rm1 = await timed(() => client.removeRoute(":8443", hostname));
    addL4.push(l4);
    remove.push(rm1);
    pair.push(l4 + rm1);
    addL7.push(
      await timed(() =>
        client.addRoute({
          listener: ":443",
          hostname,
          backend: `127.0.0.1:${backendPort}`,
          mode: "l7",
          tlsCert: certFile,
          tlsKey: keyFile,
        }),
      ),
    );
    await client.removeRoute(":443", hostname);
  }

  // 2. Proxy overhead on the data plane.
  await client.addRoute({
    listener: ":443",
    hostname: "bench.example.net",
    backend: `127.0.0.1:${backendPort}`,
    mode: "l7",
    tlsCert: certFile,
    tlsKey: keyFile,
  });
  const direct = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const proxied = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const viaProxy: https.RequestOptions = {
    host: "127.0.0.1",
    port: l7Port,
    servername: "bench.example.net",
    ca: ca.cert,
    path: "/",
  };
  const toBackend: https.RequestOptions = { host: "127.0.0.1", port: backendPort, path: "/" };
  const directMs: number[] = [];
  const proxiedMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    await get(direct, toBackend, false);
    await get(proxied, viaProxy, true);
  }
  for (let i = 0; i < REQUESTS; i++) {
    directMs.push(await timed(() => get(direct, toBackend, false)));
    proxiedMs.push(await timed(() => get(proxied, viaProxy, true)));
  }
  const freshMs: number[] = [];
  for (let i = 0; i < NEW_CONNECTION_REQUESTS; i++) {
    const agent = new https.Agent({ keepAlive: false });
    freshMs.push(await timed(() => get(agent, viaProxy, true)));
    agent.destroy();
  }
  direct.destroy();
  proxied.destroy();
  client.close();

  const s = {
    addL4: stats(addL4),
    addL7: stats(addL7),
    remove: stats(remove),
    pair: stats(pair),
    direct: stats(directMs),
    proxied: stats(proxiedMs),
    fresh: stats(freshMs),
  };
  const figures = [
    { metric: "AddRoute L4, median", value: round(s.addL4.median), unit: "ms" },
    { metric: "AddRoute L4, p99", value: round(s.addL4.p99), unit: "ms" },
    { metric: "AddRoute L7 (reads cert+key), median", value: round(s.addL7.median), unit: "ms" },
    {
      metric: "AddRoute L7 (reads cert+key), p99",
      value: round(s.addL7.p99),
      unit: "ms",
      target: 200,
    },
    { metric: "RemoveRoute, median", value: round(s.remove.median), unit: "ms" },
    { metric: "AddRoute+RemoveRoute, median", value: round(s.pair.median), unit: "ms" },
    { metric: "AddRoute+RemoveRoute, p99", value: round(s.pair.p99), unit: "ms" },
    {
      metric: "HTTP request direct to backend (keep-alive), median",
      value: round(s.direct.median),
      unit: "ms",
    },
    {
      metric: "L7 request through proxy (TLS 1.3 keep-alive), median",
      value: round(s.proxied.median),
      unit: "ms",
      baseline: round(s.direct.median),
      ratio: round(s.proxied.median / s.direct.median),
    },
    {
      metric: "L7 request through proxy (TLS 1.3 keep-alive), p99",
      value: round(s.proxied.p99),
      unit: "ms",
      baseline: round(s.direct.p99),
      ratio: round(s.proxied.p99 / s.direct.p99),
    },
    {
      metric: "L7 proxy overhead per request (median, keep-alive)",
      value: round(s.proxied.median - s.direct.median),
      unit: "ms",
    },
    {
      metric: "L7 request on a new TLS connection (handshake included), median",
      value: round(s.fresh.median),
      unit: "ms",
    },
  ];
  const result = { name: "mcproxy", figures };
  const out = path.join(here, "results", "mcproxy.json");
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  for (const f of figures) console.log(`${f.metric}: ${f.value} ${f.unit}`);
  console.log(`wrote ${out}`);
} finally {
  sim.kill("SIGTERM");
  await new Promise((resolve) =>
    sim.exitCode === null ? sim.once("exit", resolve) : resolve(null),
  );
  await new Promise((resolve) => backend.close(resolve));
  await rm(dir, { recursive: true, force: true });
}
