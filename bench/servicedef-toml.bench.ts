// Which TOML parser @mcp/servicedef uses: @iarna/toml (named by the design card) against
// smol-toml, measured on what the linter needs (docs/decisions/0001-toml-parser.md):
//   1. compliance on tricky inputs: TOML 1.0 cases each parser must accept (with the right
//      value) or reject, and TOML 1.1 additions reported separately;
//   2. where a syntax error is reported (line and column against the true spot);
//   3. speed: parsing the example definitions, and a large document;
//   4. import cost in a fresh node process.
// Run: . ./env.sh && node bench/servicedef-toml.bench.ts

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import iarna from "@iarna/toml";
import * as smol from "smol-toml";

const here = dirname(fileURLToPath(import.meta.url));

interface Parser {
  name: string;
  parse(text: string): unknown;
  /** 1-based line and column of a syntax error. */
  position(e: unknown): { line: number; column: number } | undefined;
}

const parsers: Parser[] = [
  {
    name: "smol-toml",
    parse: (t) => smol.parse(t),
    position: (e) => {
      const x = e as { line?: number; column?: number };
      return typeof x.line === "number" && typeof x.column === "number"
        ? { line: x.line, column: x.column }
        : undefined;
    },
  },
  {
    name: "@iarna/toml",
    parse: (t) => iarna.parse(t),
    // iarna counts lines and columns from 0.
    position: (e) => {
      const x = e as { line?: number; col?: number };
      return typeof x.line === "number" && typeof x.col === "number"
        ? { line: x.line + 1, column: x.col + 1 }
        : undefined;
    },
  },
];

/** Plain data for comparison: dates as ISO strings or their TOML text, bigints as strings. */
function plain(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plain(x);
    return o;
  }
  return v;
}

type Case =
  | { name: string; toml: string; valid: true; value?: unknown }
  | { name: string; toml: string; valid: false };

// TOML 1.0.0. Each case states what a compliant parser does.
const v10: Case[] = [
  {
    name: "mixed-type array (allowed since 1.0.0)",
    toml: 'a = [1, "x"]',
    valid: true,
    value: { a: [1, "x"] },
  },
  { name: "underscores in integers", toml: "a = 1_000", valid: true, value: { a: 1000 } },
  {
    name: "hex, octal, binary",
    toml: "a = 0xff\nb = 0o17\nc = 0b101",
    valid: true,
    value: { a: 255, b: 15, c: 5 },
  },
  { name: "leading zero is invalid", toml: "a = 01", valid: false },
  { name: "underscore after prefix is invalid", toml: "a = 0x_ff", valid: false },
  { name: "int64 overflow is invalid", toml: "a = 9223372036854775808", valid: false },
  {
    name: "float forms",
    toml: "a = 1e+05\nb = -0.0\nc = 6.626e-34",
    valid: true,
    value: { a: 100000, b: -0, c: 6.626e-34 },
  },
  { name: ".5 is invalid", toml: "a = .5", valid: false },
  { name: "5. is invalid", toml: "a = 5.", valid: false },
  {
    name: "inf and nan",
    toml: "a = inf\nb = -inf",
    valid: true,
    value: { a: Number.POSITIVE_INFINITY, b: Number.NEGATIVE_INFINITY },
  },
  { name: "redefined key", toml: "a = 1\na = 2", valid: false },
  { name: "duplicate table", toml: "[a]\n[a]", valid: false },
  {
    name: "super-table after sub-table",
    toml: "[a.b]\nc = 1\n[a]\nd = 2",
    valid: true,
    value: { a: { b: { c: 1 }, d: 2 } },
  },
  { name: "table defined by dotted keys, then by header", toml: "a.b = 1\n[a]", valid: false },
  { name: "inline table cannot be extended", toml: "a = {b = 1}\n[a.c]", valid: false },
  { name: "static array cannot be appended by [[ ]]", toml: "a = []\n[[a]]", valid: false },
  {
    name: "array of tables with sub-tables",
    toml: "[[a]]\n[a.b]\nc = 1\n[[a]]",
    valid: true,
    value: { a: [{ b: { c: 1 } }, {}] },
  },
  {
    name: "whitespace in a table header",
    toml: "[ a . b ]\nc = 1",
    valid: true,
    value: { a: { b: { c: 1 } } },
  },
  { name: "empty quoted key", toml: '"" = 1', valid: true, value: { "": 1 } },
  { name: "line-ending backslash", toml: 'a = """x\\\n   y"""', valid: true, value: { a: "xy" } },
  {
    name: "quotes right before the closing delimiter",
    toml: 'a = """a""""',
    valid: true,
    value: { a: 'a"' },
  },
  { name: "unknown escape is invalid", toml: 'a = "\\q"', valid: false },
  { name: "raw control character is invalid", toml: 'a = "x\u0001y"', valid: false },
  { name: "raw tab is allowed", toml: 'a = "x\ty"', valid: true, value: { a: "x\ty" } },
  { name: "CRLF line endings", toml: "a = 1\r\nb = 2\r\n", valid: true, value: { a: 1, b: 2 } },
  { name: "lone CR is invalid", toml: "a = 1\rb = 2", valid: false },
  {
    name: "offset date-time",
    toml: "a = 1979-05-27T07:32:00Z",
    valid: true,
    value: { a: "1979-05-27T07:32:00.000Z" },
  },
  { name: "key without value", toml: "a =", valid: false },
  { name: "unterminated string", toml: 'a = "x', valid: false },
  {
    name: "integer beyond 2^53 keeps its value (or is refused, never rounded)",
    toml: "a = 9007199254740993",
    valid: true,
    value: { a: "9007199254740993" },
  },
];

// TOML 1.1.0 additions (smol-toml claims 1.1; @iarna/toml predates it).
const v11: Case[] = [
  { name: "\\e escape", toml: 'a = "\\e"', valid: true, value: { a: "\u001b" } },
  { name: "\\xHH escape", toml: 'a = "\\x41"', valid: true, value: { a: "A" } },
  {
    name: "newlines in an inline table",
    toml: "a = {\nb = 1\n}",
    valid: true,
    value: { a: { b: 1 } },
  },
  {
    name: "trailing comma in inline table",
    toml: "a = {b = 1,}",
    valid: true,
    value: { a: { b: 1 } },
  },
  { name: "time without seconds", toml: "a = 07:32", valid: true },
];

function score(p: Parser, cases: Case[]): { passed: number; failures: string[] } {
  const failures: string[] = [];
  for (const c of cases) {
    let value: unknown;
    let threw = false;
    try {
      value = plain(p.parse(c.toml));
    } catch {
      threw = true;
    }
    if (!c.valid) {
      if (!threw) failures.push(`${c.name}: accepted`);
    } else if (threw) {
      // A refusal beats a silently wrong value for the 2^53 case.
      if (!c.name.startsWith("integer beyond")) failures.push(`${c.name}: rejected`);
    } else if (c.value !== undefined && !isDeepStrictEqual(value, c.value)) {
      failures.push(`${c.name}: got ${JSON.stringify(value)}`);
    }
  }
  return { passed: cases.length - failures.length, failures };
}

// Syntax errors with the position an operator should be sent to.
const errors: { toml: string; line: number; column: number }[] = [
  { toml: 'name = "svc"\nnode = = "rift"\n', line: 2, column: 8 },
  { toml: 'name = "svc"\n\n[[components]]\nname = "api\n', line: 4, column: 8 },
  { toml: "a = 1\na = 2\n", line: 2, column: 1 },
  { toml: 'a = "ok"\nb = "\\q"\n', line: 2, column: 6 },
  { toml: "[a]\nx = 1\n[a]\n", line: 3, column: 1 },
  { toml: "ports = [1, 2\nmode = 3\n", line: 2, column: 1 },
  { toml: "port = 8443x\n", line: 1, column: 8 },
];

function errorPositions(p: Parser): { exactLine: number; exact: number; report: string[] } {
  let exactLine = 0;
  let exact = 0;
  const report: string[] = [];
  for (const e of errors) {
    try {
      p.parse(e.toml);
      report.push(`accepted ${JSON.stringify(e.toml)}`);
    } catch (err) {
      const pos = p.position(err);
      if (pos?.line === e.line) exactLine++;
      if (pos?.line === e.line && pos.column === e.column) exact++;
      report.push(
        `${JSON.stringify(e.toml)}: want ${e.line}:${e.column}, got ${pos ? `${pos.line}:${pos.column}` : "none"}`,
      );
    }
  }
  return { exactLine, exact, report };
}

/** Best of 7 trials of ~150 ms each: the machine is shared, and the minimum is what the code costs. */
function time(fn: () => void, trialMs = 150): number {
  for (let i = 0; i < 20; i++) fn();
  let best = Number.POSITIVE_INFINITY;
  for (let t = 0; t < 7; t++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < trialMs) {
      fn();
      n++;
    }
    best = Math.min(best, (performance.now() - start) / n);
  }
  return best;
}

function importMs(spec: string): number {
  const runs: number[] = [];
  for (let i = 0; i < 9; i++) {
    const out = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const t=performance.now(); await import(${JSON.stringify(spec)}); console.log(performance.now()-t)`,
      ],
      { cwd: here, encoding: "utf8" },
    );
    runs.push(Number(out.trim()));
  }
  // Best of 9, for the same reason as time().
  return Math.min(...runs);
}

const examplesDir = join(here, "..", "examples");
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith(".toml"))
  .map((f) => readFileSync(join(examplesDir, f), "utf8"));
const big = Array.from(
  { length: 400 },
  (_, i) =>
    `[[components]]\nname = "c${i}"\nimage = "mcr.svc.mcp.metacircular.net:8443/svc${i}:v1.${i}.0"\nvolumes = ["/srv/a:/srv/a", "/srv/b:/srv/b:ro"]\ncmd = ["server", "--config", "/srv/a/a.toml"]\nenv = ["A=1", "B=two words"]\n\n[[components.routes]]\nname = "rest"\nport = ${1000 + i}\nmode = "l4"\n`,
).join("\n");

const figures: {
  metric: string;
  value: number;
  unit: string;
  target?: number;
  baseline?: number;
  ratio?: number;
}[] = [];
const round = (n: number, d = 3) => Math.round(n * 10 ** d) / 10 ** d;
const results: Record<string, unknown> = {};

for (const p of parsers) {
  const c10 = score(p, v10);
  const c11 = score(p, v11);
  const pos = errorPositions(p);
  const perExample =
    time(() => {
      for (const e of examples) p.parse(e);
    }) / examples.length;
  const bigMs = time(() => p.parse(big));
  const imp = importMs(p.name);
  results[p.name] = {
    toml10Failures: c10.failures,
    toml11Failures: c11.failures,
    errorPositions: pos.report,
  };
  figures.push(
    {
      metric: `${p.name}: TOML 1.0 tricky cases handled (of ${v10.length})`,
      value: c10.passed,
      unit: "cases",
      target: v10.length,
    },
    {
      metric: `${p.name}: TOML 1.1 additions handled (of ${v11.length})`,
      value: c11.passed,
      unit: "cases",
    },
    {
      metric: `${p.name}: syntax errors on the right line (of ${errors.length})`,
      value: pos.exactLine,
      unit: "cases",
    },
    {
      metric: `${p.name}: syntax errors at the exact line:column (of ${errors.length})`,
      value: pos.exact,
      unit: "cases",
    },
    {
      metric: `${p.name}: parse one example definition (best of 7 trials)`,
      value: round(perExample * 1000, 1),
      unit: "µs",
    },
    {
      metric: `${p.name}: parse a ${Math.round(big.length / 1024)} KiB document (best of 7 trials)`,
      value: round(bigMs, 2),
      unit: "ms",
    },
    {
      metric: `${p.name}: import in a fresh node process (best of 9)`,
      value: round(imp, 1),
      unit: "ms",
    },
  );
}

const [s, i] = [
  figures.find((f) => f.metric.startsWith("smol-toml: parse one")),
  figures.find((f) => f.metric.startsWith("@iarna/toml: parse one")),
];
if (s && i) {
  s.baseline = i.value;
  s.ratio = round(s.value / i.value, 2);
}

for (const f of figures) console.log(`${f.metric}: ${f.value} ${f.unit}`);
console.log(JSON.stringify(results, null, 2));
writeFileSync(
  join(here, "results", "servicedef-toml.json"),
  `${JSON.stringify({ name: "servicedef-toml", figures, details: results }, null, 2)}\n`,
);
