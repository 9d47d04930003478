import fc from "fast-check";
import { parse as parseToml, stringify } from "smol-toml";
import { describe, expect, test } from "vitest";
import { format } from "../src/index.ts";
import { joinPath, type PathSegment, scanPositions } from "../src/positions.ts";
import { serviceDef } from "./arbitraries.ts";

/** Every leaf of a value with its path. */
function leaves(v: unknown, path: PathSegment[] = []): [PathSegment[], unknown][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v && typeof v === "object") {
    return Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .flatMap(([k, x]) => leaves(x, [...path, k]));
  }
  return [[path, v]];
}

/** The TOML text of a scalar as both writers produce it for these values. */
function startsLikeValue(text: string, value: unknown): boolean {
  if (typeof value === "string") return text.startsWith('"');
  return text.startsWith(String(value));
}

function checkEveryLeaf(text: string, value: unknown): void {
  const lines = text.split("\n");
  const map = scanPositions(text);
  for (const [path, leaf] of leaves(value)) {
    const key = joinPath(path);
    const entry = map.get(key);
    expect(entry?.value, `no position for ${key} in\n${text}`).toBeDefined();
    const { line, column } = entry!.value as { line: number; column: number };
    const at = (lines[line - 1] ?? "").slice(column - 1);
    expect(startsLikeValue(at, leaf), `${key} at ${line}:${column} is "${at}"`).toBe(true);
    const last = path.at(-1);
    if (typeof last === "string" && entry?.key) {
      const k = (lines[entry.key.line - 1] ?? "").slice(entry.key.column - 1);
      expect(k.startsWith(last) || k.startsWith(JSON.stringify(last)), `key ${key} at "${k}"`).toBe(
        true,
      );
    }
  }
}

describe("the position scanner finds every value (property)", { timeout: 60_000 }, () => {
  test("in our canonical format", () => {
    fc.assert(
      fc.property(serviceDef, (d) => {
        // format leaves defaults out, so compare with what it wrote.
        const text = format(d);
        checkEveryLeaf(text, parseToml(text));
      }),
      { numRuns: 300 },
    );
  });

  test("in smol-toml's own stringify output (another writer's style)", () => {
    fc.assert(
      fc.property(serviceDef, (d) => {
        const plain = JSON.parse(JSON.stringify(d));
        checkEveryLeaf(stringify(plain), plain);
      }),
      { numRuns: 300 },
    );
  });

  test("in an all-inline style", () => {
    fc.assert(
      fc.property(serviceDef, (d) => {
        const plain = JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
        // One key per line at the top, everything below it as inline arrays and tables.
        const inline = (v: unknown): string =>
          Array.isArray(v)
            ? `[ ${v.map(inline).join(", ")} ]`
            : v && typeof v === "object"
              ? `{ ${Object.entries(v)
                  .map(([k, x]) => `${JSON.stringify(k)} = ${inline(x)}`)
                  .join(", ")} }`
              : typeof v === "string"
                ? stringify({ s: v }).slice(4).trim()
                : String(v);
        const text = Object.entries(plain)
          .map(([k, v]) => `${k} = ${inline(v)}`)
          .join("\n");
        checkEveryLeaf(text, plain);
      }),
      { numRuns: 300 },
    );
  });
});
