import net from "node:net";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { ProxyAdminService, type Route, RouteMode } from "@mcp/proto/mcproxy/v1";
import { McProxyBadResponseError, McProxyUnreachableError } from "./errors.ts";
import { toMcProxyError } from "./map-error.ts";

export type McProxyRouteMode = "l4" | "l7";

export interface McProxyStatus {
  version: string;
}

export interface McProxyListener {
  /** The listener's address as the proxy names it, e.g. ":443"; routes refer to it. */
  address: string;
  routeCount: number;
}

export interface McProxyRoute {
  listener: string;
  hostname: string;
  /** `host:port` the proxy forwards to. */
  backend: string;
  mode: McProxyRouteMode;
  /** L7: certificate chain and key paths on the proxy's host ("" for L4). */
  tlsCert: string;
  tlsKey: string;
  /** L7: the proxy speaks TLS to the backend. */
  backendTls: boolean;
}

export interface AddRouteInput {
  listener: string;
  hostname: string;
  backend: string;
  mode: McProxyRouteMode;
  /** Required for L7: absolute paths readable by the proxy. */
  tlsCert?: string;
  tlsKey?: string;
  backendTls?: boolean;
}

export interface McProxyClient {
  status(): Promise<McProxyStatus>;
  listListeners(): Promise<McProxyListener[]>;
  /** Routes of one listener, or of every listener when `listener` is omitted. */
  listRoutes(listener?: string): Promise<McProxyRoute[]>;
  /**
   * Adds the route, or replaces the route for the same hostname on the same listener: new
   * connections go to the new backend at once, established ones are left alone. L7 certificate
   * files are (re)read by the proxy on every add.
   */
  addRoute(route: AddRouteInput): Promise<void>;
  /** Removes the route; `McProxyNotFoundError` when there is none. */
  removeRoute(listener: string, hostname: string): Promise<void>;
  /** Closes the connection to the proxy. Calls after this fail. */
  close(): void;
}

export interface McProxyClientOptions {
  /** Path of mc-proxy's admin socket, e.g. /srv/mc-proxy/mc-proxy.sock. */
  socketPath: string;
  /** Deadline of every call, including connecting. Default 5000 ms. */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 5_000;

const MODE_TO_PROTO = { l4: RouteMode.L4, l7: RouteMode.L7 } as const;

function routeFromProto(route: Route): McProxyRoute {
  const mode = route.mode === RouteMode.L4 ? "l4" : route.mode === RouteMode.L7 ? "l7" : undefined;
  if (mode === undefined || route.hostname === "" || route.backend === "") {
    throw new McProxyBadResponseError(
      `mc-proxy ListRoutes: route ${JSON.stringify(route.hostname)} has no hostname, backend or known mode`,
    );
  }
  return {
    listener: route.listener,
    hostname: route.hostname,
    backend: route.backend,
    mode,
    tlsCert: route.tlsCert,
    tlsKey: route.tlsKey,
    backendTls: route.backendTls,
  };
}

export function createMcProxyClient(options: McProxyClientOptions): McProxyClient {
  const { socketPath } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0))
    throw new RangeError(`mcproxy-client: timeoutMs must be positive, got ${timeoutMs}`);
  // Node's http2.connect has no unix-socket address form; the authority stays "localhost" and
  // the connection itself is made to the socket path.
  const sessionManager = new Http2SessionManager(
    "http://localhost",
    { idleConnectionTimeoutMs: 60_000 },
    { createConnection: () => net.connect(socketPath) },
  );
  const transport = createGrpcTransport({
    baseUrl: "http://localhost",
    sessionManager,
    defaultTimeoutMs: timeoutMs,
  });
  const rpc: Client<typeof ProxyAdminService> = createClient(ProxyAdminService, transport);

  let closed = false;

  async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    // The session manager would quietly reconnect; a closed client must not.
    if (closed) throw new McProxyUnreachableError(`mc-proxy ${what}: the client is closed`);
    try {
      return await run();
    } catch (err) {
      throw toMcProxyError(err, what, socketPath);
    }
  }

  const listRoutesOf = (listener: string) =>
    call("ListRoutes", async () => (await rpc.listRoutes({ listener })).routes.map(routeFromProto));

  const listListeners = () =>
    call("ListListeners", async () =>
      (await rpc.listListeners({})).listeners.map((l) => ({
        address: l.address,
        routeCount: l.routeCount,
      })),
    );

  return {
    status: () => call("Status", async () => ({ version: (await rpc.status({})).version })),
    listListeners,
    async listRoutes(listener) {
      if (listener !== undefined) return listRoutesOf(listener);
      const listeners = await listListeners();
      const all = await Promise.all(listeners.map((l) => listRoutesOf(l.address)));
      return all.flat();
    },
    addRoute: (route) =>
      call("AddRoute", async () => {
        await rpc.addRoute({
          listener: route.listener,
          hostname: route.hostname,
          backend: route.backend,
          mode: MODE_TO_PROTO[route.mode] ?? RouteMode.UNSPECIFIED,
          tlsCert: route.tlsCert ?? "",
          tlsKey: route.tlsKey ?? "",
          backendTls: route.backendTls ?? false,
        });
      }),
    removeRoute: (listener, hostname) =>
      call("RemoveRoute", async () => {
        await rpc.removeRoute({ listener, hostname });
      }),
    close() {
      closed = true;
      sessionManager.abort();
    },
  };
}
