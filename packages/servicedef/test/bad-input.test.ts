import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { isLoadError, loadFile, parse, parseBytes } from "../src/index.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "servicedef-bad-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bad input gets one clear diagnostic or error, never a crash", () => {
  test("invalid UTF-8 names the byte and its position", () => {
    const bytes = Buffer.concat([
      Buffer.from('name = "svc"\nnode = "ri'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('ft"\n'),
    ]);
    const r = parseBytes(bytes);
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toEqual([
      {
        code: "SD002",
        rule: "encoding",
        severity: "error",
        message: "not valid UTF-8: byte 0xff at offset 23",
        path: "",
        line: 2,
        column: 11,
      },
    ]);
  });

  test("overlong encodings and surrogates are invalid UTF-8", () => {
    for (const bad of [
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
    ]) {
      expect(parseBytes(Uint8Array.from(bad)).diagnostics[0]?.code).toBe("SD002");
    }
    expect(parseBytes(Buffer.from('name = "☃ü𝄞"\n')).diagnostics.map((d) => d.code)).not.toContain(
      "SD002",
    );
  });

  test("a 10 MB file is refused without being parsed", async () => {
    const file = join(dir, "huge.toml");
    await writeFile(file, `# ${"x".repeat(10 * 1024 * 1024)}\n`);
    const started = performance.now();
    const r = await loadFile(file);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["SD003"]);
    expect(parse("#".repeat(10 * 1024 * 1024)).diagnostics.map((d) => d.code)).toEqual(["SD003"]);
  });

  test("deeply nested arrays and inline tables", () => {
    const arrays = `name = ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`;
    expect(parse(arrays).diagnostics.map((d) => d.code)).toEqual(["SD001"]);
    const inline = `a = ${"{ b = ".repeat(10_000)}1${" }".repeat(10_000)}\n`;
    expect(parse(inline).diagnostics.map((d) => d.code)).toEqual(["SD001"]);
  });

  test("deeply nested tables by header and by dotted key", () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`).join(".");
    const header = parse(`name = "svc"\nnode = "rift"\n[${keys}]\nx = 1\n`);
    expect(header.diagnostics.map((d) => `${d.code} ${d.path} ${d.line}:${d.column}`)).toContain(
      "SD004 k0 3:2",
    );
    const dotted = parse(`name = "svc"\nnode = "rift"\n${keys} = 1\n`);
    expect(dotted.diagnostics.map((d) => `${d.code} ${d.path} ${d.line}:${d.column}`)).toContain(
      "SD004 k0 3:1",
    );
  });

  test("a nonexistent file, a directory, a FIFO and a dangling symlink are LoadErrors", async () => {
    await mkdir(join(dir, "adir.toml"));
    await symlink(join(dir, "nowhere"), join(dir, "dangling.toml"));
    execFileSync("mkfifo", [join(dir, "fifo.toml")]);
    const cases: [string, RegExp][] = [
      ["missing.toml", /no such file/],
      ["adir.toml", /is a directory/],
      ["dangling.toml", /dangling symlink/],
      ["fifo.toml", /not a regular file/],
    ];
    for (const [name, message] of cases) {
      const error = await loadFile(join(dir, name)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLoadError(error), name).toBe(true);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain(join(dir, name));
    }
  });

  test("a byte-order mark is accepted", () => {
    const r = parse(
      '\uFEFFname = "svc"\nnode = "rift"\n[[components]]\nname = "api"\nimage = "svc:v1.0.0"\n',
    );
    expect(r.ok).toBe(true);
  });
});
