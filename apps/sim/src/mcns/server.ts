import { createSocket, type Socket as UdpSocket } from "node:dgram";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { join } from "node:path";
import * as dnsPacket from "dns-packet";
import { closeServer, hostPort, listenPreferred } from "../framework.ts";
import { type MciasPeer, tokenChecker } from "../metacrypt/tokens.ts";
import { answerQuery, RCODE, type Zones } from "./resolve.ts";
import {
  checkRecord,
  InvalidRecordError,
  normaliseDomain,
  RecordConflictError,
  RecordStore,
  type StoredRecord,
  toRelative,
} from "./store.ts";

export interface McnsSimOptions {
  /** The module's state directory (`DIR/mcns/` under mcp-sim): `records.json`, `tokens`. */
  dir: string;
  host?: string;
  /** REST API port to prefer (kept across restarts when free); otherwise a free one. */
  port?: number;
  /** DNS port to prefer, UDP and TCP alike; otherwise one free for both. */
  dnsPort?: number;
  /** Zones served (default `["svc.mcp.metacircular.net"]`). */
  zones?: readonly string[];
  /** Serve the API over HTTPS with this certificate (e.g. issued by the Metacrypt sim). */
  tls?: { cert: string; key: string };
  /**
   * Decides whether a bearer token may use the API, instead of the default: the tokens in
   * `<dir>/tokens` (one per line; created with one random token if missing), or any token
   * that `mcias` validates.
   */
  validateToken?: (token: string) => boolean | Promise<boolean>;
  /** MCIAS to validate tokens with, in addition to the token file. */
  mcias?: MciasPeer;
}

export interface McnsSim {
  /** `http(s)://host:port` of the REST API. */
  url: string;
  port: number;
  /** Host the DNS server listens on. */
  dnsHost: string;
  dnsPort: number;
  zones: string[];
  /** The first token of the token file (undefined when `validateToken` was given). */
  token: string | undefined;
  tokensFile: string | undefined;
  store: RecordStore;
  stop(): Promise<void>;
}

export const DEFAULT_ZONES = ["svc.mcp.metacircular.net"];
const MAX_BODY = 1 << 16;
const UDP_PLAIN_LIMIT = 512;
const TCP_IDLE_MS = 10_000;

/** Starts the MCNS stand-in: REST API plus an authoritative DNS server; see README.md here. */
export async function startMcnsSim(options: McnsSimOptions): Promise<McnsSim> {
  const dir = options.dir;
  const host = options.host ?? "127.0.0.1";
  const zones = (options.zones ?? DEFAULT_ZONES).map(normaliseDomain);
  const store = await RecordStore.open(join(dir, "records.json"), zones);

  let token: string | undefined;
  let tokensFile: string | undefined;
  let validate = options.validateToken;
  if (!validate) {
    const checker = await tokenChecker({
      tokensFile: join(dir, "tokens"),
      serviceName: "mcns",
      ...(options.mcias ? { mcias: options.mcias } : {}),
    });
    token = checker.staticToken;
    tokensFile = checker.tokensFile;
    validate = checker.validate;
  }

  const view = (): Zones => {
    const m = new Map<string, { serial: number; records: readonly StoredRecord[] }>();
    for (const z of zones) {
      const state = store.zone(z);
      if (state) m.set(z, state);
    }
    return m;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim");
    if (req.method === "GET" && url.pathname === "/v1/health")
      return send(res, 200, { status: "ok" });
    const m = /^\/v1\/zones\/([^/]+)\/records(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: `no route ${url.pathname}` });

    const auth = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (!auth || !(await validate?.(auth[1] as string)))
      return send(res, 401, { error: "invalid or missing token" });

    const zone = normaliseDomain(decodeURIComponent(m[1] as string));
    if (!zones.includes(zone)) return send(res, 404, { error: `no zone ${zone}` });
    const id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);

    if (id === undefined && req.method === "GET") {
      const filter: { name?: string; type?: string } = {};
      try {
        const name = url.searchParams.get("name");
        if (name !== null && name !== "") filter.name = toRelative(name, zone);
      } catch (e) {
        return send(res, 400, { error: (e as Error).message });
      }
      const type = url.searchParams.get("type");
      if (type !== null && type !== "") filter.type = type.toUpperCase();
      return send(res, 200, { records: store.list(zone, filter) });
    }
    if (id === undefined && req.method === "POST") {
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch (e) {
        return send(res, 400, { error: `body is not JSON: ${(e as Error).message}` });
      }
      try {
        return send(res, 201, await store.create(zone, checkRecord(zone, body)));
      } catch (e) {
        if (e instanceof InvalidRecordError) return send(res, 400, { error: e.message });
        if (e instanceof RecordConflictError) return send(res, 409, { error: e.message });
        throw e;
      }
    }
    if (id !== undefined && req.method === "DELETE") {
      if (!(await store.delete(zone, id)))
        return send(res, 404, { error: `no record ${id} in ${zone}` });
      res.writeHead(204).end();
      return;
    }
    return send(res, 405, { error: `method ${req.method} not allowed here` });
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) =>
      send(res, 500, { error: `internal error: ${(e as Error).message}` }),
    );
  };
  const http = options.tls
    ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
    : createHttpServer(onRequest);
  const port = await listenPreferred(http, host, options.port);
  let dns: { port: number; stop(): Promise<void> };
  try {
    dns = await startDns(host, options.dnsPort, view);
  } catch (e) {
    await closeServer(http);
    throw e;
  }
  return {
    url: `${options.tls ? "https" : "http"}://${hostPort(host, port)}`,
    port,
    dnsHost: host,
    dnsPort: dns.port,
    zones,
    token,
    tokensFile,
    store,
    stop: async () => {
      await Promise.all([closeServer(http), dns.stop()]);
    },
  };
}

/**
 * Binds UDP and TCP on one port: the preferred one when both are free, else a free TCP
 * port whose UDP twin is free too (a few tries, since tests run many sims at once).
 */
async function startDns(
  host: string,
  preferred: number | undefined,
  view: () => Zones,
): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const candidates = preferred
    ? [preferred, ...Array<number>(10).fill(0)]
    : Array<number>(10).fill(0);
  let lastError: unknown;
  for (const want of candidates) {
    const tcp = createTcpServer((s) => serveTcp(s, view, sockets));
    try {
      await listen(tcp, want, host);
    } catch (e) {
      lastError = e;
      continue;
    }
    const bound = (tcp.address() as { port: number }).port;
    const udp = createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(bound, host, () => {
          udp.off("error", reject);
          resolve();
        });
      });
    } catch (e) {
      lastError = e;
      await closeServer(tcp);
      udp.close();
      continue;
    }
    udp.on("message", (msg, rinfo) => serveUdp(udp, msg, rinfo, view));
    return {
      port: bound,
      stop: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([closeServer(tcp), new Promise<void>((r) => udp.close(() => r()))]);
      },
    };
  }
  throw new Error(`mcns sim: cannot bind DNS on ${host}: ${(lastError as Error)?.message}`);
}

function respond(msg: Buffer, view: () => Zones): dnsPacket.Packet | undefined {
  let query: dnsPacket.Packet;
  try {
    query = dnsPacket.decode(msg);
  } catch {
    // Too broken to decode: answer FORMERR if at least the header (and so the id) is there.
    if (msg.length < 12) return undefined;
    return { type: "response", id: msg.readUInt16BE(0), flags: RCODE.FORMERR };
  }
  if (query.type !== "query") return undefined;
  return answerQuery(query, view());
}

function serveUdp(
  udp: UdpSocket,
  msg: Buffer,
  rinfo: { address: string; port: number },
  view: () => Zones,
): void {
  const answer = respond(msg, view);
  if (!answer) return;
  let out = dnsPacket.encode(answer);
  let limit = UDP_PLAIN_LIMIT;
  try {
    const opt = dnsPacket.decode(msg).additionals?.find((a) => a.type === "OPT") as
      | { udpPayloadSize?: number }
      | undefined;
    if (opt?.udpPayloadSize) limit = Math.max(UDP_PLAIN_LIMIT, opt.udpPayloadSize);
  } catch {
    // already answered FORMERR above
  }
  if (out.length > limit) {
    // Too big for UDP: send the header with TC set so the resolver retries over TCP.
    out = dnsPacket.encode({
      ...answer,
      flags: (answer.flags ?? 0) | (1 << 9),
      answers: [],
      authorities: [],
    });
  }
  udp.send(out, rinfo.port, rinfo.address);
}

function serveTcp(socket: Socket, view: () => Zones, sockets: Set<Socket>): void {
  sockets.add(socket);
  socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => socket.destroy());
  let buf = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    // Each message is preceded by its length in two bytes (RFC 1035 §4.2.2).
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      const answer = respond(msg, view);
      if (answer) socket.write(dnsPacket.streamEncode(answer));
    }
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function listen(server: TcpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
