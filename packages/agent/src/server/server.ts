import { createSecureServer, type Http2SecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AgentService } from "@mcp/proto/agent/v1";
import type { Logger } from "pino";
import type { Agent } from "../agent.ts";
import { authInterceptor, callerKey, type ValidateToken } from "./auth.ts";
import { checkUnaryDecoding, decodeCheckInterceptor } from "./decode.ts";
import { toConnectError } from "./error-map.ts";
import { agentServiceImpl } from "./service.ts";

/**
 * Maps every error to a Connect code in one place (toConnectError) and logs each call
 * once: method, user, code, duration. Never the token or request bodies.
 */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const done = (code: Code | undefined, e?: unknown) => {
      const caller = req.contextValues.get(callerKey);
      const fields = {
        method: req.method.name,
        user: caller?.username,
        code: code === undefined ? "ok" : Code[code],
        ms: Math.round(performance.now() - started),
      };
      if (code === Code.Internal) log.error({ ...fields, err: e }, "rpc failed");
      else log.info(fields, "rpc");
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (e) {
      const ce = toConnectError(e);
      done(ce.code, e);
      throw ce;
    }
    if (!res.stream) {
      done(undefined);
      return res;
    }
    const inner = res.message;
    async function* mapped() {
      try {
        yield* inner;
        done(undefined);
      } catch (e) {
        const ce = toConnectError(e);
        done(ce.code, e);
        throw ce;
      }
    }
    return { ...res, message: mapped() } as typeof res;
  };
}

/** The largest request message the agent reads (8 MiB). */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export interface ServerOptions {
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  cert: Buffer | string;
  key: Buffer | string;
  validate: ValidateToken;
  log: Logger;
  /** Told of every request (the idle memory reducer). */
  onRequest?: () => void;
}

export function parseListen(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`invalid listen address "${addr}" (expected host:port)`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port: Number(m[3]) };
}

export interface RunningServer {
  server: Http2SecureServer;
  port: number;
  close(): Promise<void>;
}

/**
 * The agent's one listening port: HTTP/2 over TLS 1.3 (no older TLS, no HTTP/1.1), serving
 * AgentService in the gRPC, Connect and gRPC-web protocols, plus `GET /healthz` without a
 * token.
 */
/** How long open calls get to finish when the agent stops, before their connections go. */
const CLOSE_GRACE_MS = 2000;

export async function startServer(agent: Agent, opts: ServerOptions): Promise<RunningServer> {
  const handler = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      router.service(AgentService, agentServiceImpl(agent));
      // Undecodable unary requests: InvalidArgument after auth, not Internal (decode.ts).
      router.handlers.forEach((h, i) => {
        router.handlers[i] = checkUnaryDecoding(h, MAX_REQUEST_BYTES);
      });
    },
    interceptors: [
      errorInterceptor(opts.log),
      authInterceptor(opts.validate),
      decodeCheckInterceptor(),
    ],
    // A node's definitions are kilobytes; a bigger request is refused (ResourceExhausted)
    // before it is buffered, instead of up to the library's 4 GiB default.
    readMaxBytes: MAX_REQUEST_BYTES,
  });
  const server = createSecureServer(
    {
      cert: opts.cert,
      key: opts.key,
      minVersion: "TLSv1.3",
      allowHTTP1: false,
    },
    (req, res) => {
      opts.onRequest?.();
      if (req.method === "GET" && req.url === "/healthz") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            status: "ok",
            node: agent.info.nodeName,
            version: agent.info.agentVersion,
          }),
        );
        return;
      }
      handler(req, res);
    },
  );
  // Idle streams (a `logs --follow` nobody reads) must not keep the process from exiting,
  // nor a client that never answers the goaway: a session closed gracefully leaves its
  // socket half-open (FIN-WAIT-2) until the peer closes, and server.close() waits for it.
  // So the sockets are tracked too, below the sessions, and destroyed after a grace period.
  const sessions = new Set<import("node:http2").ServerHttp2Session>();
  const sockets = new Set<import("node:net").Socket>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("connection", (socket: import("node:net").Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const { host, port } = parseListen(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.close();
        server.close(() => resolve());
        setTimeout(() => {
          for (const s of sessions) s.destroy();
          for (const s of sockets) s.destroy();
        }, CLOSE_GRACE_MS).unref();
      }),
  };
}
