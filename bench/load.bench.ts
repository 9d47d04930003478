// mcp-agent under load: many clients, many containers, concurrent deploys.
//
//   1. 100 containers created with `podman create` (labelled as MCP service components that
//      no definition manages) plus 10 services deployed concurrently through the agent (all
//      must succeed; wall time reported).
//   2. 50 concurrent clients (each its own HTTP/2 connection over TLS 1.3) call ServiceStatus
//      and ListContainers (unmanaged included, so every container is listed) in a loop for
//      BENCH_LOAD_SECONDS (default 20, up to 60): calls, errors, p50/p99 latency, calls/s,
//      agent RSS before, right after, 5 s and 15 s after. The agent runs with
//      bench/memprobe.mjs preloaded (`--expose-gc`): its live heap after a full GC before and
//      after the load tells retained objects (a leak) from memory V8/malloc keep mapped.
//      BENCH_AGENT_NODE_FLAGS adds Node flags to the agent, BENCH_AGENT_BIN runs another build.
//   3. Two concurrent deploys of one service (different definitions): the agent's per-service
//      lock must serialize them — the overlap of their step streams is reported (target 0).
// Needs the sim (MCIAS only), rootless Podman as user mcp and the testkit image.
// Run as root: . ./env.sh && pnpm turbo run build --filter @mcp/agent... && node bench/load.bench.ts

import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
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
const BIN = process.env.BENCH_AGENT_BIN ?? path.join(here, "../packages/agent/dist/bin.js");
// Extra Node flags for the agent, to compare settings (e.g. "--max-semi-space-size=4").
const AGENT_FLAGS = (process.env.BENCH_AGENT_NODE_FLAGS ?? "").split(" ").filter(Boolean);
const SECONDS = Math.min(60, Number(process.env.BENCH_LOAD_SECONDS ?? 20));
const CLIENTS = Number(process.env.BENCH_LOAD_CLIENTS ?? 50);
const CONTAINERS = Number(process.env.BENCH_LOAD_CONTAINERS ?? 100);
const SERVICES = 10;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 100) / 100;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

interface MemProbe {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}
// The agent runs with bench/memprobe.mjs preloaded: SIGUSR2 makes it collect garbage fully
// and write its memory figures. Live heap after a full GC is what the agent retains; RSS
// beyond it is what V8 and malloc keep mapped.
async function probe(pid: number, out: string): Promise<MemProbe> {
  await unlink(out).catch(() => {});
  process.kill(pid, "SIGUSR2");
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return JSON.parse(await readFile(out, "utf8")) as MemProbe;
    } catch {
      if (Date.now() > until) throw new Error("agent memory probe did not answer");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
const mib = (bytes: number) => round(bytes / 1024 / 1024);

const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-load-"));
const simDir = path.join(dir, "sim");
const sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
const podman = await setupPodman();
let agentProc: ChildProcess | undefined;

try {
  const { ca, token, port } = await agentCredentials(dir, simDir);
  const portLow = 52000 + Math.floor(Math.random() * 50) * 100;
  const configFile = path.join(dir, "mcp-agent.toml");
  await writeFile(configFile, agentConfig({ dir, port, sim, ports: { low: portLow, count: 100 } }));
  const probeOut = path.join(dir, "memprobe.json");
  agentProc = spawnAgent(configFile, {
    nodeArgs: ["--expose-gc", "--import", path.join(here, "memprobe.mjs"), ...AGENT_FLAGS],
    bin: BIN,
    env: { ...process.env, MCP_MEMPROBE_OUT: probeOut },
  });
  const agentPid = agentProc.pid ?? 0;
  await waitHealthy(port, ca.cert);
  // Load clients hang up 2 s after their last call, as CLIs do when they exit: the figures
  // after the load are then the agent's own, not 50 open TLS/HTTP/2 sessions' buffers.
  const clientWith = (idleConnectionTimeoutMs?: number) =>
    agentClient(port, ca.cert, token, idleConnectionTimeoutMs);
  const admin = clientWith();
  const drain = async <T>(it: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const x of it) out.push(x);
    return out;
  };
  const toml = (name: string, greeting = "hi") => `name = "${name}"
node = "bench"

[[components]]
name = "web"
image = "${podman.image}"
cmd = ["sh", "-c", "echo ${greeting}; exec httpd -f -p $PORT -h /"]

[[components.routes]]
port = 443
mode = "l4"
`;

  // 1. Containers and services.
  let t0 = performance.now();
  const names = Array.from({ length: CONTAINERS }, (_, i) => podman.name(`bulk${i}-web`));
  for (let i = 0; i < names.length; i += 8) {
    await Promise.all(
      names.slice(i, i + 8).map((name) =>
        podman.client.createContainer({
          name,
          image: podman.image,
          labels: {
            ...podman.labels,
            "mcp.service": name.slice(0, -"-web".length),
            "mcp.component": "web",
          },
        }),
      ),
    );
  }
  const createMs = performance.now() - t0;
  const services = Array.from({ length: SERVICES }, (_, i) => podman.name(`svc${i}`));
  t0 = performance.now();
  const deployed = await Promise.allSettled(
    services.map((name) =>
      drain(admin.deploy({ spec: { name, node: "bench", toml: toml(name) } })),
    ),
  );
  const concurrentDeployMs = performance.now() - t0;
  const deployFailures = deployed.filter((r) => r.status === "rejected");
  for (const f of deployFailures)
    console.error("deploy failed:", (f as PromiseRejectedResult).reason);
  const listed = (await admin.listContainers({ includeUnmanaged: true })).containers.length;

  // 2. Load.
  const rssStart = await rssMiB(agentPid);
  const memStart = await probe(agentPid, probeOut);
  const latency: number[] = [];
  let errors = 0;
  const errorKinds = new Map<string, number>();
  const stopAt = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const c = clientWith(2000);
      let n = i;
      while (performance.now() < stopAt) {
        const started = performance.now();
        try {
          if (n++ % 2 === 0) await c.serviceStatus({ service: services[n % SERVICES] ?? "" });
          else await c.listContainers({ includeUnmanaged: true });
          latency.push(performance.now() - started);
        } catch (e) {
          errors++;
          const k = String((e as Error).message).slice(0, 80);
          errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
        }
      }
    }),
  );
  const rssEnd = await rssMiB(agentPid);
  await new Promise((r) => setTimeout(r, 5000));
  const rssIdle = await rssMiB(agentPid);
  // V8's memory reducer starts 8 s after activity drops; give it that chance before the
  // forced collection.
  await new Promise((r) => setTimeout(r, 10_000));
  const rssIdle15 = await rssMiB(agentPid);
  const memIdle = await probe(agentPid, probeOut);
  console.error(`agent memory 15 s after load, after GC: ${JSON.stringify(memIdle)}`);
  for (const [k, v] of errorKinds) console.error(`error x${v}: ${k}`);

  // 3. Two deploys of one service at once.
  const target = services[0] ?? "";
  const spans = await Promise.all(
    ["one", "two"].map(async (greeting) => {
      let first = Number.NaN;
      let last = Number.NaN;
      for await (const ev of admin.deploy({
        spec: { name: target, node: "bench", toml: toml(target, greeting) },
      })) {
        // Step events only: the result of the first may reach the client a moment after the
        // second's first step, once the lock has passed on.
        if (ev.event.case !== "step") continue;
        const now = performance.now();
        if (Number.isNaN(first)) first = now;
        last = now;
      }
      return { first, last };
    }),
  );
  const [a, b] = spans;
  const overlapMs =
    a && b ? Math.max(0, Math.min(a.last, b.last) - Math.max(a.first, b.first)) : Number.NaN;

  const figures = [
    { metric: "containers created with podman create", value: CONTAINERS, unit: "count" },
    { metric: "podman create of them (8 at a time)", value: round(createMs / 1000), unit: "s" },
    { metric: "containers listed by ListContainers", value: listed, unit: "count" },
    {
      metric: `concurrent deploys of ${SERVICES} services succeeded`,
      value: SERVICES - deployFailures.length,
      unit: "count",
      target: SERVICES,
    },
    {
      metric: `${SERVICES} concurrent deploys, wall time`,
      value: round(concurrentDeployMs / 1000),
      unit: "s",
    },
    { metric: "load clients", value: CLIENTS, unit: "count" },
    { metric: "load duration", value: SECONDS, unit: "s" },
    { metric: "calls completed", value: latency.length, unit: "count" },
    { metric: "calls per second", value: round(latency.length / SECONDS), unit: "1/s" },
    { metric: "errors", value: errors, unit: "count", target: 0 },
    { metric: "latency p50", value: round(pct(latency, 50)), unit: "ms" },
    { metric: "latency p99", value: round(pct(latency, 99)), unit: "ms" },
    { metric: "agent RSS before load", value: rssStart, unit: "MiB" },
    { metric: "agent RSS after load", value: rssEnd, unit: "MiB" },
    { metric: "agent RSS 5 s after load", value: rssIdle, unit: "MiB" },
    { metric: "agent RSS 15 s after load", value: rssIdle15, unit: "MiB" },
    {
      metric: "agent live heap after full GC, before load",
      value: mib(memStart.heapUsed),
      unit: "MiB",
    },
    {
      metric: "agent live heap after full GC, 15 s after load",
      value: mib(memIdle.heapUsed),
      unit: "MiB",
    },
    {
      metric: "agent V8 heap reserved (heapTotal), 15 s after load, after GC",
      value: mib(memIdle.heapTotal),
      unit: "MiB",
    },
    {
      metric: "agent external memory after GC, 15 s after load",
      value: mib(memIdle.external),
      unit: "MiB",
    },
    { metric: "agent RSS after full GC, 15 s after load", value: mib(memIdle.rss), unit: "MiB" },
    {
      metric: "overlap of two concurrent deploys of one service",
      value: round(overlapMs),
      unit: "ms",
      target: 0,
    },
  ];
  await writeFile(
    path.join(here, "results/load.json"),
    `${JSON.stringify({ name: "load", figures }, null, 2)}\n`,
  );
  for (const f of figures) console.log(`${f.metric}: ${f.value} ${f.unit}`);
} finally {
  agentProc?.kill("SIGTERM");
  await podman.cleanup().catch(() => {});
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
// The clients' HTTP/2 sessions would keep the process alive.
process.exit(0);
