import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AGENT_GLIBC_TUNABLES,
  AGENT_MALLOC_CONF,
  AGENT_NODE_FLAGS,
  agentEnvironment,
  IdleMemoryReducer,
  JEMALLOC_PATHS,
  memoryReducer,
  missingNodeFlags,
  withoutOwnPreload,
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

describe("agentEnvironment", () => {
  const lib = JEMALLOC_PATHS[0] as string;
  const has = (p: string) => p === lib || p === "/nix/jemalloc.so";

  it("preloads jemalloc where it is found, with the agent's settings unless MALLOC_CONF is set", () => {
    expect(agentEnvironment({ PATH: "/bin" }, has)).toEqual({
      PATH: "/bin",
      LD_PRELOAD: lib,
      MALLOC_CONF: AGENT_MALLOC_CONF,
      MCP_AGENT_PRELOADED: lib,
    });
    expect(agentEnvironment({ MALLOC_CONF: "narenas:4" }, has)).toMatchObject({
      LD_PRELOAD: lib,
      MALLOC_CONF: "narenas:4",
    });
    // Named (NixOS), or turned off; a missing named library falls back to glibc's tunables.
    expect(agentEnvironment({ MCP_AGENT_JEMALLOC: "/nix/jemalloc.so" }, has)?.LD_PRELOAD).toBe(
      "/nix/jemalloc.so",
    );
    expect(agentEnvironment({ MCP_AGENT_JEMALLOC: "0" }, has)).toEqual({
      MCP_AGENT_JEMALLOC: "0",
      GLIBC_TUNABLES: AGENT_GLIBC_TUNABLES,
    });
    expect(agentEnvironment({ MCP_AGENT_JEMALLOC: "/gone.so" }, has)?.LD_PRELOAD).toBeUndefined();
    // The operator's own preload wins; the re-executed process changes nothing more.
    expect(agentEnvironment({ LD_PRELOAD: "/x.so" }, has)?.LD_PRELOAD).toBe("/x.so");
    const once = agentEnvironment({}, has) ?? {};
    expect(agentEnvironment(once, has)).toBeUndefined();
  });

  it("the re-executed process drops its own preload variables, so Podman does not inherit them", () => {
    const once = agentEnvironment({ PATH: "/bin" }, has) ?? {};
    expect(withoutOwnPreload(once)).toEqual({ PATH: "/bin" });
    const operator = { LD_PRELOAD: "/x.so", MALLOC_CONF: "narenas:4" };
    expect(withoutOwnPreload(operator)).toBe(operator);
  });

  it("adds the malloc tunables unless the operator set malloc's own variables", () => {
    expect(agentEnvironment({ PATH: "/bin" })).toEqual({
      PATH: "/bin",
      GLIBC_TUNABLES: AGENT_GLIBC_TUNABLES,
    });
    expect(agentEnvironment({ GLIBC_TUNABLES: "glibc.malloc.arena_max=4" })).toBeUndefined();
    expect(agentEnvironment({ MALLOC_ARENA_MAX: "1" })).toBeUndefined();
  });
});

describe("IdleMemoryReducer", () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("reduces once after start-up whatever the growth, then only after grown bursts", async () => {
    let reductions = 0;
    const r = new IdleMemoryReducer({
      idleMs: 30,
      afterStartMs: 40,
      rss: () => 100,
      reduce: () => {
        reductions++;
      },
    });
    await wait(20);
    expect(reductions).toBe(0);
    await wait(80);
    expect(reductions).toBe(1);
    r.activity();
    await wait(100);
    expect(reductions).toBe(1);
    r.stop();
  });

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
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the text is JavaScript for the child
      "process.stderr.write(`node pid=${process.pid} flags=${JSON.stringify(process.execArgv)} tunables=${process.env.GLIBC_TUNABLES} preload=${process.env.LD_PRELOAD} conf=${process.env.MALLOC_CONF} jemalloc=${require('fs').readFileSync('/proc/self/maps','utf8').includes('libjemalloc')}\\n`);\n",
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const runWith = (nodeOptions: string, env: Record<string, string> = {}) =>
    execa(process.execPath, [BIN, "server", "--config", join(dir, "missing.toml")], {
      reject: false,
      extendEnv: false,
      env: { NODE_OPTIONS: `--require ${join(dir, "show.cjs")} ${nodeOptions}`, ...env },
    });

  it("preloads jemalloc (libjemalloc2, installed by setup) with its settings, once, in the same process", async () => {
    expect(JEMALLOC_PATHS.some((p) => existsSync(p))).toBe(true);
    const proc = runWith("");
    const r = await proc;
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("node pid="));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("jemalloc=false");
    expect(lines[1]).toContain(`pid=${proc.pid} `);
    expect(lines[1]).toContain("jemalloc=true");
    expect(lines[1]).toContain(`conf=${AGENT_MALLOC_CONF}`);
    // "0" keeps glibc's malloc, with its tunables; an operator's own LD_PRELOAD is left alone.
    const off = await runWith("", { MCP_AGENT_JEMALLOC: "0" });
    const offLines = off.stderr.split("\n").filter((l) => l.startsWith("node pid="));
    expect(offLines[1]).toContain("jemalloc=false");
    expect(offLines[1]).toContain(`tunables=${AGENT_GLIBC_TUNABLES}`);
  });

  it("same pid, flags and malloc tunables added once; an operator's own values win", async () => {
    // glibc's malloc here: jemalloc is the test above.
    const run = (nodeOptions: string, env: Record<string, string> = {}) =>
      runWith(nodeOptions, { MCP_AGENT_JEMALLOC: "0", ...env });
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
    expect(lines[0]).toContain("tunables=undefined");
    expect(lines[1]).toContain(`tunables=${AGENT_GLIBC_TUNABLES}`);
    expect(r.stderr).toContain("cannot read config");

    const own = await run("--max-semi-space-size=8", {
      GLIBC_TUNABLES: "glibc.malloc.arena_max=1",
    });
    const ownLines = own.stderr.split("\n").filter((l) => l.startsWith("node pid="));
    expect(ownLines).toHaveLength(1);
    expect(ownLines[0]).toContain("tunables=glibc.malloc.arena_max=1");
    // Flags given, tunables not: re-executed for the tunables only.
    const flagsOnly = await run("--max-semi-space-size=8");
    const flagLines = flagsOnly.stderr.split("\n").filter((l) => l.startsWith("node pid="));
    expect(flagLines).toHaveLength(2);
    expect(flagLines[1]).toContain(`tunables=${AGENT_GLIBC_TUNABLES}`);
  });
});
