import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  isOurs,
  pidFilePath,
  runningPart,
  spawnDetached,
  stopPart,
  waitReady,
} from "../src/platform/process.ts";

const dirs: string[] = [];
const pids: number[] = [];

afterEach(async () => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "mcp-sim-process-"));
  dirs.push(d);
  return d;
}

/** A detached node that sleeps, with `marker` on its command line. */
async function sleeper(dir: string, marker: string) {
  const d = await spawnDetached({
    part: "p",
    command: process.execPath,
    args: ["-e", "setTimeout(() => {}, 60_000)", marker],
    runDir: join(dir, "run"),
    logFile: join(dir, "p.log"),
    marker,
  });
  pids.push(d.pid);
  return d;
}

describe("detached parts and their pid files", () => {
  it("a started part is found by its pid file and stopped by down", async () => {
    const dir = await tempDir();
    const d = await sleeper(dir, join(dir, "marker-a"));
    expect((await runningPart(join(dir, "run"), "p"))?.pid).toBe(d.pid);
    expect(await stopPart(join(dir, "run"), "p", 5000)).toBe(d.pid);
    expect(await isOurs(d.pid, join(dir, "marker-a"))).toBe(false);
    expect(await runningPart(join(dir, "run"), "p")).toBeUndefined();
    await expect(readFile(pidFilePath(join(dir, "run"), "p"))).rejects.toThrow(/ENOENT/);
  });

  it("a pid file whose pid now belongs to another program is never signalled", async () => {
    const dir = await tempDir();
    const run = join(dir, "run");
    await sleeper(dir, join(dir, "marker-b"));
    // The pid of this very test process, with a marker its command line does not carry.
    await writeFile(
      pidFilePath(run, "p"),
      JSON.stringify({ pid: process.pid, marker: join(dir, "not-here"), startedAt: "" }),
    );
    expect(await runningPart(run, "p")).toBeUndefined();
    expect(await stopPart(run, "p", 1000)).toBeUndefined();
    expect(await isOurs(process.pid, process.argv[1] ?? "vitest")).toBe(true);
  });

  it("a part that exits while starting fails with the end of its log", async () => {
    const dir = await tempDir();
    const d = await spawnDetached({
      part: "bad",
      command: process.execPath,
      args: ["-e", "console.error('cannot bind 127.0.0.1:1: EACCES'); process.exit(3)"],
      runDir: join(dir, "run"),
      logFile: join(dir, "bad.log"),
      marker: dir,
    });
    await expect(waitReady(d, "bad part", async () => false, 5000)).rejects.toThrow(
      /bad part exited \(3\) while starting; end of .*bad\.log:\ncannot bind 127\.0\.0\.1:1: EACCES/,
    );
  });
});
