// One listening socket of the mc-proxy stand-in: reads the SNI of each new connection, looks the
// route up once (so a route switch affects new connections only, never established ones), then
// either pipes the raw TLS stream to the backend (L4) or terminates TLS with the route's
// certificate and forwards HTTP/1.1 to the backend (L7).

import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { parseBackend, type RouteSpec } from "./routes.ts";
import { MAX_CLIENT_HELLO, parseClientHelloSni } from "./sni.ts";

export interface ActiveRoute {
  spec: RouteSpec;
  /** Present for L7 routes: built from the route's certificate files when it was added. */
  secureContext?: tls.SecureContext;
}

export interface ListenerOptions {
  name: string;
  host: string;
  port: number;
  lookup(hostname: string): ActiveRoute | undefined;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /** How long a client may take to send its ClientHello. */
  helloTimeoutMs?: number;
  /** How long connecting to a backend may take. */
  connectTimeoutMs?: number;
}

export interface RunningListener {
  name: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are not forwarded.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function upstreamHeaders(
  req: http.IncomingMessage,
  route: RouteSpec,
  client: string,
): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {};
  const connectionTokens = new Set(
    String(req.headers.connection ?? "")
      .split(",")
      .map((t) => t.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.has(name)) continue;
    headers[name] = value;
  }
  const prior = req.headers["x-forwarded-for"];
  headers["x-forwarded-for"] = prior ? `${prior}, ${client}` : client;
  headers["x-forwarded-proto"] = "https";
  headers["x-forwarded-host"] = req.headers.host ?? route.hostname;
  return headers;
}

function statusAndHeaders(res: http.IncomingMessage, drop?: Set<string>): string {
  let out = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (drop?.has(res.rawHeaders[i]!.toLowerCase())) continue;
    out += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
  }
  if (drop) out += "connection: close\r\n";
  return `${out}\r\n`;
}

export async function startListener(options: ListenerOptions): Promise<RunningListener> {
  const log = options.log ?? (() => {});
  const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const sockets = new Set<net.Socket>();
  const routeOf = new WeakMap<net.Socket, RouteSpec>();
  const clientAddress = new WeakMap<net.Socket, string>();
  const httpAgent = new http.Agent({ keepAlive: true });
  // Backends are addressed by IP and port, so their certificates cannot match the name; the sim
  // encrypts to them but does not verify them.
  const httpsAgent = new https.Agent({ keepAlive: true, rejectUnauthorized: false });

  const httpServer = http.createServer((req, res) => {
    const route = routeOf.get(req.socket);
    if (!route) {
      res.writeHead(502).end("no route\n");
      return;
    }
    forward(route, req, res, clientAddress.get(req.socket) ?? "");
  });
  httpServer.on("clientError", (_err, socket) => socket.destroy());
  httpServer.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const route = routeOf.get(req.socket);
    if (!route) {
      socket.destroy();
      return;
    }
    upgrade(route, req, socket, head, clientAddress.get(req.socket) ?? "");
  });

  // WebSocket and other `Upgrade:` requests: forward the handshake on a connection of its
  // own, then splice the two sockets once the backend has switched protocols.
  function upgrade(
    route: RouteSpec,
    req: http.IncomingMessage,
    socket: net.Socket,
    head: Buffer,
    client: string,
  ): void {
    const backend = parseBackend(route.backend);
    const fail = () => {
      if (socket.writable) {
        socket.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      } else socket.destroy();
    };
    if (!backend.ok) {
      fail();
      return;
    }
    const headers = upstreamHeaders(req, route, client);
    headers.connection = "upgrade";
    headers.upgrade = req.headers.upgrade ?? "";
    const upstream = (route.backendTls ? https : http).request({
      host: backend.value.host,
      port: backend.value.port,
      method: req.method,
      path: req.url,
      headers,
      agent: false,
      timeout: connectTimeoutMs,
      ...(route.backendTls ? { servername: route.hostname, rejectUnauthorized: false } : {}),
    });
    socket.on("error", () => upstream.destroy());
    upstream.on("timeout", () => upstream.destroy(new Error("backend did not answer the upgrade")));
    upstream.on("error", (err) => {
      log("mcproxy.backend_error", {
        hostname: route.hostname,
        backend: route.backend,
        err: `${err}`,
      });
      fail();
    });
    upstream.on("upgrade", (res, upSocket, upHead) => {
      upSocket.setTimeout(0);
      sockets.add(upSocket);
      socket.write(statusAndHeaders(res));
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
      const end = () => {
        socket.destroy();
        upSocket.destroy();
      };
      upSocket.on("error", end);
      upSocket.on("close", () => {
        sockets.delete(upSocket);
        end();
      });
      socket.on("close", end);
    });
    upstream.on("response", (res) => {
      // The backend declined to switch protocols: relay its answer, delimited by closing the
      // connection (Node has already undone any chunked framing of the body).
      socket.write(
        statusAndHeaders(res, new Set(["transfer-encoding", "connection", "content-length"])),
      );
      res.pipe(socket);
    });
    upstream.end();
  }

  function forward(
    route: RouteSpec,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    client: string,
  ): void {
    const backend = parseBackend(route.backend);
    if (!backend.ok) {
      res.writeHead(502).end("bad backend\n");
      return;
    }
    const headers = upstreamHeaders(req, route, client);
    const upstream = (route.backendTls ? https : http).request({
      host: backend.value.host,
      port: backend.value.port,
      method: req.method,
      path: req.url,
      headers,
      agent: route.backendTls ? httpsAgent : httpAgent,
      ...(route.backendTls ? { servername: route.hostname } : {}),
    });
    const connectTimer = setTimeout(
      () => upstream.destroy(new Error(`connecting to ${route.backend} timed out`)),
      connectTimeoutMs,
    );
    upstream.on("socket", (socket) => {
      // A kept-alive socket from the agent is already connected.
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once("connect", () => clearTimeout(connectTimer));
    });
    upstream.on("close", () => clearTimeout(connectTimer));
    upstream.on("response", (up) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(up.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        out[name] = value;
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
      up.pipe(res);
      up.on("error", () => res.destroy());
    });
    upstream.on("error", (err) => {
      log("mcproxy.backend_error", {
        hostname: route.hostname,
        backend: route.backend,
        err: `${err}`,
      });
      if (!res.headersSent) res.writeHead(502).end("backend unreachable\n");
      else res.destroy();
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  function passThrough(socket: net.Socket, route: RouteSpec, hello: Buffer): void {
    const backend = parseBackend(route.backend);
    if (!backend.ok) {
      socket.destroy();
      return;
    }
    const upstream = net.connect({ host: backend.value.host, port: backend.value.port });
    sockets.add(upstream);
    upstream.setTimeout(connectTimeoutMs, () => {
      if (upstream.connecting)
        upstream.destroy(new Error(`connecting to ${route.backend} timed out`));
    });
    upstream.once("connect", () => upstream.setTimeout(0));
    upstream.on("close", () => sockets.delete(upstream));
    upstream.setNoDelay(true);
    upstream.write(hello);
    socket.pipe(upstream);
    upstream.pipe(socket);
    const end = () => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on("error", (err) => {
      log("mcproxy.backend_error", {
        hostname: route.hostname,
        backend: route.backend,
        err: `${err}`,
      });
      end();
    });
    socket.on("error", end);
    upstream.on("close", end);
    socket.on("close", end);
    socket.resume();
  }

  function terminate(socket: net.Socket, route: ActiveRoute, hello: Buffer): void {
    if (!route.secureContext) {
      socket.destroy();
      return;
    }
    // The bytes already read go back into the socket; TLSSocket feeds a socket's buffered data
    // into the TLS engine before reading further.
    socket.unshift(hello);
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: route.secureContext,
      ALPNProtocols: ["http/1.1"],
    });
    sockets.add(secure);
    routeOf.set(secure, route.spec);
    clientAddress.set(secure, socket.remoteAddress ?? "");
    const handshakeTimer = setTimeout(() => secure.destroy(), helloTimeoutMs);
    secure.once("secure", () => {
      clearTimeout(handshakeTimer);
      httpServer.emit("connection", secure);
    });
    secure.on("error", (err) => {
      clearTimeout(handshakeTimer);
      log("mcproxy.tls_error", { hostname: route.spec.hostname, err: `${err}` });
      secure.destroy();
      socket.destroy();
    });
    secure.on("close", () => {
      clearTimeout(handshakeTimer);
      sockets.delete(secure);
    });
  }

  const server = net.createServer({ pauseOnConnect: false }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => socket.destroy(), helloTimeoutMs);
    socket.once("close", () => clearTimeout(timer));
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const hello = Buffer.concat(chunks, size);
      const result = parseClientHelloSni(hello);
      if (result.status === "incomplete") {
        if (size > MAX_CLIENT_HELLO + 1024) socket.destroy();
        return;
      }
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      if (result.status === "invalid" || result.serverName === undefined) {
        log("mcproxy.refused", {
          listener: options.name,
          reason: result.status === "invalid" ? result.reason : "no server name",
        });
        socket.destroy();
        return;
      }
      const route = options.lookup(result.serverName);
      if (!route) {
        log("mcproxy.refused", {
          listener: options.name,
          hostname: result.serverName,
          reason: "no route",
        });
        socket.destroy();
        return;
      }
      if (route.spec.mode === "l4") passThrough(socket, route.spec, hello);
      else terminate(socket, route, hello);
    };
    socket.on("data", onData);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    name: options.name,
    host: address.address,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      httpServer.closeAllConnections();
      httpAgent.destroy();
      httpsAgent.destroy();
      await closed;
    },
  };
}
