import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AGENT_NODE_FLAGS,
  IdleMemoryReducer,
  memoryReducer,
  missingNodeFlags,
} from "../src/memory.ts";
import { BIN } from "./helpers/process.ts";

describe("missingNodeFlags", () => {
  it("adds what neither the command line nor NODE_OPTIONS sets, by flag name", () => {
    const wanted = ["--max-semi-space-size=2"];
    expect(missingNodeFlags(wanted, [], undefined)).toEqual(wanted);
    expect(missingNodeFlags(wanted, ["--max-semi-space-size=16"], undefined)).toEqual([]);
    expect(missingNodeFlags(wanted, [], "--enable-source-maps --max_semi_space_size=8")).toEqual(
      [],
    );
    expect(missingNodeFlags(wanted, ["--expose-gc"], "")).toEqual(wanted);
  });
});

describe("IdleMemoryReducer", () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("reduces once a burst is over and RSS has grown, not during it", async () => {
    let rss = 100;
    let reductions = 0;
    const r = new IdleMemoryReducer({
      idleMs: 60,
      minGrowthBytes: 10,
      rss: () => rss,
      reduce: () => {
        reductions++;
        rss = 105;
      },
    });
    rss = 300;
    for (let i = 0; i < 6; i++) {
      r.activity();
      await wait(20);
    }
    expect(reductions).toBe(0);
    await wait(120);
    expect(reductions).toBe(1);
    // A second burst that leaves RSS where it was is not worth a collection.
    r.activity();
    await wait(120);
    expect(reductions).toBe(1);
    r.stop();
  });

  it("memoryReducer collects without giving the process a global gc", () => {
    const reduce = memoryReducer();
    expect(reduce).toBeTypeOf("function");
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    reduce?.();
  });
});

describe("mcp-agent server re-executes itself with its Node flags", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mcp-agent-memory-"));
    // Runs in every Node process image: the original and the re-executed one.
    await writeFile(
      join(dir, "show.cjs"),
      "process.stderr.write(`node pid=${process.pid} flags=${JSON.stringify(process.execArgv)}\\n`);\n",
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("same pid, flags added once; an operator's own value wins", async () => {
    const run = (nodeOptions: string) =>
      execa(process.execPath, [BIN, "server", "--config", join(dir, "missing.toml")], {
        reject: false,
        env: { NODE_OPTIONS: `--require ${join(dir, "show.cjs")} ${nodeOptions}` },
      });
    const proc = run("");
    const pid = proc.pid;
    const r = await proc;
    expect(r.exitCode).toBe(2);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("node pid="));
    expect(lines).toHaveLength(2);
    const pids = lines.map((l) => /pid=(\d+)/.exec(l)?.[1]);
    expect(pids[0]).toBe(String(pid));
    expect(pids[1]).toBe(pids[0]);
    expect(lines[1]).toContain(AGENT_NODE_FLAGS[0]);
    expect(r.stderr).toContain("cannot read config");

    const own = await run("--max-semi-space-size=8");
    expect(own.stderr.split("\n").filter((l) => l.startsWith("node pid="))).toHaveLength(1);
  });
});
