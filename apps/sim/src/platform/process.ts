/**
 * Detached processes with pid files. A pid file holds the pid and a marker (a path unique
 * to this platform) that must appear in /proc/<pid>/cmdline, so a pid reused by an
 * unrelated process after a reboot is never taken for ours, and `down` never signals it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

export interface PidFile {
  pid: number;
  marker: string;
  startedAt: string;
  /** The program file and its mtime at start: a rebuilt program means a stale process. */
  program?: string;
  programMtimeMs?: number;
}

export function pidFilePath(runDir: string, part: string): string {
  return join(runDir, `${part}.pid`);
}

export async function readPidFile(file: string): Promise<PidFile | undefined> {
  try {
    const v = JSON.parse(await readFile(file, "utf8")) as PidFile;
    return Number.isInteger(v.pid) && v.pid > 0 && typeof v.marker === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` runs and its command line contains `marker`. */
export async function isOurs(pid: number, marker: string): Promise<boolean> {
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ");
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** The running process of a part, from its pid file; undefined when none runs. */
export async function runningPart(runDir: string, part: string): Promise<PidFile | undefined> {
  const p = await readPidFile(pidFilePath(runDir, part));
  return p && (await isOurs(p.pid, p.marker)) ? p : undefined;
}

export interface Detached {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code once the process ends (while we still watch it). */
  exited: Promise<number | null>;
  logFile: string;
}

/**
 * Starts `command args` in its own session (survives this process), stdout and stderr
 * appended to `logFile`, and writes the pid file.
 */
export async function spawnDetached(opts: {
  part: string;
  command: string;
  args: string[];
  runDir: string;
  logFile: string;
  marker: string;
  env?: NodeJS.ProcessEnv;
  /** The file whose change makes this process stale (a bundle it loads chunks from). */
  program?: string;
}): Promise<Detached> {
  await mkdir(opts.runDir, { recursive: true });
  const fd = openSync(opts.logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(opts.command, opts.args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: opts.env ?? process.env,
    });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code));
    child.once("error", () => resolve(-1));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${opts.part}: could not start ${opts.command}`);
  child.unref();
  const record: PidFile = {
    pid,
    marker: opts.marker,
    startedAt: new Date().toISOString(),
    ...(opts.program ? { program: opts.program, programMtimeMs: await mtimeMs(opts.program) } : {}),
  };
  await writeFile(pidFilePath(opts.runDir, opts.part), `${JSON.stringify(record)}\n`);
  return { child, pid, exited, logFile: opts.logFile };
}

async function mtimeMs(file: string): Promise<number> {
  return (await stat(file)).mtimeMs;
}

/**
 * True when the program was rebuilt since the process started: its lazily loaded chunks
 * may be gone, so the process must be restarted before it is relied on.
 */
export async function isStale(p: PidFile): Promise<boolean> {
  if (!p.program || p.programMtimeMs === undefined) return false;
  try {
    return (await mtimeMs(p.program)) !== p.programMtimeMs;
  } catch {
    return true;
  }
}

/** Last lines of a log, for an error message. */
export async function logTail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * Polls `ready` until it returns true; fails when the process exits first or time runs
 * out, with the end of its log.
 */
export async function waitReady(
  d: Detached,
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let exitCode: number | null | undefined;
  void d.exited.then((c) => {
    exitCode = c;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(
        `${what} exited (${exitCode}) while starting; end of ${d.logFile}:\n${await logTail(d.logFile)}`,
      );
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      process.kill(d.pid, "SIGTERM");
      throw new Error(
        `${what} did not come up in ${timeoutMs / 1000}s; end of ${d.logFile}:\n${await logTail(d.logFile)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Stops the part named by its pid file (only when the pid is still ours): SIGTERM, then
 * SIGKILL after `graceMs`. Returns the pid stopped, or undefined when nothing ran.
 */
export async function stopPart(
  runDir: string,
  part: string,
  graceMs = 10_000,
): Promise<number | undefined> {
  const file = pidFilePath(runDir, part);
  const p = await readPidFile(file);
  if (!p || !(await isOurs(p.pid, p.marker))) {
    await rm(file, { force: true });
    return undefined;
  }
  try {
    process.kill(p.pid, "SIGTERM");
  } catch {
    // gone meanwhile
  }
  const deadline = Date.now() + graceMs;
  while (await isOurs(p.pid, p.marker)) {
    if (Date.now() > deadline) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await rm(file, { force: true });
  return p.pid;
}

/** `preferred` when it is free on 127.0.0.1, else any free port. */
export async function pickPort(preferred?: number): Promise<number> {
  const tryListen = (port: number) =>
    new Promise<number | undefined>((resolve) => {
      const srv = createServer();
      srv.unref();
      srv.once("error", () => resolve(undefined));
      srv.listen(port, "127.0.0.1", () => {
        const a = srv.address();
        const got = a && typeof a === "object" ? a.port : undefined;
        srv.close(() => resolve(got));
      });
    });
  if (preferred) {
    const p = await tryListen(preferred);
    if (p) return p;
  }
  const any = await tryListen(0);
  if (!any) throw new Error("no free port on 127.0.0.1");
  return any;
}
