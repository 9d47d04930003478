import { existsSync } from "node:fs";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * V8 flags the daemon runs with. Node 24 lets the young generation grow to 64 MiB per
 * semi-space (128 MiB in all) under a burst of calls, and V8 keeps it committed
 * afterwards: under 50 concurrent clients the agent's RSS went from ~130 to ~340 MiB and
 * stayed there. A 2 MiB semi-space kept calls per second and p99 where they were
 * (bench/load.bench.ts; docs/decisions/0180). V8 reads this flag only when the heap is set
 * up, so it has to be on the command line: `v8.setFlagsFromString` later has no reliable
 * effect.
 */
export const AGENT_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];

/**
 * The flags of `wanted` that neither Node's own arguments nor NODE_OPTIONS already set
 * (by name, so an operator's own value wins). Pure.
 */
export function missingNodeFlags(
  wanted: readonly string[],
  execArgv: readonly string[],
  nodeOptions: string | undefined,
): string[] {
  const given = [...execArgv, ...(nodeOptions ?? "").split(/\s+/)].map(
    (a) => a.split("=")[0]?.replaceAll("_", "-") ?? "",
  );
  return wanted.filter((f) => !given.includes(f.split("=")[0] ?? ""));
}

/**
 * glibc malloc settings for the daemon (docs/decisions/0201): at most 2 arenas instead of
 * one per thread that ever allocated (8 × cores); free memory at the top of the heap handed
 * back from 128 KiB on; and blocks of 64 KiB and more mapped on their own, so they go back
 * to the system when freed instead of fragmenting the heap. glibc's dynamic thresholds
 * otherwise grow to tens of MiB after a burst of TLS/HTTP/2 buffers and keep them.
 * Measured: −5 MiB idle, less kept after a load. Ignored where the C library is not glibc.
 */
export const AGENT_GLIBC_TUNABLES =
  "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=65536";

/**
 * Where Debian and Ubuntu put jemalloc (package libjemalloc2), per architecture. NixOS and
 * others name theirs through MCP_AGENT_JEMALLOC.
 */
export const JEMALLOC_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
  "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
];

/**
 * jemalloc settings for the daemon (docs/decisions/0203): one arena and no thread caches,
 * since the agent is one JS thread plus a few libuv workers, and unused pages handed back
 * within a second (dirty) or at once (muzzy). Measured under 50 clients
 * (bench/load.bench.ts): RSS back to its pre-load level 15 s after the burst (glibc, even
 * tuned, kept 30-50 MiB), idle RSS as with glibc, calls per second within the noise.
 */
/** Set by the re-exec beside the LD_PRELOAD it added, so the new process can drop both. */
const PRELOADED = "MCP_AGENT_PRELOADED";

/**
 * In the re-executed daemon: the preload is in effect from exec on, so the variables go
 * from its environment again, and Podman, conmon and runc (which the agent spawns) run
 * with their own allocator as they would anywhere else. Returns the cleaned environment.
 * Pure.
 */
export function withoutOwnPreload(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const lib = env[PRELOADED];
  if (lib === undefined) return env;
  const out = { ...env };
  delete out[PRELOADED];
  if (out.LD_PRELOAD === lib) delete out.LD_PRELOAD;
  if (out.MALLOC_CONF === AGENT_MALLOC_CONF) delete out.MALLOC_CONF;
  return out;
}

export const AGENT_MALLOC_CONF = "narenas:1,tcache:false,dirty_decay_ms:1000,muzzy_decay_ms:0";

/**
 * The environment the daemon should run with, or undefined when it already has it. Pure;
 * `exists` tells whether a file is there.
 *
 * - jemalloc is preloaded when the library is found (MCP_AGENT_JEMALLOC names it; "0"
 *   turns this off) and LD_PRELOAD is not already set, with AGENT_MALLOC_CONF unless
 *   MALLOC_CONF is set.
 * - Otherwise glibc's malloc gets AGENT_GLIBC_TUNABLES unless GLIBC_TUNABLES or
 *   MALLOC_ARENA_MAX is set. An operator's own choice always wins.
 */
export function agentEnvironment(
  env: NodeJS.ProcessEnv,
  exists: (path: string) => boolean = () => false,
): NodeJS.ProcessEnv | undefined {
  const named = env.MCP_AGENT_JEMALLOC;
  if (env.LD_PRELOAD === undefined && named !== "0") {
    const lib = named ? (exists(named) ? named : undefined) : JEMALLOC_PATHS.find(exists);
    if (lib) {
      return {
        ...env,
        LD_PRELOAD: lib,
        ...(env.MALLOC_CONF === undefined ? { MALLOC_CONF: AGENT_MALLOC_CONF } : {}),
        [PRELOADED]: lib,
      };
    }
  }
  if (env[PRELOADED] !== undefined || env.LD_PRELOAD?.includes("jemalloc")) return undefined;
  if (env.GLIBC_TUNABLES !== undefined || env.MALLOC_ARENA_MAX !== undefined) return undefined;
  return { ...env, GLIBC_TUNABLES: AGENT_GLIBC_TUNABLES };
}

/**
 * Replaces the process with the same Node and arguments plus AGENT_NODE_FLAGS and the
 * malloc tunables (same pid, so systemd and the release launcher are unaffected), when
 * they are missing and the command is `server` — glibc reads its tunables only when a
 * process starts, V8 its heap flags only when the heap is set up. Needs `process.execve`
 * (Node >= 23.11); without it the agent runs with the defaults. Set MCP_AGENT_NO_REEXEC=1
 * to opt out.
 */
export function reexecWithNodeFlags(): void {
  if (process.argv[2] !== "server" || process.env.MCP_AGENT_NO_REEXEC === "1") return;
  const execve = (process as { execve?: (f: string, a: string[], e: NodeJS.ProcessEnv) => void })
    .execve;
  if (typeof execve !== "function") return;
  const missing = missingNodeFlags(AGENT_NODE_FLAGS, process.execArgv, process.env.NODE_OPTIONS);
  const env = agentEnvironment(process.env, existsSync);
  if (missing.length === 0 && env === undefined) {
    const clean = withoutOwnPreload(process.env);
    if (clean !== process.env) {
      for (const k of ["LD_PRELOAD", "MALLOC_CONF", PRELOADED]) {
        if (!(k in clean)) delete process.env[k];
      }
    }
    return;
  }
  try {
    execve.call(
      process,
      process.execPath,
      [process.execPath, ...missing, ...process.execArgv, ...process.argv.slice(1)],
      env ?? process.env,
    );
  } catch {
    // execve failed (e.g. the binary moved): carry on with the defaults.
  }
}

/** A full, memory-reducing collection: V8 also hands pooled pages back to the system. */
export type ReduceMemory = () => void;

/**
 * The collector without `--expose-gc` on the command line: the flag is turned on just
 * long enough to fetch `gc` from a fresh context, so the agent's own global scope does
 * not get one.
 */
export function memoryReducer(): ReduceMemory | undefined {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as ((o?: object) => void) | undefined;
    v8.setFlagsFromString("--no-expose-gc");
    if (typeof gc !== "function") return undefined;
    return () => gc({ type: "major", execution: "sync", flavor: "last-resort" });
  } catch {
    return undefined;
  }
}

export interface IdleReducerOptions {
  /** Quiet time after the last call before memory is handed back. */
  idleMs: number;
  reduce: ReduceMemory;
  /** Live RSS in bytes (process.memoryUsage.rss). */
  rss?: () => number;
  /** Only when RSS grew by more than this since the last reduction (bytes; default 4 MiB). */
  minGrowthBytes?: number;
  /**
   * One reduction this long after construction, whatever the growth: start-up (module
   * evaluation, compilation, migrations) leaves garbage and pooled pages that an idle
   * daemon would otherwise keep for good.
   */
  afterStartMs?: number;
}

/**
 * Hands memory back once a burst of calls is over. V8 keeps the pages a burst made it
 * allocate (pooled, and a grown young generation) and frees them only on a
 * memory-reducing collection, which a Node daemon never gets on its own: after 50 clients
 * stopped, the agent stayed at the burst's RSS indefinitely. One collection per burst, a
 * few tens of milliseconds, run only when no call came for `idleMs` and RSS has grown.
 */
export class IdleMemoryReducer {
  #last = 0;
  #pending = false;
  #force = false;
  #baseline: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #rss: () => number;

  constructor(private readonly opts: IdleReducerOptions) {
    this.#rss = opts.rss ?? (() => process.memoryUsage.rss());
    this.#baseline = this.#rss();
    if (opts.afterStartMs !== undefined) {
      this.#pending = true;
      this.#force = true;
      this.#schedule(opts.afterStartMs);
    }
  }

  /** Called on every request. */
  activity(): void {
    this.#last = Date.now();
    if (this.#pending) return;
    this.#pending = true;
    this.#schedule(this.opts.idleMs);
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), ms);
    this.#timer.unref();
  }

  #check(): void {
    const quiet = Date.now() - this.#last;
    if (quiet < this.opts.idleMs) {
      this.#schedule(this.opts.idleMs - quiet);
      return;
    }
    this.#pending = false;
    this.#timer = undefined;
    const force = this.#force;
    this.#force = false;
    const grown = this.#rss() - this.#baseline > (this.opts.minGrowthBytes ?? 4 * 1024 * 1024);
    if (!force && !grown) return;
    this.opts.reduce();
    this.#baseline = this.#rss();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = false;
  }
}
