// Regenerates the code into a temporary directory and compares it with gen/, so CI
// fails when someone edits a .proto file and forgets `pnpm generate` (or edits gen/
// by hand). Runs buf and protoc-gen-es from this package's node_modules: no network.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(pkg, "node_modules", ".bin");
const tmp = mkdtempSync(join(tmpdir(), "mcp-proto-"));

function list(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

try {
  const template = readFileSync(join(pkg, "buf.gen.yaml"), "utf8").replace(
    /out: gen\b/g,
    `out: ${join(tmp, "gen")}`,
  );
  const templatePath = join(tmp, "buf.gen.yaml");
  writeFileSync(templatePath, template);
  execFileSync(join(bin, "buf"), ["generate", "--template", templatePath], {
    cwd: pkg,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
  });
  const want = list(join(tmp, "gen"));
  const have = list(join(pkg, "gen"));
  const problems = [];
  for (const f of want) {
    if (!have.includes(f)) problems.push(`missing: gen/${f}`);
    else if (
      readFileSync(join(tmp, "gen", f), "utf8") !== readFileSync(join(pkg, "gen", f), "utf8")
    )
      problems.push(`stale: gen/${f}`);
  }
  for (const f of have) if (!want.includes(f)) problems.push(`extra: gen/${f}`);
  if (problems.length > 0) {
    console.error(`generated code is out of date; run \`pnpm --filter @mcp/proto generate\`:`);
    for (const p of problems) console.error(`  ${p}`);
    process.exitCode = 1;
  } else {
    console.log(`gen/ is up to date (${want.length} files)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
