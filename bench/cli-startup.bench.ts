// `mcp` start-up: how long the operator waits before anything happens.
//
// Each figure is the median wall time of a fresh `node` process (spawnSync, output captured),
// against `node -e 0` measured in the same run as the baseline:
//   1. `mcp --help`: yargs and the command table only (target: under 150 ms end to end).
//   2. `mcp --version`.
//   3. `mcp ps` against a node that refuses at once: config, token, Connect, protobuf and the
//      HTTP/2 + TLS transport all load, so this is the floor of any command that talks to an
//      agent.
// Run: . ./env.sh && pnpm --filter @mcp/cli build && node bench/cli-startup.bench.ts

import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, "..", "packages", "cli", "dist", "bin.js");
const RUNS = 30;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
const round = (n: number) => Math.round(n * 10) / 10;

function time(args: string[], env: Record<string, string>, expectCode: number): number[] {
  const out: number[] = [];
  // Two warm-up runs so the page cache holds the files.
  for (let i = 0; i < RUNS + 2; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { env, encoding: "utf8" });
    const ms = performance.now() - t;
    if (r.status !== expectCode) {
      throw new Error(`${args.join(" ")} exited ${r.status}, expected ${expectCode}: ${r.stderr}`);
    }
    if (i >= 2) out.push(ms);
  }
  return out;
}

const dir = await mkdtemp(path.join(tmpdir(), "mcp-cli-bench-"));
try {
  await writeFile(
    path.join(dir, "mcp.toml"),
    '[[nodes]]\nname = "rift"\naddress = "127.0.0.1:1"\n',
  );
  await writeFile(path.join(dir, "token"), "bench-token\n");
  const env = {
    PATH: process.env.PATH ?? "",
    MCP_CONFIG: path.join(dir, "mcp.toml"),
    NO_COLOR: "1",
  };

  const baseline = median(time(["-e", "0"], env, 0));
  const help = median(time([bin, "--help"], env, 0));
  const version = median(time([bin, "--version"], env, 0));
  const ps = median(time([bin, "ps"], env, 3));

  const figures = [
    {
      metric: "mcp --help, median wall time",
      value: round(help),
      unit: "ms",
      target: 150,
      baseline: round(baseline),
      ratio: round(help / baseline),
    },
    {
      metric: "mcp --version, median wall time",
      value: round(version),
      unit: "ms",
      baseline: round(baseline),
      ratio: round(version / baseline),
    },
    {
      metric: "mcp ps to a refusing node (config, token, Connect, TLS loaded), median",
      value: round(ps),
      unit: "ms",
      baseline: round(baseline),
      ratio: round(ps / baseline),
    },
    { metric: "node -e 0, median wall time", value: round(baseline), unit: "ms" },
  ];
  for (const f of figures)
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${f.baseline !== undefined ? ` (node -e 0: ${f.baseline} ms)` : ""}`,
    );
  await writeFile(
    path.join(here, "results", "cli-startup.json"),
    `${JSON.stringify({ name: "cli-startup", figures }, null, 2)}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
