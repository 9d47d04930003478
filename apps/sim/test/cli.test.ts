// The built mcp-sim program as a user runs it: a foreground `run`, `mcias token` and
// `mcias user` from another process, SIGTERM to stop. Needs `pnpm build` first (turbo's
// test task depends on build).
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createMciasClient, isAdmin } from "@mcp/mcias-client";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SimInfo } from "../src/runner.ts";

const run = promisify(execFile);
const bin = join(import.meta.dirname, "..", "dist", "bin.js");
let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(bin))
    throw new Error(`${bin} is missing: run \`pnpm --filter @mcp/sim build\` first`);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-sim-cli-"));
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await new Promise((r) => c.once("exit", r));
    }
  }
  await rm(dir, { recursive: true, force: true });
});

async function startRun(args: string[]): Promise<{ child: ChildProcess; stdout: string[] }> {
  const child = spawn(process.execPath, [bin, "run", "--dir", dir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const stdout: string[] = [];
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  await new Promise<void>((resolve, reject) => {
    let buf = "";
    child.stdout?.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        stdout.push(l);
        if (l.startsWith("ready ")) resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`mcp-sim run exited ${code}: ${stderr}`)));
  });
  return { child, stdout };
}

describe("mcp-sim", () => {
  it("runs MCIAS in the foreground, mints tokens from the command line, stops on SIGTERM", async () => {
    const { child, stdout } = await startRun(["--only", "mcias"]);
    const info = JSON.parse(await readFile(join(dir, "sim.json"), "utf8")) as SimInfo;
    expect(info.running).toBe(true);
    expect(info.pid).toBe(child.pid);
    const ep = info.modules.mcias!;
    expect(stdout[0]).toBe(`mcias      ${ep.url}`);

    const tokenFile = join(dir, "token");
    await run(process.execPath, [
      bin,
      "mcias",
      "token",
      "--dir",
      dir,
      "--user",
      "admin",
      "--out",
      tokenFile,
    ]);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    const token = (await readFile(tokenFile, "utf8")).trim();

    await run(process.execPath, [
      ...[bin, "mcias", "user", "--dir", dir, "--user", "alice", "--password", "pw-alice"],
      ...["--roles", "admin,dev"],
    ]);

    const c = createMciasClient({
      baseUrl: ep.url!,
      serviceName: "test",
      ca: await readFile(ep.caFile!),
    });
    try {
      expect(isAdmin(await c.validateToken(token))).toBe(true);
      const alice = await c.login({ username: "alice", password: "pw-alice" });
      expect(await c.validateToken(alice.token)).toMatchObject({
        valid: true,
        roles: ["admin", "dev"],
      });
    } finally {
      await c.close();
    }

    // A second sim on the same directory is refused while the first runs.
    const second = await run(process.execPath, [bin, "run", "--dir", dir, "--only", "mcias"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((second as { code: number }).code).toBe(1);
    expect((second as { stderr: string }).stderr).toMatch(/in use by mcp-sim \(pid \d+\)/);

    child.kill("SIGTERM");
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).toBe(0);
    const after = JSON.parse(await readFile(join(dir, "sim.json"), "utf8")) as SimInfo;
    expect(after.running).toBe(false);
  });

  it("runs every module and keeps their addresses across a restart", async () => {
    const stopRun = async (child: ChildProcess) => {
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code).toBe(0);
    };
    const first = await startRun([]);
    const before = JSON.parse(await readFile(join(dir, "sim.json"), "utf8")) as SimInfo;
    expect(Object.keys(before.modules)).toEqual([
      "mcias",
      "registry-auth",
      "metacrypt",
      "mcproxy",
      "mcns",
    ]);
    await stopRun(first.child);
    const second = await startRun([]);
    const after = JSON.parse(await readFile(join(dir, "sim.json"), "utf8")) as SimInfo;
    expect(second.stdout).toEqual(first.stdout);
    for (const name of Object.keys(before.modules)) {
      expect(after.modules[name]?.url).toBe(before.modules[name]?.url);
      expect(after.modules[name]?.socket).toBe(before.modules[name]?.socket);
    }
    await stopRun(second.child);
  });

  it("fails with one line for bad input", async () => {
    const bad = await run(process.execPath, [bin, "run", "--dir", dir, "--only", "nope"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toMatch(
      /^mcp-sim: unknown sim module "nope" \(known: .*mcias.*\)\n$/,
    );

    const ttl = await run(process.execPath, [
      bin,
      "mcias",
      "token",
      "--dir",
      dir,
      "--user",
      "admin",
      "--ttl",
      "soon",
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((ttl as { stderr: string }).stderr).toBe(
      'mcp-sim: --ttl: "soon" is not a duration (e.g. 90s, 15m, 1h, 30d)\n',
    );
    const user = await run(process.execPath, [
      bin,
      "mcias",
      "token",
      "--dir",
      dir,
      "--user",
      "ghost",
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((user as { stderr: string }).stderr).toMatch(
      /^mcp-sim: --user ghost: no such account in .*users\.json\n$/,
    );
  });
});
