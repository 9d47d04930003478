// Zero-downtime replacement: from the Deploy call to the new version answering through the
// proxy, for a changed single-component service with an HTTP health check, against the bare
// Podman floor (`podman run -d -p` + the first successful request to it).
//
//   1. Deploy v(n) → v(n+1) of a busybox httpd with an L7 route and an http check (interval
//      200ms): time until a client asking by name over TLS through the sim's mc-proxy every
//      10 ms first gets the new version; and the whole Deploy RPC (includes the 1 s drain).
//   2. Floor: bare `podman run -d -p P:P -e PORT=P <image> <cmd>` as the same user, then GET
//      until it answers. Alternated with 1, medians.
//   3. Redeploy unchanged (the same definition): Deploy RPC, median. Target < 300 ms.
// Needs the sim (MCIAS, Metacrypt, mc-proxy, MCNS), rootless Podman as user mcp and the
// testkit image. Run as root:
//   . ./env.sh && pnpm turbo run build --filter @mcp/agent... && node bench/zero-downtime.bench.ts

import { type ChildProcess, execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, startSim } from "@mcp/sim";
import { setupPodman } from "@mcp/testkit";
import {
  agentClient,
  agentConfig,
  agentCredentials,
  spawnAgent,
  waitHealthy,
} from "./lib/agent.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ZONE = "svc.mcp.metacircular.net";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-zdt-"));
const simDir = path.join(dir, "sim");
const sim = await startSim({ dir: simDir, log: silentLogger });
const podman = await setupPodman();
let agentProc: ChildProcess | undefined;

try {
  const { ca, token, port } = await agentCredentials(dir, simDir);
  const portLow = 52000 + Math.floor(Math.random() * 50) * 100;
  const { metacrypt: mc, mcns: ns, mcproxy } = sim.endpoints;
  const configFile = path.join(dir, "mcp-agent.toml");
  await writeFile(
    configFile,
    agentConfig({
      dir,
      port,
      sim,
      ports: { low: portLow, count: 90 },
      extra: `[deploy]
drain = "1s"
[metacrypt]
server_url = "${mc?.url}"
ca_cert = "${mc?.caFile}"
token_file = "${mc?.extra?.tokenFile}"
[mcproxy]
socket = "${mcproxy?.socket}"
[mcns]
server_url = "${ns?.url}"
ca_cert = "${ns?.caFile}"
token_file = "${ns?.extra?.tokenFile}"
zone = "${ZONE}"
[certs]
dir = "${dir}/certs"
`,
    }),
  );
  agentProc = spawnAgent(configFile);
  const client = agentClient(port, ca.cert, token);
  await waitHealthy(port, ca.cert);

  const metacryptCa = await readFile(mc?.caFile ?? "", "utf8");
  const [pHost, pPort] = String(mcproxy?.extra?.[":443"]).split(":");
  const viaProxy = (servername: string) =>
    new Promise<string>((resolve, reject) => {
      const req = https.request(
        {
          host: pHost,
          port: Number(pPort),
          servername,
          ca: metacryptCa,
          path: "/index.html",
          agent: false,
          timeout: 2000,
        },
        (res) => {
          let body = "";
          res.on("data", (d: Buffer) => {
            body += d.toString();
          });
          res.on("end", () =>
            resolve(res.statusCode === 200 ? body.trim() : `HTTP ${res.statusCode}`),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error("timed out")));
      req.on("error", reject);
      req.end();
    });
  const direct = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const req = http.get(
        { host: "127.0.0.1", port: p, path: "/index.html", agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
    });

  const cmd = [
    "sh",
    "-c",
    "mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p $PORT -h /www",
  ];
  const toml = (name: string, version: string) => `name = "${name}"
node = "bench"

[[components]]
name = "web"
image = "${podman.image}"
env = ["VERSION=${version}"]
cmd = ${JSON.stringify(cmd)}

[[components.routes]]
port = 443
mode = "l7"

[components.health]
type = "http"
path = "/index.html"
interval = "200ms"
`;
  const deploy = async (name: string, version: string) => {
    const t = performance.now();
    let changed: boolean | undefined;
    for await (const r of client.deploy({
      spec: { name, node: "bench", toml: toml(name, version) },
    })) {
      if (r.event.case === "result") changed = r.event.value.changed;
    }
    return { ms: performance.now() - t, changed };
  };

  const runner = await podman.client.runner();
  const asRoot = process.getuid?.() === 0;
  const bare = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        runner.file,
        args,
        {
          env: runner.env,
          cwd: runner.cwd,
          ...(asRoot ? { uid: podman.user.uid, gid: podman.user.gid } : {}),
        },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });

  const name = podman.name("zdt");
  const host = `${name}.${ZONE}`;
  await deploy(name, "v0");
  for (let t = Date.now(); (await viaProxy(host).catch(() => "")) !== "v0"; ) {
    if (Date.now() - t > 20_000) throw new Error("v0 never served");
    await sleep(100);
  }

  const toServing: number[] = [];
  const rpc: number[] = [];
  const floor: number[] = [];
  let failures = 0;
  for (let i = 1; i <= ROUNDS; i++) {
    const version = `v${i}`;
    let seenAt = 0;
    let running = true;
    const start = performance.now();
    const watcher = (async () => {
      while (running && seenAt === 0) {
        const body = await viaProxy(host).catch(() => "error");
        if (body === version) seenAt = performance.now();
        else if (body !== `v${i - 1}`) failures++;
        await sleep(10);
      }
    })();
    const r = await deploy(name, version);
    rpc.push(r.ms);
    while (seenAt === 0 && performance.now() - start < 30_000) await sleep(10);
    running = false;
    await watcher;
    toServing.push(seenAt - start);

    // The floor: bare podman run + the first successful request.
    const bname = podman.name(`floor${i}`);
    const p = portLow + 90 + (i % 9);
    const t = performance.now();
    await bare([
      "run",
      "-d",
      "--name",
      bname,
      "--label",
      `mcp-testkit.run=${podman.runId}`,
      "-p",
      `${p}:${p}`,
      "-e",
      `PORT=${p}`,
      "-e",
      `VERSION=${version}`,
      podman.image,
      ...cmd,
    ]);
    while ((await direct(p).catch(() => 0)) !== 200) await sleep(10);
    floor.push(performance.now() - t);
    await bare(["rm", "-f", "-t", "0", bname]);
  }

  const noop: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await deploy(name, `v${ROUNDS}`);
    if (r.changed !== false)
      throw new Error("redeploy of an unchanged definition changed something");
    noop.push(r.ms);
  }
  for await (const _ of client.undeploy({ service: name })) {
    // drain the stream
  }

  const figures = [
    {
      metric: "changed spec, http check: Deploy call → new version served through mc-proxy, median",
      value: round(median(toServing)),
      unit: "ms",
      baseline: round(median(floor)),
      ratio: round(median(toServing) / median(floor)),
      target: "baseline: bare podman run -d -p + first successful GET",
    },
    {
      metric:
        "changed spec: whole Deploy RPC incl. 1 s drain and retiring the old container, median",
      value: round(median(rpc)),
      unit: "ms",
    },
    {
      metric: "requests that failed or got neither version during the replacements",
      value: failures,
      unit: "requests",
      target: "0",
    },
    {
      metric: "redeploy unchanged: Deploy RPC, median",
      value: round(median(noop)),
      unit: "ms",
      target: "< 300 ms",
    },
  ];
  await writeFile(
    path.join(here, "results/zero-downtime.json"),
    `${JSON.stringify({ name: "zero-downtime", figures }, null, 2)}\n`,
  );
  for (const f of figures)
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${"ratio" in f ? ` (baseline ${f.baseline}, ratio ${f.ratio})` : ""}`,
    );
} finally {
  agentProc?.kill("SIGTERM");
  await podman.cleanup().catch(() => {});
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
