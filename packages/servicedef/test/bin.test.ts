// The bin as a user runs it: a real subprocess of the built dist/bin.js (turbo builds
// before testing), real files in a temporary directory.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const INVALID =
  'name = "svc"\nnode = "rift"\ncompnents = []\n\n[[components]]\nname = "api"\nimage = "svc:latest"\n';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "servicedef-bin-"));
  mkdirSync(join(dir, "nested", "deeper"), { recursive: true });
  cpSync(join(EXAMPLES, "minimal-l7.toml"), join(dir, "nested", "deeper", "ok.toml"));
  writeFileSync(join(dir, "nested", "notes.txt"), "not toml, ignored");
  writeFileSync(join(dir, "bad.toml"), INVALID);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("mcp-servicedef lint", { timeout: 60_000 }, () => {
  test("examples/ is valid: exit 0", () => {
    const r = run(["lint", EXAMPLES]);
    // Every *.toml below examples/ (the demo adds one in a subfolder) is checked.
    const count = readdirSync(EXAMPLES, { recursive: true }).filter((f) =>
      String(f).endsWith(".toml"),
    ).length;
    expect(count).toBeGreaterThanOrEqual(7);
    expect(r.stderr).toBe(`${count} files checked, 0 invalid, 0 errors, 0 warnings\n`);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(0);
  });

  test("an invalid file: exit 1, compiler-style lines, summary on stderr", () => {
    const r = run(["lint", join(dir, "bad.toml")]);
    expect(r.code).toBe(1);
    const file = join(dir, "bad.toml");
    expect(r.stdout.split("\n").filter(Boolean)).toEqual([
      `${file}:3:1: SD004 error: unknown key "compnents"; did you mean "components"? (at compnents)`,
      `${file}:7:9: SD014 error: image "svc:latest" uses :latest; pin a semver tag such as :v1.0.0 (at components[0].image)`,
    ]);
    expect(r.stderr).toBe("1 file checked, 1 invalid, 2 errors, 0 warnings\n");
  });

  test("directories are searched recursively for *.toml; --json shape", () => {
    const r = run(["lint", "--json", dir]);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as {
      file: string;
      valid: boolean;
      diagnostics: Record<string, unknown>[];
    }[];
    expect(out.map((e) => [e.file, e.valid])).toEqual([
      [join(dir, "bad.toml"), false],
      [join(dir, "nested", "deeper", "ok.toml"), true],
    ]);
    expect(out[0]?.diagnostics[0]).toEqual({
      code: "SD004",
      severity: "error",
      message: 'unknown key "compnents"; did you mean "components"?',
      path: "compnents",
      line: 3,
      column: 1,
    });
  });

  test("a nonexistent path, a dangling symlink and a FIFO: exit 2, the others still linted", () => {
    const d = mkdtempSync(join(dir, "io-"));
    cpSync(join(EXAMPLES, "minimal-l7.toml"), join(d, "good.toml"));
    symlinkSync(join(d, "nowhere"), join(d, "dangling.toml"));
    spawnSync("mkfifo", [join(d, "fifo.toml")]);
    const r = run(["lint", "--json", d, join(dir, "missing.toml")]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { file: string; valid: boolean; error?: string }[];
    expect(out).toEqual(
      expect.arrayContaining([
        {
          file: join(dir, "missing.toml"),
          valid: false,
          diagnostics: [],
          error: "no such file or directory",
        },
        {
          file: join(d, "dangling.toml"),
          valid: false,
          diagnostics: [],
          error: "no such file (or a dangling symlink)",
        },
        { file: join(d, "fifo.toml"), valid: false, diagnostics: [], error: "not a regular file" },
        { file: join(d, "good.toml"), valid: true, diagnostics: [] },
      ]),
    );
    const human = run(["lint", d]);
    expect(human.code).toBe(2);
    expect(human.stderr).toContain(
      `mcp-servicedef: ${join(d, "dangling.toml")}: no such file (or a dangling symlink)`,
    );
    expect(human.stderr).toMatch(
      /1 file checked, 0 invalid, 0 errors, 0 warnings, 2 unreadable\n$/,
    );
  });

  test("usage errors: exit 2", () => {
    expect(run([]).code).toBe(2);
    expect(run(["lint"]).code).toBe(2);
    const r = run(["lnt", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("mcp-servicedef:");
  });

  test("colour only when asked for, never with NO_COLOR", () => {
    const plain = run(["lint", join(dir, "bad.toml")]);
    expect(plain.stdout).not.toContain("\u001b[");
    const forced = run(["lint", join(dir, "bad.toml")], { NO_COLOR: "", FORCE_COLOR: "1" });
    expect(forced.stdout).toContain("\u001b[31merror");
  });
});

describe("mcp-servicedef fmt", { timeout: 60_000 }, () => {
  test("--check lists files that would change and exits 1; fmt rewrites; then --check passes", () => {
    const d = mkdtempSync(join(dir, "fmt-"));
    const file = join(d, "svc.toml");
    const messy =
      '# header kept\nnode="rift"\nname   =   "svc"\nactive = true\n[[components]]\nimage="svc:v1.0.0"\nname="api"\n';
    writeFileSync(file, messy);
    const check = run(["fmt", "--check", d]);
    expect(check.code).toBe(1);
    expect(check.stdout).toBe(`${file}\n`);
    expect(readFileSync(file, "utf8")).toBe(messy);
    expect(run(["fmt", file]).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(
      '# header kept\nname = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "svc:v1.0.0"\n',
    );
    expect(run(["fmt", "--check", file]).code).toBe(0);
  });

  test("refuses to drop comments and to format invalid files", () => {
    const d = mkdtempSync(join(dir, "fmt2-"));
    const commented = join(d, "c.toml");
    const src =
      'name = "svc"\nnode  = "rift" # where it runs\n[[components]]\nname = "api"\nimage = "svc:v1.0.0"\n';
    writeFileSync(commented, src);
    writeFileSync(join(d, "bad.toml"), INVALID);
    const r = run(["fmt", d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("would drop the comments on line 2");
    expect(r.stdout).toContain("SD004");
    expect(readFileSync(commented, "utf8")).toBe(src);
  });

  test("the examples are already canonical", () => {
    expect(run(["fmt", "--check", EXAMPLES]).code).toBe(0);
  });
});

describe("mcp-servicedef schema and completion", { timeout: 60_000 }, () => {
  test("schema prints the shipped JSON Schema", () => {
    const r = run(["schema"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(
      JSON.parse(readFileSync(new URL("../dist/schema.json", import.meta.url), "utf8")),
    );
  });

  test("completion prints a shell script", () => {
    const r = run(["completion"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("mcp-servicedef");
  });
});
