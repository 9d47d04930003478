import { type ChildProcess, execFile, spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { request } from "node:https";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = `${REPO}packages/cli/dist/bin.js`;
export const SIM = `${REPO}apps/sim/dist/bin.js`;
export const ZONE = "svc.mcp.metacircular.net";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <bin> args…` (argument vector, no shell) and collects its output. */
export function runNode(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** What `mcp-sim up --json` prints. */
export interface UpInfo {
  dir: string;
  mcpToml: string;
  servicesDir: string;
  registry: string;
  node: string;
  agent: string;
  sim: {
    caFile: string;
    metacrypt: { caFile: string };
    mcns: { dnsPort: number };
    mcproxy: { listeners: Record<string, string>; socket: string };
  };
  parts: { name: string; pid: number; started: boolean }[];
}

export async function simUp(dir: string, workspace: string): Promise<UpInfo> {
  const r = await runNode(SIM, ["up", "--dir", dir, "--workspace", workspace, "--json"]);
  if (r.code !== 0) throw new Error(`mcp-sim up failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as UpInfo;
}

export function resolver(dnsPort: number): Resolver {
  const r = new Resolver({ timeout: 1000, tries: 2 });
  r.setServers([`127.0.0.1:${dnsPort}`]);
  return r;
}

export async function resolve4(r: Resolver, name: string): Promise<string[] | string> {
  try {
    return await r.resolve4(name);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

/** GET `path` at address:port with SNI `servername`, trusting only `ca`. */
export function httpsGet(
  address: string,
  port: number,
  servername: string,
  ca: string,
  path = "/",
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address, port, servername, ca, path, timeout: 3000, agent: false },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** Retries until the answer is 200 (routes are registered right after the container starts). */
export async function httpsUntilOk(
  address: string,
  port: number,
  servername: string,
  ca: string,
  path = "/",
  timeoutMs = 15_000,
): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await httpsGet(address, port, servername, ca, path).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    if (r.status === 200 || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 150));
  }
}

/**
 * `mcp logs -f`: collects stdout lines until `enough` says so, then interrupts (SIGINT, as
 * Ctrl-C) and returns the lines and exit code.
 */
export function followLogs(
  args: string[],
  env: NodeJS.ProcessEnv,
  enough: (lines: string[]) => boolean,
  timeoutMs = 30_000,
): Promise<{ lines: string[]; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let buf = "";
    let interrupted = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`mcp logs -f gave ${lines.length} lines in ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split("\n");
      buf = parts.pop() ?? "";
      lines.push(...parts);
      if (!interrupted && enough(lines)) {
        interrupted = true;
        child.kill("SIGINT");
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ lines, code, signal });
    });
  });
}
