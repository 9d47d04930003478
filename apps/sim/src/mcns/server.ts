import { randomBytes, timingSafeEqual } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from "node:net";
import { dirname, join } from "node:path";
import * as dnsPacket from "dns-packet";
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
  /** State directory; the sim keeps `records.json` and `tokens` in `<dir>/mcns/`. */
  dir: string;
  host?: string;
  /** REST API port; 0 (default) picks a free one. */
  port?: number;
  /** DNS port, UDP and TCP alike; 0 (default) picks one free for both. */
  dnsPort?: number;
  /** Zones served (default `["svc.mcp.metacircular.net"]`). */
  zones?: readonly string[];
  /** Serve the API over HTTPS with this certificate (e.g. issued by the Metacrypt sim). */
  tls?: { cert: string; key: string };
  /**
   * Decides whether a bearer token may use the API. When absent, tokens are read from
   * `<dir>/mcns/tokens` (one per line); if that file does not exist it is created with one
   * random token, returned as `token`.
   */
  validateToken?: (token: string) => boolean | Promise<boolean>;
}

export interface McnsSim {
  /** `http(s)://host:port` of the REST API. */
  url: string;
  /** Host the DNS server listens on. */
  dnsHost: string;
  dnsPort: number;
  zones: string[];
  token: string | undefined;
  store: RecordStore;
  stop(): Promise<void>;
}

export const DEFAULT_ZONES = ["svc.mcp.metacircular.net"];
const MAX_BODY = 1 << 16;
const UDP_PLAIN_LIMIT = 512;
const TCP_IDLE_MS = 10_000;

/** Starts the MCNS stand-in: REST API plus an authoritative DNS server; see README.md here. */
export async function startMcnsSim(options: McnsSimOptions): Promise<McnsSim> {
  const dir = join(options.dir, "mcns");
  const host = options.host ?? "127.0.0.1";
  const zones = (options.zones ?? DEFAULT_ZONES).map(normaliseDomain);
  const store = await RecordStore.open(join(dir, "records.json"), zones);

  let token: string | undefined;
  let validate = options.validateToken;
  if (!validate) {
    const tokens = await loadTokens(join(dir, "tokens"));
    token = tokens[0];
    validate = (t) => tokens.some((known) => safeEqual(known, t));
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
  await listen(http, options.port ?? 0, host);
  const dns = await startDns(host, options.dnsPort ?? 0, view);

  const addr = http.address();
  if (addr === null || typeof addr === "string") throw new Error("mcns sim: no TCP address");
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `${options.tls ? "https" : "http"}://${urlHost}:${addr.port}`,
    dnsHost: host,
    dnsPort: dns.port,
    zones,
    token,
    store,
    stop: async () => {
      await Promise.all([closeServer(http), dns.stop()]);
    },
  };
}

/** Binds UDP and TCP on one port; with port 0 it tries a few free TCP ports until UDP gets the same. */
async function startDns(
  host: string,
  port: number,
  view: () => Zones,
): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  for (let attempt = 0; ; attempt++) {
    const tcp = createTcpServer((s) => serveTcp(s, view, sockets));
    await listen(tcp, port, host);
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
      await closeServer(tcp);
      udp.close();
      if (port !== 0 || attempt >= 10) throw e;
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

async function loadTokens(file: string): Promise<string[]> {
  try {
    const tokens = (await readFile(file, "utf8"))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    if (tokens.length === 0) throw new Error(`${file}: no tokens in the file`);
    return tokens;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const token = randomBytes(24).toString("base64url");
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(`${file}.tmp`, `${token}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return [token];
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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

function listen(server: Server | TcpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeServer(server: Server | TcpServer): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e ? reject(e) : resolve()));
    if ("closeAllConnections" in server) server.closeAllConnections();
  });
}
