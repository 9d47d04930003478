// The mc-proxy stand-in: SNI-routing TLS listeners on loopback plus the ProxyAdminService admin
// API (gRPC over HTTP/2 on a unix socket), with routes kept in <dir>/routes.json.
//
// Listener names are the public addresses the real proxy listens on (":443", ":8443",
// ":9443"); the sim serves each on a loopback port and records the mapping in
// <dir>/state.json.

import { chmod, readFile, rm, stat } from "node:fs/promises";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ProxyAdminService, type Route, RouteMode, RouteSchema } from "@mcp/proto/mcproxy/v1";
import { type ActiveRoute, type RunningListener, startListener } from "./dataplane.ts";
import { normalizeHostname, type RouteSpec, validateRoute } from "./routes.ts";
import { readRoutesFile, readStateFile, writeJsonAtomic } from "./store.ts";

export const MCPROXY_SIM_VERSION = "sim-1.2.1";

export interface McProxyListenerConfig {
  /** Public address the route's `listener` names, e.g. ":8443". */
  address: string;
  /** Loopback port to serve it on; 0 (default) reuses the port of the last run, else any free port. */
  port?: number;
}

export interface McProxySimOptions {
  /** State directory: routes.json, state.json and (by default) the admin socket. */
  dir: string;
  listeners?: McProxyListenerConfig[];
  /** Default `<dir>/mc-proxy.sock`. */
  socketPath?: string;
  /**
   * File mode for the admin socket (e.g. 0o666 when the agent runs as another user than the
   * sim); default: whatever the umask gives.
   */
  socketMode?: number;
  /** Loopback address for the listeners, default 127.0.0.1. */
  host?: string;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

export interface McProxySimListener {
  address: string;
  host: string;
  port: number;
}

export interface McProxySim {
  socketPath: string;
  listeners: McProxySimListener[];
  stop(): Promise<void>;
}

export const DEFAULT_LISTENERS: McProxyListenerConfig[] = [
  { address: ":443" },
  { address: ":8443" },
  { address: ":9443" },
];

const modeToProto = { l4: RouteMode.L4, l7: RouteMode.L7 } as const;

function modeFromProto(mode: RouteMode): "l4" | "l7" | undefined {
  if (mode === RouteMode.L4) return "l4";
  if (mode === RouteMode.L7) return "l7";
  return undefined;
}

async function loadSecureContext(spec: RouteSpec): Promise<tls.SecureContext> {
  const read = async (what: string, file: string) => {
    if (!path.isAbsolute(file)) {
      throw new ConnectError(
        `route ${spec.hostname}: ${what} "${file}" is not an absolute path`,
        Code.InvalidArgument,
      );
    }
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConnectError(
        `route ${spec.hostname}: cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
        Code.InvalidArgument,
      );
    }
  };
  const cert = await read("tls_cert", spec.tlsCert);
  const key = await read("tls_key", spec.tlsKey);
  try {
    // The proxy terminates with TLS 1.3 only (spec: "Minimum TLS 1.3. No exceptions.").
    return tls.createSecureContext({ cert, key, minVersion: "TLSv1.3" });
  } catch (err) {
    throw new ConnectError(
      `route ${spec.hostname}: tls_cert/tls_key are not a matching PEM certificate and key: ${(err as Error).message}`,
      Code.InvalidArgument,
    );
  }
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

export async function startMcProxySim(options: McProxySimOptions): Promise<McProxySim> {
  const log = options.log ?? (() => {});
  const base = options.dir;
  const routesFile = path.join(base, "routes.json");
  const stateFile = path.join(base, "state.json");
  const socketPath = options.socketPath ?? path.join(base, "mc-proxy.sock");
  const host = options.host ?? "127.0.0.1";
  // sockaddr_un holds 108 bytes with the terminating NUL; a longer path fails obscurely.
  if (Buffer.byteLength(socketPath) > 107) {
    throw new Error(`mcproxy sim: socket path ${socketPath} is longer than 107 bytes`);
  }
  const configs = options.listeners ?? DEFAULT_LISTENERS;
  const addresses = configs.map((c) => c.address);
  if (new Set(addresses).size !== addresses.length) {
    throw new Error(`mcproxy sim: listener addresses must be unique (${addresses.join(", ")})`);
  }

  // listener → hostname → route. Replacing an entry is one Map.set, so a switch is atomic for
  // new connections; established ones keep the route they were given.
  const table = new Map<string, Map<string, ActiveRoute>>(addresses.map((a) => [a, new Map()]));
  const parked: RouteSpec[] = [];
  for (const spec of await readRoutesFile(routesFile)) {
    const routes = table.get(spec.listener);
    if (!routes) {
      // Kept on disk (and out of service) so that a run with fewer listeners loses nothing.
      parked.push(spec);
      log("mcproxy.route_parked", {
        hostname: spec.hostname,
        listener: spec.listener,
        reason: "listener not configured",
      });
      continue;
    }
    let secureContext: tls.SecureContext | undefined;
    if (spec.mode === "l7") {
      // A route whose files went away stays listed, but its connections are refused.
      secureContext = await loadSecureContext(spec).catch((err: unknown) => {
        log("mcproxy.cert_unreadable", { hostname: spec.hostname, err: `${err}` });
        return undefined;
      });
    }
    routes.set(spec.hostname, secureContext ? { spec, secureContext } : { spec });
  }

  const previous = await readStateFile(stateFile);
  const running: RunningListener[] = [];
  const stopAll = async () => {
    await Promise.all(running.map((l) => l.close()));
  };
  try {
    for (const config of configs) {
      const routes = table.get(config.address)!;
      const start = (port: number) =>
        startListener({
          name: config.address,
          host,
          port,
          lookup: (hostname) => routes.get(hostname),
          log,
        });
      const reuse = previous?.listeners.find((l) => l.address === config.address)?.port;
      if (!config.port && reuse) {
        running.push(await start(reuse).catch(() => start(0)));
      } else {
        running.push(await start(config.port ?? 0));
      }
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  let persisting = Promise.resolve();
  // Writes are chained so that the file always ends with the latest table, whatever the order
  // in which concurrent calls finish.
  const persist = () => {
    const snapshot = [
      ...[...table.values()].flatMap((routes) => [...routes.values()].map((r) => r.spec)),
      ...parked,
    ];
    const next = persisting.then(() =>
      writeJsonAtomic(routesFile, { version: 1, routes: snapshot }),
    );
    persisting = next.catch(() => {});
    return next;
  };

  const toProto = (spec: RouteSpec): Route =>
    create(RouteSchema, {
      listener: spec.listener,
      hostname: spec.hostname,
      backend: spec.backend,
      mode: modeToProto[spec.mode],
      tlsCert: spec.tlsCert,
      tlsKey: spec.tlsKey,
      backendTls: spec.backendTls,
    });

  const routesOf = (listener: string) => {
    if (listener === "") throw new ConnectError("listener is required", Code.InvalidArgument);
    const routes = table.get(listener);
    if (!routes) {
      throw new ConnectError(
        `listener "${listener}" does not exist (have ${addresses.join(", ")})`,
        Code.NotFound,
      );
    }
    return routes;
  };

  const register = (router: ConnectRouter) =>
    router.service(ProxyAdminService, {
      status: () => ({ version: MCPROXY_SIM_VERSION }),
      listListeners: () => ({
        listeners: addresses.map((address) => ({ address, routeCount: table.get(address)!.size })),
      }),
      listRoutes: (req) => ({
        routes: [...routesOf(req.listener).values()]
          .map((r) => toProto(r.spec))
          .sort((a, b) => (a.hostname < b.hostname ? -1 : 1)),
      }),
      addRoute: async (req) => {
        const routes = routesOf(req.listener);
        const checked = validateRoute(
          {
            listener: req.listener,
            hostname: req.hostname,
            backend: req.backend,
            mode: modeFromProto(req.mode),
            tlsCert: req.tlsCert,
            tlsKey: req.tlsKey,
            backendTls: req.backendTls,
          },
          addresses,
        );
        if (!checked.ok) throw new ConnectError(checked.message, Code.InvalidArgument);
        const spec = checked.value;
        // Files are re-read on every add, so re-adding a route picks up a renewed certificate.
        const route: ActiveRoute =
          spec.mode === "l7" ? { spec, secureContext: await loadSecureContext(spec) } : { spec };
        const replaced = routes.get(spec.hostname);
        routes.set(spec.hostname, route);
        try {
          await persist();
        } catch (err) {
          if (replaced) routes.set(spec.hostname, replaced);
          else routes.delete(spec.hostname);
          throw new ConnectError(`cannot save routes: ${err}`, Code.Internal);
        }
        log("mcproxy.route_added", {
          listener: spec.listener,
          hostname: spec.hostname,
          backend: spec.backend,
          mode: spec.mode,
          replaced: !!replaced,
        });
        return {};
      },
      removeRoute: async (req) => {
        const routes = routesOf(req.listener);
        const host = normalizeHostname(req.hostname);
        if (!host.ok) throw new ConnectError(host.message, Code.InvalidArgument);
        const existing = routes.get(host.value);
        if (!existing) {
          throw new ConnectError(
            `no route for ${host.value} on listener ${req.listener}`,
            Code.NotFound,
          );
        }
        routes.delete(host.value);
        try {
          await persist();
        } catch (err) {
          routes.set(host.value, existing);
          throw new ConnectError(`cannot save routes: ${err}`, Code.Internal);
        }
        log("mcproxy.route_removed", { listener: req.listener, hostname: host.value });
        return {};
      },
    });

  const server = http2.createServer(
    connectNodeAdapter({ routes: register, grpc: true, connect: false, grpcWeb: false }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  try {
    // A socket file left by a process that died is stale; a live one means a second proxy.
    const existing = await stat(socketPath).catch(() => undefined);
    if (existing?.isSocket()) {
      if (await socketAnswers(socketPath)) throw new Error("another process is serving it");
      await rm(socketPath);
    }
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await stopAll();
    throw new Error(`mcproxy sim: cannot listen on ${socketPath}: ${(err as Error).message}`, {
      cause: err,
    });
  }

  if (options.socketMode !== undefined) await chmod(socketPath, options.socketMode);
  const listeners = running.map((l) => ({ address: l.name, host: l.host, port: l.port }));
  await writeJsonAtomic(stateFile, { version: 1, socketPath, listeners });
  log("mcproxy.started", { socketPath, listeners });

  let stopped: Promise<void> | undefined;
  return {
    socketPath,
    listeners,
    stop() {
      stopped ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of sessions) session.destroy();
        await stopAll();
        await closed;
        await persisting;
        await rm(socketPath, { force: true });
      })();
      return stopped;
    },
  };
}
