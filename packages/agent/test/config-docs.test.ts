import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "@mcp/servicedef";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../src/config.ts";

// docs/configuration.md carries tables generated from this package's config schema and
// @mcp/servicedef's JSON Schema and rules; the generator's --check keeps them honest.
const run = promisify(execFile);
const root = new URL("../../../", import.meta.url).pathname;
const script = join(root, "scripts/gen-config-docs.ts");
const doc = join(root, "docs/configuration.md");

describe("docs/configuration.md", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("is up to date with the agent's config keys and the service definition schema", async () => {
    const r = await run(process.execPath, [script, "--check"], { cwd: root });
    expect(r.stdout).toContain("up to date");
  });

  it("--check catches a stale table and leaves the file alone", async () => {
    const dir = await mkdtemp(join(tmpdir(), "config-docs-"));
    dirs.push(dir);
    const copy = join(dir, "configuration.md");
    const stale = (await readFile(doc, "utf8")).replace("`MCP_MONITOR_INTERVAL`", "`MCP_X`");
    await writeFile(copy, stale);
    const failed = await run(process.execPath, [script, "--check", "--doc", copy]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain("is stale");
    expect(await readFile(copy, "utf8")).toBe(stale);
  });

  it("has examples the agent and servicedef accept", async () => {
    const text = await readFile(doc, "utf8");
    const blocks = [...text.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
    const agentExample = blocks.find((b) => b.includes("[server]"));
    const serviceExample = blocks.find((b) => b.includes("[[components]]"));
    expect(() => parseConfig(agentExample ?? "", { filename: "mcp-agent.toml" })).not.toThrow();
    expect(parse(serviceExample ?? "").diagnostics).toEqual([]);
  });
});
