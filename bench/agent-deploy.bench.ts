// mcp-agent: idle memory, a deploy against bare `podman run -d`, and a no-op redeploy.
//
//   1. RSS of a started agent process (dist/bin.js, bundled) idle for 5 s, and after it
//      answered one call and sat idle for 5 s. Target < 80 MB.
//   2. Deploy of a single-component service whose image is present (busybox httpd, one
//      route): the Deploy RPC over TLS from call to result (ports, create, start, registry
//      writes), against `podman run -d -p P:P -e PORT=P <image> <cmd>` spawned bare as the
//      same user. Alternated rounds, medians. Target ratio <= 1.5.
//   3. Redeploy of the same definition (nothing changes): Deploy RPC, median. Target < 300 ms.
// Needs the sim (MCIAS only), rootless Podman as user mcp and the testkit image.
// Run as root: . ./env.sh && pnpm turbo run build --filter @mcp/agent... && node bench/agent-deploy.bench.ts

import { type ChildProcess, execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 100) / 100;

const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-agent-"));
const simDir = path.join(dir, "sim");
const sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
const podman = await setupPodman();
let agentPid: number | undefined;
let agentProc: ChildProcess | undefined;

try {
  const { ca, token, port } = await agentCredentials(dir, simDir);
  const portLow = 50000 + Math.floor(Math.random() * 50) * 100;
  const configFile = path.join(dir, "mcp-agent.toml");
  await writeFile(configFile, agentConfig({ dir, port, sim, ports: { low: portLow, count: 100 } }));
  agentProc = spawnAgent(configFile);
  agentPid = agentProc.pid;
  const client = agentClient(port, ca.cert, token);
  await waitHealthy(port, ca.cert);
  const rss = async () => {
    const status = await readFile(`/proc/${agentPid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  };

  // 1. Idle RSS: after start, and after a first authenticated call that reached Podman
  // (which loads the MCIAS and Podman clients).
  // 5 s: an idle agent hands back what start-up and a burst of calls left (one
  // memory-reducing GC 2 s after start and 3 s after the last call; docs/decisions/0201).
  await new Promise((r) => setTimeout(r, 5000));
  const rssMb = await rss();
  await client.nodeInfo({});
  await new Promise((r) => setTimeout(r, 5000));
  const rssAfterCallMb = await rss();

  // Baseline: bare podman as the same user, the way podman-client would spawn it.
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

  const cmd = ["sh", "-c", "exec httpd -f -p $PORT -h /"];
  const toml = (name: string) => `name = "${name}"
node = "bench"

[[components]]
name = "web"
image = "${podman.image}"
cmd = ${JSON.stringify(cmd)}

[[components.routes]]
port = 443
mode = "l4"
`;
  const deploy = async (name: string) => {
    const t = performance.now();
    let changed: boolean | undefined;
    for await (const r of client.deploy({ spec: { name, node: "bench", toml: toml(name) } })) {
      if (r.event.case === "result") changed = r.event.value.changed;
    }
    return { ms: performance.now() - t, changed };
  };
  const undeploy = async (name: string) => {
    for await (const _ of client.undeploy({ service: name })) {
      // drain
    }
  };

  // 2. Deploy vs bare podman run -d, alternated.
  const mcp: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const name = podman.name(`d${i}`);
    const r = await deploy(name);
    mcp.push(r.ms);
    await undeploy(name);

    const bname = podman.name(`b${i}`);
    const p = portLow + 90 + (i % 5);
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
      podman.image,
      ...cmd,
    ]);
    base.push(performance.now() - t);
    await bare(["rm", "-f", "-t", "0", bname]);
  }

  // 3. No-op redeploy.
  const name = podman.name("redeploy");
  await deploy(name);
  const noop: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const r = await deploy(name);
    if (r.changed !== false)
      throw new Error("redeploy of an unchanged definition changed something");
    noop.push(r.ms);
  }
  await undeploy(name);

  const figures = [
    { metric: "agent idle RSS after start", value: round(rssMb), unit: "MiB", target: "< 80 MB" },
    {
      metric: "agent idle RSS after a first call (MCIAS and Podman clients loaded)",
      value: round(rssAfterCallMb),
      unit: "MiB",
      target: "< 80 MB",
    },
    {
      metric: "deploy, 1 component, image present: Deploy RPC, median",
      value: round(median(mcp)),
      unit: "ms",
      baseline: round(median(base)),
      ratio: round(median(mcp) / median(base)),
      target: "ratio <= 1.5 (baseline: bare podman run -d -p)",
    },
    {
      metric: "redeploy unchanged: Deploy RPC, median",
      value: round(median(noop)),
      unit: "ms",
      target: "< 300 ms",
    },
  ];
  await writeFile(
    path.join(here, "results/agent-deploy.json"),
    `${JSON.stringify({ name: "agent-deploy", figures }, null, 2)}\n`,
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
