import { mkdir, readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { SimEndpoint, SimHandle, SimLogger, SimModule } from "./framework.ts";
import { simModules } from "./modules.ts";
import { ensureLocalCa, simTls, writeFileAtomic } from "./tls.ts";

/** Contents of DIR/sim.json. */
export interface SimInfo {
  /** Process running the sim; absent once it stopped. */
  pid?: number;
  running: boolean;
  host: string;
  startedAt: string;
  /** CA certificate every TLS module's certificate chains to. */
  caFile: string;
  modules: Record<string, SimEndpoint>;
}

export interface StartSimOptions {
  /** State directory; created if missing. */
  dir: string;
  /** Module names to run (their dependencies come along); default all registered. */
  only?: readonly string[];
  /** Loopback address to bind; default 127.0.0.1. */
  host?: string;
  log?: SimLogger;
  /** Module-specific options, e.g. `{ tokenTtl: "1h" }` for MCIAS. */
  options?: Record<string, string | number | boolean | undefined>;
  /** Registry to pick from; default the built-in one (tests may pass their own). */
  modules?: readonly SimModule[];
}

export interface SimInstance {
  dir: string;
  /** Endpoints of the running modules, by name. */
  endpoints: Record<string, SimEndpoint>;
  info: SimInfo;
  /** Stops every module (reverse start order) and marks sim.json as stopped. */
  stop(): Promise<void>;
}

export const silentLogger: SimLogger = { info() {}, warn() {}, error() {} };

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

/** Reads DIR/sim.json; undefined when there is none. */
export async function readSimInfo(dir: string): Promise<SimInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "sim.json"), "utf8")) as SimInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`${join(dir, "sim.json")}: cannot read: ${(e as Error).message}`);
  }
}

/** Resolves `only` against the registry: dependencies first, registry order otherwise. */
export function planModules(registry: readonly SimModule[], only?: readonly string[]): SimModule[] {
  const byName = new Map(registry.map((m) => [m.name, m]));
  const wanted = new Set<string>();
  const add = (name: string, via?: string) => {
    const m = byName.get(name);
    if (!m) {
      const known = registry.map((r) => r.name).join(", ") || "none";
      throw new Error(
        via
          ? `sim module ${via} depends on unknown module ${name}`
          : `unknown sim module "${name}" (known: ${known})`,
      );
    }
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const d of m.dependsOn ?? []) add(d, name);
  };
  for (const n of only ?? registry.map((m) => m.name)) add(n);
  const ordered: SimModule[] = [];
  const visiting = new Set<string>();
  const visit = (m: SimModule) => {
    if (ordered.includes(m)) return;
    if (visiting.has(m.name)) throw new Error(`sim modules depend on each other: ${m.name}`);
    visiting.add(m.name);
    for (const d of m.dependsOn ?? []) visit(byName.get(d)!);
    visiting.delete(m.name);
    ordered.push(m);
  };
  for (const m of registry) if (wanted.has(m.name)) visit(m);
  return ordered;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Starts the chosen sim modules on loopback with their state under `dir`, writes
 * DIR/sim.json, and returns their endpoints. If one fails to start, the ones already
 * started are stopped and the error is rethrown.
 */
export async function startSim(opts: StartSimOptions): Promise<SimInstance> {
  const dir = isAbsolute(opts.dir) ? opts.dir : resolve(opts.dir);
  const host = opts.host ?? "127.0.0.1";
  if (!LOOPBACK.test(host))
    throw new Error(`--host ${host}: the sim binds loopback addresses only`);
  const log = opts.log ?? silentLogger;
  const plan = planModules(opts.modules ?? simModules, opts.only);
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const previous = await readSimInfo(dir);
  if (previous?.running && previous.pid !== undefined && previous.pid !== process.pid) {
    if (pidAlive(previous.pid)) {
      throw new Error(`${dir} is in use by mcp-sim (pid ${previous.pid}); stop it first`);
    }
  }
  const ca = await ensureLocalCa(dir);
  const peers = new Map<string, SimEndpoint>();
  const handles: { name: string; handle: SimHandle }[] = [];
  const stopAll = async () => {
    for (const { name, handle } of handles.splice(0).reverse()) {
      try {
        await handle.stop();
      } catch (e) {
        log.error(`stopping ${name} failed`, { error: (e as Error).message });
      }
    }
  };

  try {
    for (const m of plan) {
      const mdir = join(dir, m.name);
      await mkdir(mdir, { recursive: true, mode: 0o700 });
      const prefix = `[${m.name}]`;
      const handle = await m.start({
        dir: mdir,
        rootDir: dir,
        host,
        log: {
          info: (msg, f) => log.info(`${prefix} ${msg}`, f),
          warn: (msg, f) => log.warn(`${prefix} ${msg}`, f),
          error: (msg, f) => log.error(`${prefix} ${msg}`, f),
        },
        ...(previous?.modules[m.name] ? { previous: previous.modules[m.name] } : {}),
        peers,
        tls: simTls(ca, mdir),
        options: opts.options ?? {},
      });
      handles.push({ name: m.name, handle });
      peers.set(m.name, handle.endpoint);
    }
  } catch (e) {
    await stopAll();
    throw e;
  }

  const info: SimInfo = {
    pid: process.pid,
    running: true,
    host,
    startedAt: new Date().toISOString(),
    caFile: ca.caFile,
    modules: Object.fromEntries(peers),
  };
  await writeFileAtomic(join(dir, "sim.json"), `${JSON.stringify(info, null, 2)}\n`, 0o644);

  let stopped: Promise<void> | undefined;
  return {
    dir,
    endpoints: info.modules,
    info,
    stop() {
      stopped ??= (async () => {
        await stopAll();
        const { pid: _pid, ...rest } = info;
        await writeFileAtomic(
          join(dir, "sim.json"),
          `${JSON.stringify({ ...rest, running: false }, null, 2)}\n`,
          0o644,
        );
      })();
      return stopped;
    },
  };
}
