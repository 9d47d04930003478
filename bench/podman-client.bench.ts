// @mcp/podman-client against the bare podman process it wraps (rootless, user mcp).
//
//   1. Listing 300 containers: client.listContainers() (spawn via execa, JSON.parse, run-time
//      shape check with zod, mapping) against the same `podman ps -a --format json --no-trunc`
//      spawned bare with node:child_process and only JSON.parse'd. Alternated, medians.
//   2. Per-call overhead on a cheap call (`podman container exists`, `podman version`):
//      client minus bare, medians.
//   3. Following the logs of a container that writes 100 MB: RSS and heap of this process
//      before, at the peak during, and after (with GC), to show the reader stays flat.
// Containers are created with `podman create` (never started) in setup and removed after.
// Run as root (switches to user mcp) or as mcp: . ./env.sh && pnpm --filter @mcp/podman-client build &&
//   node bench/podman-client.bench.ts

import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { lookupUser, PodmanClient } from "@mcp/podman-client";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const here = path.dirname(fileURLToPath(import.meta.url));
const CONTAINERS = Number(process.env.BENCH_CONTAINERS ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const LOG_BYTES = Number(process.env.BENCH_LOG_BYTES ?? 100_000_000);
const IMAGE = "localhost/mcp-test/busybox:v1.0.0";

const user = await lookupUser("mcp");
const asRoot = process.getuid?.() === 0;
const env = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: user.home ?? "/",
  USER: "mcp",
  XDG_RUNTIME_DIR: `/run/user/${user.uid}`,
};
const client = new PodmanClient(asRoot ? { runAs: user, env } : { env });
const runner = await client.runner();

/** The baseline: the podman process itself, spawned as plainly as Node can. */
function bare(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      runner.file,
      args,
      {
        env: runner.env,
        cwd: runner.cwd,
        maxBuffer: 256 * 1024 * 1024,
        ...(asRoot ? { uid: user.uid, gid: user.gid } : {}),
      },
      (err, stdout) =>
        err && (err as { code?: unknown }).code !== 1 ? reject(err) : resolve(stdout),
    );
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const round = (n: number) => Math.round(n * 100) / 100;
async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}
async function pool<T>(items: T[], width: number, fn: (x: T) => Promise<unknown>) {
  let i = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

const run = `b${Date.now().toString(36)}`;
const label = { "mcp-bench.run": run };
const figures: Record<string, unknown>[] = [];

if (!(await client.imageExists(IMAGE))) {
  console.error(`bench: ${IMAGE} is missing; run the @mcp/testkit tests once (they build it)`);
  process.exit(2);
}

try {
  const existing = (await client.listContainers()).length;
  console.log(
    `setup: creating ${CONTAINERS} containers (podman create) beside ${existing} existing`,
  );
  const t = performance.now();
  await pool(
    Array.from({ length: CONTAINERS }, (_, i) => i),
    4,
    (i) =>
      client.createContainer({
        name: `${run}-${i}`,
        image: IMAGE,
        cmd: ["sleep", "600"],
        labels: { ...label, "mcp.service": `svc${i}`, "mcp.component": "api" },
        ports: [{ hostIp: "127.0.0.1", hostPort: 30000 + i, containerPort: 8080 }],
        env: { PORT: "8080" },
      }),
  );
  console.log(`setup: ${round((performance.now() - t) / 1000)} s`);

  // 1. Listing.
  const listArgs = ["ps", "--format", "json", "--no-trunc", "--all"];
  const bareList: number[] = [];
  const clientList: number[] = [];
  let count = 0;
  await client.listContainers(); // warm
  let bareListCpu = 0;
  let clientListCpu = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let u = process.cpuUsage();
    bareList.push(await time(async () => JSON.parse(await bare(listArgs))));
    let d = process.cpuUsage(u);
    bareListCpu += (d.user + d.system) / 1000;
    u = process.cpuUsage();
    clientList.push(
      await time(async () => {
        count = (await client.listContainers()).length;
      }),
    );
    d = process.cpuUsage(u);
    clientListCpu += (d.user + d.system) / 1000;
  }
  // The client's own share, measured on the same bytes without the process.
  const raw = await bare(listArgs);
  const { parseContainerList } = await import("@mcp/podman-client");
  const parseOnly: number[] = [];
  for (let r = 0; r < 50; r++)
    parseOnly.push(await time(async () => parseContainerList(JSON.parse(raw))));
  const jsonOnly: number[] = [];
  for (let r = 0; r < 50; r++) jsonOnly.push(await time(async () => JSON.parse(raw)));

  figures.push(
    {
      metric: `list ${count} containers: client.listContainers(), median`,
      value: round(median(clientList)),
      pairedOverheadMs: round(median(clientList.map((x, i) => x - bareList[i]!))),
      unit: "ms",
      baseline: round(median(bareList)),
      ratio: round(median(clientList) / median(bareList)),
      target: "ratio <= 1.2",
    },
    {
      metric: `list ${count} containers: this process's CPU per call, client vs bare spawn + JSON.parse`,
      value: round(clientListCpu / ROUNDS),
      unit: "ms",
      baseline: round(bareListCpu / ROUNDS),
    },
    {
      metric: `parse + check + map of ${count} ps entries (${Math.round(raw.length / 1024)} KiB), median`,
      value: round(median(parseOnly)),
      unit: "ms",
      baseline: round(median(jsonOnly)),
    },
  );

  // 2. Per-call overhead.
  for (const [what, args, call] of [
    [
      "container exists",
      ["container", "exists", `${run}-0`],
      () => client.containerExists(`${run}-0`),
    ],
    ["version", ["version", "--format", "json"], () => client.version()],
  ] as [string, string[], () => Promise<unknown>][]) {
    const b: number[] = [];
    const c: number[] = [];
    // Wall time is at the mercy of a shared machine's load; the CPU this process spends
    // per call (spawn, pipes, parsing) is the client's own cost and does not drift.
    let bCpu = 0;
    let cCpu = 0;
    const cpu = async (fn: () => Promise<unknown>) => {
      const u = process.cpuUsage();
      const ms = await time(fn);
      const d = process.cpuUsage(u);
      return [ms, (d.user + d.system) / 1000] as const;
    };
    const n = ROUNDS * 4;
    for (let r = 0; r < n; r++) {
      const [bm, bc] = await cpu(() => bare(args));
      const [cm, cc] = await cpu(call);
      b.push(bm);
      c.push(cm);
      bCpu += bc;
      cCpu += cc;
    }
    figures.push(
      {
        // Median of paired differences (each client call right after a bare one), which
        // cancels most of the drift of a loaded machine.
        metric: `podman ${what}: client overhead over bare podman (wall), median of pairs`,
        value: round(median(c.map((x, i) => x - b[i]!))),
        unit: "ms",
        baseline: round(median(b)),
        target: "< 20 ms",
      },
      {
        metric: `podman ${what}: this process's CPU per call, client vs bare spawn`,
        value: round(cCpu / n),
        unit: "ms",
        baseline: round(bCpu / n),
      },
    );
  }
} finally {
  const t = performance.now();
  const mine = await client.listContainers({ labels: label });
  await pool(mine, 4, (c) => client.removeContainer(c.id, { force: true, timeoutSeconds: 0 }));
  console.log(
    `cleanup: removed ${mine.length} containers in ${round((performance.now() - t) / 1000)} s`,
  );
}

// 3. Following the logs of a container that writes LOG_BYTES (and a tenth of it, to show
// the reader's memory does not grow with the log's size).
const mb = (n: number) => round(n / 1024 / 1024);
async function followBench(total: number, tag: string) {
  const logName = `${run}-logs-${tag}`;
  try {
    const line = "x".repeat(99); // 100 bytes with the newline
    const lines = Math.floor(total / 100);
    await client.createContainer({
      name: logName,
      image: IMAGE,
      cmd: ["sh", "-c", `yes ${line} | head -n ${lines}`],
      labels: label,
    });
    gc();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 20);
    const ac = new AbortController();
    let bytes = 0;
    let n = 0;
    const t = performance.now();
    await client.startContainer(logName);
    for await (const l of client.followLogs(logName, { signal: ac.signal })) {
      bytes += l.length + 1;
      n++;
    }
    const secs = (performance.now() - t) / 1000;
    clearInterval(sampler);
    gc();
    const after = process.memoryUsage();
    console.log(`logs ${tag}: ${n} of ${lines} lines, ${mb(bytes)} MiB in ${round(secs)} s`);
    figures.push(
      {
        metric: `follow ${tag}: lines received of ${lines} written`,
        value: n,
        unit: "lines",
        target: lines,
      },
      {
        metric: `follow ${tag}: throughput (container writing while followed)`,
        value: round(bytes / 1024 / 1024 / secs),
        unit: "MiB/s",
      },
      {
        metric: `follow ${tag}: RSS before / peak during / after`,
        value: `${mb(before.rss)} / ${mb(peakRss)} / ${mb(after.rss)}`,
        unit: "MiB",
      },
      {
        metric: `follow ${tag}: heap before / peak during / after GC`,
        value: `${mb(before.heapUsed)} / ${mb(peakHeap)} / ${mb(after.heapUsed)}`,
        unit: "MiB",
      },
    );
  } finally {
    await client.removeContainer(logName, { force: true, timeoutSeconds: 0 }).catch(() => {});
  }
}
await followBench(LOG_BYTES / 10, `${mb(LOG_BYTES / 10)}MiB`);
await followBench(LOG_BYTES, `${mb(LOG_BYTES)}MiB`);

for (const f of figures) {
  console.log(
    `${f.metric}: ${f.value} ${f.unit}${f.baseline !== undefined ? ` (baseline ${f.baseline})` : ""}${f.ratio !== undefined ? ` ratio ${f.ratio}` : ""}`,
  );
}
await writeFile(
  path.join(here, "results", "podman-client.json"),
  `${JSON.stringify({ name: "podman-client", figures }, null, 2)}\n`,
);
