/**
 * The plug-in contract of `mcp-sim`.
 *
 * A sim module is one stand-in service (MCIAS, Metacrypt, mc-proxy, MCNS). It is a plain
 * object `{ name, description, dependsOn?, start(ctx) }`, registered in `modules.ts`.
 * `start` binds its listeners on `ctx.host` (loopback only), keeps every bit of state
 * under `ctx.dir` so that a restart with the same `--dir` loses nothing, and resolves
 * with a handle: the endpoint it serves (written to `DIR/sim.json` for tests and tools)
 * and `stop()`, which must close every listener and resolve once they are closed.
 *
 * Conventions for a module:
 * - Listen on `ctx.previous?.port` when it is set and free (use `listenPreferred`), so a
 *   restart keeps the address other configs were written with; otherwise port 0.
 * - Log through `ctx.log` (never log tokens, passwords or private keys).
 * - Use `ctx.tls` for a server certificate from the sim's shared local CA when the real
 *   service speaks TLS; clients trust `ctx.tls.caFile` (also in the endpoint's `caFile`).
 * - Read other modules' endpoints from `ctx.peers` (e.g. MCIAS for token validation);
 *   list them in `dependsOn` so they start first.
 * - Throw an Error with a one-line message if the module cannot start; the runner stops
 *   what it already started.
 */
import { once } from "node:events";
import type { Server } from "node:net";

/** How to reach one running sim module. Every field is optional except `name`. */
export interface SimEndpoint {
  /** The module's name, e.g. `mcias`. */
  name: string;
  /** Base URL for HTTP(S) services, e.g. `https://127.0.0.1:40123`. */
  url?: string;
  host?: string;
  /** Main TCP port. */
  port?: number;
  /** Unix socket path (mc-proxy's admin API). */
  socket?: string;
  /** PEM file of the CA that signed this service's certificate. */
  caFile?: string;
  /** Anything else clients need (a DNS port, a listener address, a token file, ...). */
  extra?: Record<string, string | number | boolean>;
}

export interface SimLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A server certificate issued by the sim's local CA (see tls.ts). */
export interface SimTls {
  /** Absolute path of the CA certificate (PEM) clients should trust. */
  caFile: string;
  /** PEM text of the CA certificate. */
  ca: string;
  /**
   * A leaf certificate and key (PEM) for `localhost`, `127.0.0.1` and `::1`, plus any
   * extra DNS names given; files are kept under the module's dir and reused while valid.
   */
  serverCert(opts?: { dnsNames?: string[] }): Promise<{ cert: string; key: string }>;
}

export interface SimContext {
  /** This module's own state directory, `DIR/<name>/` (already created, mode 0700). */
  dir: string;
  /** The sim's root directory `DIR` (shared files: `sim.json`, `ca/`). */
  rootDir: string;
  /** Address to bind: `127.0.0.1` unless told otherwise. Always loopback. */
  host: string;
  log: SimLogger;
  /** This module's endpoint from the previous run (from `DIR/sim.json`), if any. */
  previous?: SimEndpoint;
  /** Endpoints of modules already started in this run, by name. */
  peers: ReadonlyMap<string, SimEndpoint>;
  /** The shared local CA. */
  tls: SimTls;
  /** Module-specific options from the command line or `startSim({ options })`. */
  options: Readonly<Record<string, string | number | boolean | undefined>>;
}

export interface SimHandle {
  endpoint: SimEndpoint;
  stop(): Promise<void>;
}

export interface SimModule {
  /** Lower-case name used with `--only` and as the key in sim.json, e.g. `mcns`. */
  name: string;
  /** One line for `mcp-sim --help`. */
  description: string;
  /** Modules that must start before this one (and are started with it). */
  dependsOn?: readonly string[];
  start(ctx: SimContext): Promise<SimHandle>;
}

/**
 * Listens on `preferred` when it is given and free, else on an ephemeral port; resolves
 * with the port bound. Tests run many sims at once, so a taken port is not an error.
 */
export async function listenPreferred(
  server: Server,
  host: string,
  preferred?: number,
): Promise<number> {
  if (preferred !== undefined && preferred > 0) {
    try {
      await listenOnce(server, host, preferred);
      return boundPort(server);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    }
  }
  await listenOnce(server, host, 0);
  return boundPort(server);
}

async function listenOnce(server: Server, host: string, port: number): Promise<void> {
  const failed = once(server, "error");
  const listening = once(server, "listening");
  server.listen({ host, port, exclusive: true });
  const winner = await Promise.race([
    listening.then(() => null),
    failed.then(([err]) => err as Error),
  ]);
  if (winner) throw winner;
}

function boundPort(server: Server): number {
  const addr = server.address();
  if (addr === null || typeof addr === "string")
    throw new Error("server is not bound to a TCP port");
  return addr.port;
}

/** Closes a server and waits for it; also ends idle keep-alive connections. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve, reject) =>
    server.close((err) => (err ? reject(err) : resolve())),
  );
  const s = server as Server & { closeAllConnections?: () => void };
  s.closeAllConnections?.();
  await closed;
}

/** `host:port` in URL form (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
