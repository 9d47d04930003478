// `mcp ps` against one node with 100 MCP-managed containers, end to end (issue 4: under
// 400 ms, CLI start included).
//
// One real agent (TLS, tokens checked by the sim's MCIAS, rootless Podman as user mcp) with
// 100 containers made by `podman create` carrying the MCP service/component labels, which is
// all the agent needs to list them as managed (as in load.bench.ts; created, not started).
// Each figure is the median (and p90) wall time of a fresh process, 3 warm-ups then 15 runs:
//   - `mcp ps` after 2.2 s of quiet, so the agent's 2 s cache of `podman ps` has expired and
//     the call pays a fresh one (the headline figure), then `mcp ps` and `mcp ps --json`
//     straight after it (served from that cache);
//   - baselines in the same run: bare `podman ps -a --format json` as user mcp, `node -e 0`.
// The five commands run interleaved (one of each per round): this machine is shared and its
// load swings, so only figures taken side by side compare. The sim runs in this process, so
// the subprocesses are awaited, never spawnSync'd.
// Run as root: . ./env.sh && pnpm turbo run build --filter @mcp/agent... --filter @mcp/cli...
//   && node bench/cli-ps.bench.ts

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, startSim } from "@mcp/sim";
import { setupPodman } from "@mcp/testkit";
import { agentConfig, agentCredentials, spawnAgent, waitHealthy } from "./lib/agent.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "../packages/cli/dist/bin.js");
const CONTAINERS = 100;
const WARMUP = 3;
const RUNS = 15;
const TARGET_MS = 400;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((s.length * p) / 100) - 1)] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 10) / 10;

interface Run {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ ms: performance.now() - t, code, stdout, stderr }));
  });
}
interface Subject {
  cmd: string;
  args: string[];
  env: Record<string, string>;
  check: (r: Run) => void;
  ms: number[];
  /** Untimed, before each run. */
  before?: () => Promise<void>;
}
/** Round-robin, one run of each subject per round, so load from others on this shared
 * machine falls on all of them alike. */
async function timeAll(subjects: Subject[]): Promise<void> {
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const s of subjects) {
      await s.before?.();
      const r = await run(s.cmd, s.args, s.env);
      if (r.code !== 0) {
        throw new Error(`${s.cmd} ${s.args.join(" ")} exited ${r.code}: ${r.stderr}`);
      }
      s.check(r);
      if (i >= WARMUP) s.ms.push(r.ms);
    }
  }
}

const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-cli-ps-"));
const simDir = path.join(dir, "sim");
const sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
const podman = await setupPodman();
let agentProc: ChildProcess | undefined;

try {
  const { ca, token, port } = await agentCredentials(dir, simDir);
  await writeFile(path.join(dir, "ca.pem"), ca.cert);
  const portLow = 52000 + Math.floor(Math.random() * 50) * 100;
  const configFile = path.join(dir, "mcp-agent.toml");
  await writeFile(configFile, agentConfig({ dir, port, sim, ports: { low: portLow, count: 100 } }));

  // The containers: labelled as components of 100 services, created 8 at a time.
  const names = Array.from({ length: CONTAINERS }, (_, i) => podman.name(`ps${i}-web`));
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

  agentProc = spawnAgent(configFile);
  await waitHealthy(port, ca.cert);

  await writeFile(
    path.join(dir, "mcp.toml"),
    `[[nodes]]\nname = "bench"\naddress = "127.0.0.1:${port}"\n\n[tls]\nca_cert = "ca.pem"\n`,
  );
  await writeFile(path.join(dir, "token"), `${token}\n`, { mode: 0o600 });
  const cliEnv = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    MCP_CONFIG: path.join(dir, "mcp.toml"),
    NO_COLOR: "1",
  };

  // Rows that are ours: the run's prefix is in every service name.
  let tableRows = 0;
  let jsonRows = 0;
  let podmanRows = 0;
  const subject = (
    cmd: string,
    args: string[],
    env: Record<string, string>,
    check: (r: Run) => void,
  ): Subject => ({ cmd, args, env, check, ms: [] });
  const ps = subject(process.execPath, [CLI, "ps"], cliEnv, (r) => {
    tableRows = r.stdout.split("\n").filter((l) => l.includes(podman.prefix)).length;
    if (tableRows < CONTAINERS) throw new Error(`mcp ps listed ${tableRows} of ours:\n${r.stdout}`);
  });
  // The agent answers reads from one `podman ps` kept up to 2 s (observed.ts); 2.2 s of
  // quiet first makes this run pay a fresh one, as the first `ps` of a session does.
  const psCold = {
    ...subject(process.execPath, [CLI, "ps"], cliEnv, ps.check),
    before: () => new Promise<void>((r) => setTimeout(r, 2200)),
  };
  const psJson = subject(process.execPath, [CLI, "ps", "--json"], cliEnv, (r) => {
    const out = JSON.parse(r.stdout) as {
      nodes: { ok: boolean; containers?: { service: string; managed: boolean }[] }[];
    };
    jsonRows = (out.nodes[0]?.containers ?? []).filter(
      (c) => c.managed && c.service.startsWith(podman.prefix),
    ).length;
    if (jsonRows < CONTAINERS) throw new Error(`mcp ps --json listed ${jsonRows} of ours`);
  });
  const bare = subject(
    "runuser",
    ["-u", podman.user.name, "--", "podman", "ps", "-a", "--format", "json"],
    podman.env,
    (r) => {
      const out = JSON.parse(r.stdout) as { Names: string[] }[];
      podmanRows = out.filter((c) => c.Names.some((n) => n.startsWith(podman.prefix))).length;
      if (podmanRows < CONTAINERS) throw new Error(`podman ps listed ${podmanRows} of ours`);
    },
  );
  const node0 = subject(process.execPath, ["-e", "0"], cliEnv, () => {});
  const loadBefore = loadavg()[0] ?? Number.NaN;
  await timeAll([psCold, ps, psJson, bare, node0]);
  const loadAfter = loadavg()[0] ?? Number.NaN;

  const podmanMedian = pct(bare.ms, 50);
  const figure = (metric: string, xs: number[], p: number, target?: number) => ({
    metric,
    value: round(pct(xs, p)),
    unit: "ms",
    ...(target !== undefined ? { target } : {}),
    baseline: round(pct(bare.ms, p)),
    ratio: round(pct(xs, p) / pct(bare.ms, p)),
  });
  const figures = [
    { metric: "managed containers on the node", value: CONTAINERS, unit: "count" },
    { metric: "rows of ours in `mcp ps`", value: tableRows, unit: "count", target: CONTAINERS },
    { metric: "containers of ours in `mcp ps --json`", value: jsonRows, unit: "count" },
    { metric: "containers of ours in bare `podman ps -a`", value: podmanRows, unit: "count" },
    figure(
      "mcp ps, 100 containers, agent's 2 s cache expired (fresh podman ps), median (baseline: bare podman ps -a)",
      psCold.ms,
      50,
      TARGET_MS,
    ),
    figure(
      "mcp ps, 100 containers, agent's 2 s cache expired (fresh podman ps), p90 (baseline: bare podman ps -a)",
      psCold.ms,
      90,
      TARGET_MS,
    ),
    figure(
      "mcp ps right after another (agent cache warm), median (baseline: bare podman ps -a)",
      ps.ms,
      50,
      TARGET_MS,
    ),
    figure(
      "mcp ps right after another (agent cache warm), p90 (baseline: bare podman ps -a)",
      ps.ms,
      90,
      TARGET_MS,
    ),
    figure(
      "mcp ps --json right after (agent cache warm), median (baseline: bare podman ps -a)",
      psJson.ms,
      50,
      TARGET_MS,
    ),
    figure(
      "mcp ps --json right after (agent cache warm), p90 (baseline: bare podman ps -a)",
      psJson.ms,
      90,
      TARGET_MS,
    ),
    {
      metric: "bare `podman ps -a --format json` as user mcp, median",
      value: round(podmanMedian),
      unit: "ms",
    },
    {
      metric: "bare `podman ps -a --format json` as user mcp, p90",
      value: round(pct(bare.ms, 90)),
      unit: "ms",
    },
    { metric: "node -e 0, median", value: round(pct(node0.ms, 50)), unit: "ms" },
    {
      metric: "mcp ps (cache expired) median minus node -e 0 median",
      value: round(pct(psCold.ms, 50) - pct(node0.ms, 50)),
      unit: "ms",
    },
    { metric: "runs per figure (after 3 warm-ups, interleaved)", value: RUNS, unit: "count" },
    {
      metric: "1-min load average before the runs (2 cores, shared)",
      value: round(loadBefore),
      unit: "load",
    },
    { metric: "1-min load average after the runs", value: round(loadAfter), unit: "load" },
  ];
  await writeFile(
    path.join(here, "results/cli-ps.json"),
    `${JSON.stringify({ name: "cli-ps", figures }, null, 2)}\n`,
  );
  for (const f of figures) console.log(`${f.metric}: ${f.value} ${f.unit}`);
} finally {
  agentProc?.kill("SIGTERM");
  await podman.cleanup().catch(() => {});
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
