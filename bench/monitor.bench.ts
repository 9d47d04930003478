// mcp-agent monitor: the cost of one monitor cycle against one bare `podman ps`, and memory
// over many cycles.
//
//   1. A monitor cycle with 300 containers (100 services x 3 components, `podman create`d,
//      not run): one `podman ps` through the agent's observed-state cache, evaluate, the
//      cycle's events in one transaction, the observed rows written. Against
//      `podman ps -a --format json` spawned bare and JSON.parse'd. Alternated rounds, medians.
//      Targets: ratio < 1.3; agent CPU beyond the listing (evaluate + store) < 50 ms.
//   2. The evaluator 1,000 times against a recorded 300-container listing, some containers
//      changing state every cycle: heapUsed before and after (after a forced GC).
//      Target: flat (growth < 1 MiB).
// Needs rootless Podman as user mcp and the testkit image (the testkit tests build it).
// Run as root: . ./env.sh && pnpm turbo run build --filter @mcp/agent... && node bench/monitor.bench.ts

import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  adaptRuntime,
  type ComponentState,
  type ContainerInfo,
  evaluate,
  Monitor,
  ObservedState,
  openStore,
} from "@mcp/agent";
import { setupPodman } from "@mcp/testkit";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVICES = Number(process.env.BENCH_SERVICES ?? 100);
const COMPONENTS = ["api", "db", "web"];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const CYCLES = Number(process.env.BENCH_CYCLES ?? 1000);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 100) / 100;
const mb = (n: number) => round(n / 1024 / 1024);

async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) {
        const item = items[i++] as T;
        await fn(item);
      }
    }),
  );
}

const h = await setupPodman();
const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-monitor-"));
const store = openStore(path.join(dir, "mcp.db"));
const figures: Record<string, unknown>[] = [];
const runner = await h.client.runner();
const asRoot = process.getuid?.() === 0;

/** The baseline: `podman ps -a --format json`, spawned as plainly as Node can, parsed. */
function barePs(): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      runner.file,
      ["ps", "-a", "--format", "json"],
      {
        env: runner.env,
        cwd: runner.cwd,
        maxBuffer: 256 * 1024 * 1024,
        ...(asRoot ? { uid: h.user.uid, gid: h.user.gid } : {}),
      },
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout))),
    );
  });
}

try {
  const services = Array.from({ length: SERVICES }, (_, i) => h.name(`s${i}`));
  for (const name of services) {
    store.putService({
      name,
      spec: {
        name,
        node: "rift",
        active: true,
        path: name,
        components: COMPONENTS.map((c) => ({ name: c, image: h.image })),
      },
      sourceToml: "",
      active: true,
      version: "v1.0.0",
      specHash: "h",
      components: COMPONENTS.map((c) => ({
        name: c,
        image: h.image,
        version: "v1.0.0",
        specHash: `h-${c}`,
      })),
    });
  }
  const existing = (await h.client.listContainers({ all: true })).length;
  console.log(
    `setup: podman create ${SERVICES * COMPONENTS.length} containers beside ${existing} existing`,
  );
  const t0 = performance.now();
  await pool(
    services.flatMap((s) => COMPONENTS.map((c) => [s, c] as const)),
    4,
    ([s, c]) =>
      h.client.createContainer({
        name: `${s}-${c}`,
        image: h.image,
        network: "none",
        labels: {
          ...h.labels,
          "mcp.service": s,
          "mcp.component": c,
          "mcp.version": "v1.0.0",
          "mcp.spec-hash": `h-${c}`,
        },
      }),
  );
  console.log(`setup: ${round((performance.now() - t0) / 1000)} s`);

  // 1. A cycle against a bare listing.
  const runtime = adaptRuntime(h.client);
  const observed = new ObservedState(runtime, store);
  const monitor = new Monitor({
    store,
    observed,
    log: { debug() {}, info() {}, warn() {} },
    settings: {
      nodeName: "rift",
      intervalMs: 60_000,
      cooldownMs: 900_000,
      flapThreshold: 3,
      flapWindowMs: 600_000,
      retentionMs: 30 * 86_400_000,
      reconcile: false,
    },
  });
  // The first cycle records every component's drift (all are `created`): 300 events.
  const cpuFirst = process.cpuUsage();
  const tFirst = performance.now();
  const first = await monitor.cycle();
  const firstWall = performance.now() - tFirst;
  const firstCpu = process.cpuUsage(cpuFirst);
  const listed = first.containers;
  const cycleWall: number[] = [];
  const cycleCpu: number[] = [];
  const cycleAgentCpu: number[] = [];
  const bareWall: number[] = [];
  const bareCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let c = process.cpuUsage();
    let t = performance.now();
    await barePs();
    bareWall.push(performance.now() - t);
    let u = process.cpuUsage(c);
    bareCpu.push((u.user + u.system) / 1000);
    c = process.cpuUsage();
    t = performance.now();
    const rep = await monitor.cycle();
    cycleWall.push(performance.now() - t);
    u = process.cpuUsage(c);
    cycleCpu.push((u.user + u.system) / 1000);
    cycleAgentCpu.push(rep.cpuMicros / 1000);
    if (rep.error) throw new Error(rep.error);
  }
  figures.push(
    {
      metric: `monitor cycle, ${listed} containers (${SERVICES * COMPONENTS.length} defined): wall, median`,
      value: round(median(cycleWall)),
      unit: "ms",
      baseline: round(median(bareWall)),
      ratio: round(median(cycleWall) / median(bareWall)),
      target: "ratio < 1.3",
    },
    {
      metric: "monitor cycle: agent CPU beyond the listing (evaluate + events + prune), median",
      value: round(median(cycleAgentCpu)),
      unit: "ms",
      target: "< 50 ms",
    },
    {
      metric:
        "monitor cycle: this process's CPU for the whole cycle (spawn, parse, map, evaluate, store), median",
      value: round(median(cycleCpu)),
      unit: "ms",
      baseline: round(median(bareCpu)),
    },
    {
      metric: `first cycle (every component drifted: ${first.transitions.length} events in one transaction): wall / agent CPU beyond listing`,
      value: `${round(firstWall)} / ${round(first.cpuMicros / 1000)}`,
      unit: "ms",
    },
    {
      metric: "first cycle: this process's CPU",
      value: round((firstCpu.user + firstCpu.system) / 1000),
      unit: "ms",
    },
  );

  // 2. Memory over many cycles of the evaluator against a recorded listing.
  const recorded: ContainerInfo[] = await runtime.list();
  const desired = store.listServices();
  const settings = {
    nodeName: "rift",
    cooldownMs: 900_000,
    flapThreshold: 3,
    flapWindowMs: 600_000,
    retentionMs: 30 * 86_400_000,
  };
  let states: ReadonlyMap<string, ComponentState> = new Map();
  let now = Date.now();
  const variant = (i: number) =>
    // Ten containers change state each cycle (running ↔ exited), the rest stay put.
    recorded.map((c, k) =>
      k % 30 === i % 30 ? { ...c, state: i % 2 ? "exited" : "running", exitCode: 1 } : c,
    );
  for (let i = 0; i < 50; i++) {
    now += 60_000;
    states = evaluate(desired, variant(i), states, now, settings).states;
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  let events = 0;
  const tMem = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    now += 60_000;
    const r = evaluate(desired, variant(i), states, now, settings);
    states = r.states;
    events += r.events.length;
    if (i % 100 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  const evalMs = (performance.now() - tMem) / CYCLES;
  gc();
  const after = process.memoryUsage().heapUsed;
  figures.push(
    {
      metric: `evaluator x${CYCLES} on a recorded ${recorded.length}-container listing: heapUsed before / peak / after (GC)`,
      value: `${mb(before)} / ${mb(peak)} / ${mb(after)}`,
      unit: "MiB",
      target: "flat (growth < 1 MiB)",
    },
    {
      metric: "evaluator heap growth over the run",
      value: mb(after - before),
      unit: "MiB",
      target: "< 1",
    },
    {
      metric: `evaluator per cycle (${recorded.length} containers, ${events} events over the run), mean wall`,
      value: round(evalMs),
      unit: "ms",
    },
    { metric: "states kept after the run", value: states.size, unit: "entries" },
  );
} finally {
  store.close();
  await h.cleanup();
  await rm(dir, { recursive: true, force: true });
}

for (const f of figures) {
  console.log(
    `${f.metric}: ${f.value} ${f.unit}${f.baseline !== undefined ? ` (baseline ${f.baseline})` : ""}${f.ratio !== undefined ? ` ratio ${f.ratio}` : ""}`,
  );
}
await writeFile(
  path.join(here, "results", "monitor.json"),
  `${JSON.stringify({ name: "monitor", figures }, null, 2)}\n`,
);
