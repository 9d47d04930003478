// The shipped JSON Schema in a real TOML toolkit: Taplo (the engine of Even Better TOML),
// which reads the `#:schema` directive at the top of each file as an editor does.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const TAPLO = fileURLToPath(new URL("../node_modules/.bin/taplo", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

function taplo(files: string[]) {
  return spawnSync(TAPLO, ["check", ...files], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: "error" },
  });
}

describe("Taplo validates service files with the shipped schema", { timeout: 120_000 }, () => {
  test("every example passes", () => {
    const files = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith(".toml"))
      .map((f) => EXAMPLES + f);
    const r = taplo(files);
    expect(r.stderr).not.toMatch(/^error/m);
    expect(r.status).toBe(0);
  });

  test("typos, names, ports and modes are flagged where they are", () => {
    const r = taplo([fileURLToPath(new URL("fixtures/invalid-for-editors.toml", import.meta.url))]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'compnents' was unexpected");
    expect(r.stderr).toMatch(
      /"API" does not match "\^\[a-z\]\[a-z0-9-\]\{0,62\}\$"\n\s+┌─ .*invalid-for-editors\.toml:6:8/,
    );
    expect(r.stderr).toContain("70000 is greater than the maximum of 65535");
    expect(r.stderr).toContain('"l5" is not one of ["l4","l7"]');
  });
});
