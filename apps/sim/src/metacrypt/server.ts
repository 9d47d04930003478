import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { isIP } from "node:net";
import { join } from "node:path";
import { PROFILES, type Profile, SimCa, writeAtomic } from "./ca.ts";
import { parseGoDuration } from "./duration.ts";

export interface MetacryptSimOptions {
  /** State directory; the sim keeps its files in `<dir>/metacrypt/`. */
  dir: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * Decides whether a bearer token may issue. When absent, tokens are read from
   * `<dir>/metacrypt/tokens` (one per line); if that file does not exist it is created
   * with one random token, returned as `token`.
   */
  validateToken?: (token: string) => boolean | Promise<boolean>;
  /** Engine mounts that exist (default `["pki"]`); others answer 404. */
  mounts?: readonly string[];
  /** Longest TTL granted (default 8760h); longer requests answer 400. */
  maxTtlMs?: number;
}

export interface MetacryptSim {
  /** `https://host:port` */
  url: string;
  /** PEM of the root CA: trust it to talk to the sim and to check what it issues. */
  caPem: string;
  /** `<dir>/metacrypt/ca.pem` */
  caFile: string;
  /** The token from the tokens file, when no `validateToken` was given. */
  token: string | undefined;
  ca: SimCa;
  stop(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/i;

/** Starts the Metacrypt stand-in: a real CA behind HTTPS, see apps/sim/src/metacrypt/README.md. */
export async function startMetacryptSim(options: MetacryptSimOptions): Promise<MetacryptSim> {
  const dir = join(options.dir, "metacrypt");
  const ca = await SimCa.open(dir);
  const host = options.host ?? "127.0.0.1";
  const mounts = new Set(options.mounts ?? ["pki"]);
  const maxTtlMs = options.maxTtlMs ?? 8760 * 3_600_000;

  let token: string | undefined;
  let validate = options.validateToken;
  if (!validate) {
    const tokens = await loadTokens(join(dir, "tokens"));
    token = tokens[0];
    validate = (t) => tokens.some((known) => safeEqual(known, t));
  }

  // The sim's own serving certificate comes from its CA, so clients trust it through ca.pem.
  const serving = await ca.issue({
    commonName: "metacrypt.sim",
    dnsNames: ["localhost"],
    ipAddresses: [
      "127.0.0.1",
      "::1",
      ...(isIP(host) && !["127.0.0.1", "::1"].includes(host) ? [host] : []),
    ],
    ttlMs: 30 * 24 * 3_600_000,
    profile: "server",
    issuer: "sim-internal",
  });

  const server = createServer(
    { cert: serving.certificate + ca.caPem, key: serving.privateKey, minVersion: "TLSv1.2" },
    (req, res) => {
      handle(req, res).catch((e: unknown) => {
        send(res, 500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` });
      });
    },
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://sim");
    if (req.method === "GET" && url.pathname === "/v1/health")
      return send(res, 200, { status: "ok" });
    if (req.method === "GET" && url.pathname === "/v1/ca") {
      res.writeHead(200, { "content-type": "application/x-pem-file" });
      res.end(ca.caPem);
      return;
    }
    if (url.pathname !== "/v1/engine/request")
      return send(res, 404, { error: `no route ${url.pathname}` });
    if (req.method !== "POST") return send(res, 405, { error: `method ${req.method} not allowed` });

    const auth = req.headers.authorization ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m || !(await validate?.(m[1] as string)))
      return send(res, 401, { error: "invalid or missing token" });

    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (e) {
      return send(res, 400, {
        error: `body is not JSON: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    const parsed = parseIssueBody(body, mounts, maxTtlMs);
    if ("error" in parsed) return send(res, parsed.status, { error: parsed.error });
    const issued = await ca.issue(parsed);
    send(res, 200, {
      data: {
        certificate: issued.certificate,
        private_key: issued.privateKey,
        ca_chain: issued.caChain,
        serial: issued.serial,
        expires_at: issued.expiresAt.toISOString(),
      },
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("metacrypt sim: no TCP address");
  const urlHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `https://${urlHost}:${addr.port}`,
    caPem: ca.caPem,
    caFile: ca.caFile,
    token,
    ca,
    stop: () => close(server),
  };
}

type IssueBody =
  | { error: string; status: number }
  | {
      commonName: string;
      dnsNames: string[];
      ipAddresses: string[];
      ttlMs: number;
      profile: Profile;
      issuer: string;
    };

/** Checks the request body the way the engine would; first problem wins, named by field. */
export function parseIssueBody(
  body: unknown,
  mounts: ReadonlySet<string>,
  maxTtlMs: number,
): IssueBody {
  const bad = (error: string) => ({ error, status: 400 });
  if (!isObject(body)) return bad("body must be a JSON object");
  if (typeof body.mount !== "string" || body.mount === "") return bad("mount is required");
  if (!mounts.has(body.mount))
    return { error: `no engine mounted at ${JSON.stringify(body.mount)}`, status: 404 };
  if (body.operation !== "issue")
    return bad(`operation ${JSON.stringify(body.operation)} is not supported`);
  if (typeof body.path !== "string" || body.path === "") return bad("path is required");
  const data = body.data;
  if (!isObject(data)) return bad("data must be an object");
  if (typeof data.issuer !== "string" || data.issuer === "") return bad("data.issuer is required");
  if (typeof data.common_name !== "string" || !isHostname(data.common_name)) {
    return bad("data.common_name must be a host name");
  }
  const profile = data.profile ?? "server";
  if (typeof profile !== "string" || !(PROFILES as readonly string[]).includes(profile)) {
    return bad(`data.profile must be one of ${PROFILES.join(", ")}`);
  }
  const dnsNames = data.dns_names ?? [];
  if (!Array.isArray(dnsNames) || !dnsNames.every((n) => typeof n === "string" && isHostname(n))) {
    return bad("data.dns_names must be an array of host names");
  }
  const ips = data.ip_addresses ?? [];
  if (!Array.isArray(ips) || !ips.every((n) => typeof n === "string" && isIP(n) !== 0)) {
    return bad("data.ip_addresses must be an array of IP addresses");
  }
  if (typeof data.ttl !== "string") return bad("data.ttl is required (a duration such as 2160h)");
  let ttlMs: number;
  try {
    ttlMs = parseGoDuration(data.ttl);
  } catch (e) {
    return bad(`data.ttl: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (ttlMs < 1000) return bad("data.ttl must be at least 1s");
  if (ttlMs > maxTtlMs)
    return bad(`data.ttl ${data.ttl} exceeds the maximum of ${maxTtlMs / 3_600_000}h`);
  return {
    commonName: data.common_name,
    dnsNames: dnsNames as string[],
    ipAddresses: ips as string[],
    ttlMs,
    profile: profile as Profile,
    issuer: data.issuer,
  };
}

function isHostname(s: string): boolean {
  return s.length <= 253 && s.split(".").every((l) => LABEL.test(l));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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
  await writeAtomic(file, `${token}\n`, 0o600);
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

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((e) => (e ? reject(e) : resolve()));
    server.closeAllConnections();
  });
}
