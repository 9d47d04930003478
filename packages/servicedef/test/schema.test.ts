import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { jsonSchema } from "../src/schema/source.ts";

describe("JSON Schema", () => {
  test("gen/schema.json is what src/schema/source.ts generates (run pnpm build to refresh)", () => {
    const committed = JSON.parse(
      readFileSync(new URL("../gen/schema.json", import.meta.url), "utf8"),
    );
    expect(committed).toEqual(jsonSchema());
  });

  test("snapshot", async () => {
    await expect(`${JSON.stringify(jsonSchema(), null, 2)}\n`).toMatchFileSnapshot(
      "__snapshots__/schema.json.snap",
    );
  });

  test("uses only the subset the structural walker understands", () => {
    const allowed = new Set([
      "$schema",
      "$id",
      "title",
      "type",
      "properties",
      "required",
      "additionalProperties",
      "items",
      "oneOf",
      "const",
      "default",
      "description",
      "pattern",
      "minimum",
      "maximum",
      "minItems",
      "enum",
      "propertyNames",
    ]);
    const seen = new Set<string>();
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(visit);
      else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
          seen.add(k);
          if (k === "properties") Object.values(v as object).forEach(visit);
          else visit(v);
        }
      }
    };
    visit(jsonSchema());
    expect([...seen].filter((k) => !allowed.has(k))).toEqual([]);
  });
});
