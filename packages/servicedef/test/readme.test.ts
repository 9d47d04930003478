import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { ruleList } from "../src/index.ts";

test("README lists every rule with its code, name and severity", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  for (const r of ruleList()) {
    expect(readme).toMatch(
      new RegExp(`\\|\\s*${r.code}\\s*\\|\\s*\`${r.rule}\`\\s*\\|\\s*${r.severity}\\s*\\|`),
    );
  }
});
