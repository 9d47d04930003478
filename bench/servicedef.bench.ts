// @mcp/servicedef: what linting costs.
//   1. Lint 1,000 definitions in one process (parse + validate, positions included), both
//      in memory and as `mcp-servicedef lint <dir>` over 1,000 files (process start included).
//      Target: under 1 s on this 2-core machine.
//   2. Importing the package in a fresh node process, against `node -e 0` (target: < 30 ms).
//   3. Start-up of the bin (`mcp-servicedef --help`).
// Run: . ./env.sh && pnpm --filter @mcp/servicedef build && node bench/servicedef.bench.ts

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "@mcp/servicedef";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "packages", "servicedef", "dist", "bin.js");
const examplesDir = join(here, "..", "examples");
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith(".toml"))
  .map((f) => readFileSync(join(examplesDir, f), "utf8"));

// 1,000 definitions: the examples under new names, one in ten with mistakes to report.
const defs = Array.from({ length: 1000 }, (_, i) => {
  const text = (examples[i % examples.length] as string).replace(
    /^name = "([^"]+)"/m,
    `name = "svc${i}"`,
  );
  return i % 10 === 9
    ? text
        .replace('mode = "l4"', 'mode = "l5"')
        .replace(/:v1\.\d+\.\d+"/, ':latest"')
        .concat('\ncompnents = "x"\n')
    : text;
});

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function lintInMemory(): number {
  const start = performance.now();
  let diagnostics = 0;
  for (const d of defs) diagnostics += parse(d).diagnostics.length;
  if (diagnostics < 100) throw new Error("the invalid definitions were not reported");
  return performance.now() - start;
}
lintInMemory(); // warm-up
const inMemoryRuns = Array.from({ length: 7 }, lintInMemory);
const inMemory = median(inMemoryRuns);
const inMemoryBest = Math.min(...inMemoryRuns);

const dir = mkdtempSync(join(tmpdir(), "servicedef-bench-"));
let cliMs: number;
let cliCpuMs: number | undefined;
try {
  for (const [i, d] of defs.entries()) writeFileSync(join(dir, `svc${i}.toml`), d);
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const r = spawnSync(process.execPath, [bin, "lint", dir], { encoding: "utf8" });
    runs.push(performance.now() - start);
    if (r.status !== 1) throw new Error(`lint exited ${r.status}: ${r.stderr}`);
  }
  cliMs = median(runs);
  // CPU time of the same run: on a shared machine the wall clock mostly measures the queue.
  if (existsSync("/usr/bin/time")) {
    const cpu: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = spawnSync("/usr/bin/time", ["-f", "%U %S", process.execPath, bin, "lint", dir], {
        encoding: "utf8",
      });
      const [user, sys] = (r.stderr.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
      cpu.push(((user ?? 0) + (sys ?? 0)) * 1000);
    }
    cliCpuMs = Math.min(...cpu);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function wall(args: string[], runs = 21): number {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    execFileSync(process.execPath, args, { cwd: here, stdio: "ignore" });
    xs.push(performance.now() - start);
  }
  // Best of N: the machine is shared, and queueing only ever adds time.
  return Math.min(...xs);
}

function inProcessImport(spec: string, runs = 21): { median: number; min: number } {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const t = performance.now(); await import(${JSON.stringify(spec)}); console.log(performance.now() - t)`,
      ],
      { cwd: here, encoding: "utf8" },
    );
    xs.push(Number(out.trim()));
  }
  return { median: median(xs), min: Math.min(...xs) };
}

// Interleave baseline and subject so that machine noise hits both alike.
const baseline = wall(["-e", "0"]);
const withImport = wall(["--input-type=module", "-e", 'await import("@mcp/servicedef")']);
const baseline2 = wall(["-e", "0"]);
const esmBaseline = wall(["--input-type=module", "-e", "await 0"]);
const base = Math.min(baseline, baseline2);
const importInProcess = inProcessImport("@mcp/servicedef");
const help = wall([bin, "--help"], 11);

const figures = [
  {
    metric: "lint 1,000 definitions in one process (parse + validate, in memory, median of 7)",
    value: round(inMemory),
    unit: "ms",
    target: 1000,
  },
  {
    metric: "lint 1,000 definitions in one process (in memory, best of 7)",
    value: round(inMemoryBest),
    unit: "ms",
    target: 1000,
  },
  {
    metric: "mcp-servicedef lint <dir of 1,000 files> (process start included)",
    value: round(cliMs),
    unit: "ms",
    target: 1000,
  },
  ...(cliCpuMs === undefined
    ? []
    : [
        {
          metric: "mcp-servicedef lint <dir of 1,000 files>: CPU time, user + sys (best of 5)",
          value: round(cliCpuMs),
          unit: "ms",
          target: 1000,
        },
      ]),
  {
    metric: "per definition, in memory (median)",
    value: round((inMemory / defs.length) * 1000),
    unit: "µs",
  },
  {
    metric:
      "import @mcp/servicedef in a fresh process (wall clock above node -e 0, best of 21 each)",
    value: round(withImport - base),
    unit: "ms",
    target: 30,
    baseline: round(base),
    ratio: round(withImport / base, 2),
  },
  {
    metric:
      "import @mcp/servicedef in a fresh process (wall clock above an ES-module node -e, best of 21 each)",
    value: round(withImport - esmBaseline),
    unit: "ms",
    target: 30,
    baseline: round(esmBaseline),
    ratio: round(withImport / esmBaseline, 2),
  },
  {
    metric: "import @mcp/servicedef measured inside the process (median of 21)",
    value: round(importInProcess.median),
    unit: "ms",
    target: 30,
  },
  {
    metric: "import @mcp/servicedef measured inside the process (best of 21)",
    value: round(importInProcess.min),
    unit: "ms",
    target: 30,
  },
  {
    metric: "mcp-servicedef --help (wall clock, best of 11)",
    value: round(help),
    unit: "ms",
    baseline: round(base),
    ratio: round(help / base, 2),
  },
];
for (const f of figures)
  console.log(`${f.metric}: ${f.value} ${f.unit}${"target" in f ? ` (target < ${f.target})` : ""}`);
writeFileSync(
  join(here, "results", "servicedef.json"),
  `${JSON.stringify({ name: "servicedef", figures }, null, 2)}\n`,
);
