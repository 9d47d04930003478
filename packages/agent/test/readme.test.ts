import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configKeys } from "../src/config.ts";

describe("README config reference", () => {
  it("documents every config key with its environment override", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const missing = configKeys().filter(
      // Biome pads table cells, so any run of spaces may separate the two columns.
      (k) => !new RegExp(`\`${k.section}\\.${k.key}\` +\\| +\`${k.env}\``).test(readme),
    );
    expect(missing).toEqual([]);
  });
});
