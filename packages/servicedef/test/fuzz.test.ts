import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parse, parseBytes, validate } from "../src/index.ts";

const dir = new URL("../../../examples/", import.meta.url);
const examples = readdirSync(dir)
  .filter((f) => f.endsWith(".toml"))
  .map((f) => readFileSync(new URL(f, dir), "utf8"));

function checkResult(r: ReturnType<typeof parse>, text: string): void {
  expect(Array.isArray(r.diagnostics)).toBe(true);
  expect(r.ok).toBe(!r.diagnostics.some((d) => d.severity === "error"));
  if (!r.ok) expect(r.value).toBeUndefined();
  const lines = text.split("\n").length;
  for (const d of r.diagnostics) {
    expect(d.line).toBeGreaterThanOrEqual(1);
    expect(d.line).toBeLessThanOrEqual(lines);
    expect(d.column).toBeGreaterThanOrEqual(1);
    expect(d.code).toMatch(/^SD\d{3}$/);
  }
}

/** Small edits an operator (or a bad merge) makes: delete, insert, duplicate, swap. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 20 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    s: fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 8 }),
      fc.constantFrom(
        "[",
        "]",
        "[[",
        "=",
        '"',
        "'''",
        '"""',
        "\n",
        "#",
        ",",
        "{",
        "}",
        ".",
        "\\",
        "0x",
        "1e9",
        "inf",
        "\u0000",
      ),
    ),
  }),
  fc.record({ kind: fc.constant("dupline" as const), at: fc.nat() }),
);

function mutate(
  text: string,
  ms: fc.Arbitrary<typeof mutation extends fc.Arbitrary<infer T> ? T : never>[] | unknown[],
): string {
  let t = text;
  for (const m of ms as { kind: string; at: number; len?: number; s?: string }[]) {
    const at = t.length === 0 ? 0 : m.at % t.length;
    if (m.kind === "delete") t = t.slice(0, at) + t.slice(at + (m.len ?? 1));
    else if (m.kind === "insert") t = t.slice(0, at) + (m.s ?? "") + t.slice(at);
    else {
      const lines = t.split("\n");
      const i = lines.length === 0 ? 0 : m.at % lines.length;
      lines.splice(i, 0, lines[i] ?? "");
      t = lines.join("\n");
    }
  }
  return t;
}

describe("no input makes parse throw or hang", { timeout: 60_000 }, () => {
  test("arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 300 }), (t) => checkResult(parse(t), t)),
      { numRuns: 1000 },
    );
  });

  test("arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const r = parseBytes(b);
        expect(Array.isArray(r.diagnostics)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  test("mutated examples", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...examples),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (src, ms) => {
          const t = mutate(src, ms);
          checkResult(parse(t), t);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test("arbitrary objects through validate", () => {
    fc.assert(
      fc.property(
        fc.anything({
          withDate: true,
          withBigInt: true,
          withNullPrototype: true,
          withSparseArray: true,
        }),
        (o) => {
          const r = validate(o);
          expect(r.ok).toBe(false);
          expect(r.diagnostics.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  test("shapes close to a definition through validate", () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.double(),
      fc.date(),
    );
    const obj = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom(
            "name",
            "node",
            "image",
            "routes",
            "port",
            "mode",
            "health",
            "type",
            "components",
            "build",
            "images",
            "env",
          ),
          tie("node"),
          { maxKeys: 4 },
        ),
      ),
    })).node;
    fc.assert(
      fc.property(obj, (o) => {
        const r = validate({ name: "svc", node: "rift", components: [o] });
        expect(Array.isArray(r.diagnostics)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
