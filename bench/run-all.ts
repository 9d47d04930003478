// `pnpm bench`: runs every bench/*.bench.ts (or those named on the command line) one after
// another, then gathers bench/results/*.json into one report (markdown and JSON) that puts
// each figure beside its target and its baseline measured in the same run.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

interface Figure {
  metric: string;
  value: number | string;
  unit: string;
  target?: number | string;
  baseline?: number;
  ratio?: number;
  better?: "lower" | "higher";
}
interface Result {
  name: string;
  figures: Figure[];
}

const here = new URL(".", import.meta.url).pathname;
const resultsDir = join(here, "results");
// `--report-only` rebuilds the report from the results already on disk, running nothing.
const reportOnly = process.argv.includes("--report-only");
const wanted = process.argv.slice(2).filter((a) => a !== "--report-only");
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter(() => !reportOnly)
  .filter((f) => wanted.length === 0 || wanted.includes(basename(f, ".bench.ts")))
  .sort();

const failed: string[] = [];
for (const file of benches) {
  process.stderr.write(`\n== ${file}\n`);
  // Benchmarks are bounded by their own loops; the cap only guards against a hung peer.
  const run = spawnSync(process.execPath, [join(here, file)], {
    stdio: "inherit",
    timeout: 15 * 60_000,
  });
  if (run.status !== 0) failed.push(`${file} (exit ${run.status ?? run.signal})`);
}

const results: Result[] = readdirSync(resultsDir)
  .filter((f) => f.endsWith(".json") && f !== "report.json")
  .sort()
  .map((f) => JSON.parse(readFileSync(join(resultsDir, f), "utf8")) as Result);

function meets(f: Figure): string {
  // A target given as text ("ratio < 1.5") is shown, not judged.
  if (typeof f.target !== "number") return "";
  const ok = f.better === "higher" ? Number(f.value) >= f.target : Number(f.value) <= f.target;
  return ok ? "yes" : "**no**";
}
// Some benchmarks report a value as text (e.g. "n/a" when a peer is missing); show it as is.
const num = (n: unknown) =>
  typeof n === "number" ? String(Number(n.toPrecision(4))) : n === undefined ? "" : String(n);

const lines = [
  "# Benchmark report",
  "",
  `Generated ${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}.`,
  "Reproduce: `. ./env.sh && pnpm bench` (or `pnpm bench <name>` for one).",
  "",
  "| benchmark | metric | value | unit | target | meets | baseline | ratio |",
  "| --- | --- | ---: | --- | ---: | --- | ---: | ---: |",
];
for (const r of results) {
  for (const f of r.figures) {
    lines.push(
      `| ${r.name} | ${f.metric} | ${num(f.value)} | ${f.unit} | ${num(f.target)} | ${meets(f)} | ${num(f.baseline)} | ${num(f.ratio)} |`,
    );
  }
}
if (failed.length > 0) lines.push("", `Benchmarks that failed to run: ${failed.join(", ")}`);
writeFileSync(join(resultsDir, "report.md"), `${lines.join("\n")}\n`);
// docs/performance.md shows the latest report between its markers; the prose around stays.
const perfDoc = join(here, "..", "docs", "performance.md");
const start = "<!-- report:start -->";
const end = "<!-- report:end -->";
const doc = readFileSync(perfDoc, "utf8");
const a = doc.indexOf(start);
const b = doc.indexOf(end);
if (a >= 0 && b > a) {
  const table = lines.slice(lines.findIndex((l) => l.startsWith("Generated")));
  writeFileSync(perfDoc, `${doc.slice(0, a + start.length)}\n${table.join("\n")}\n${doc.slice(b)}`);
}
writeFileSync(join(resultsDir, "report.json"), `${JSON.stringify({ results, failed }, null, 2)}\n`);
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(failed.length > 0 ? 1 : 0);
