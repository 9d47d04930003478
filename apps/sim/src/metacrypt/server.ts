import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { isIP } from "node:net";
import { join } from "node:path";
import { closeServer, hostPort, listenPreferred } from "../framework.ts";
import { PROFILES, type Profile, SimCa } from "./ca.ts";
import { parseGoDuration } from "./duration.ts";
import { type MciasPeer, tokenChecker } from "./tokens.ts";

export interface MetacryptSimOptions {
  /** The module's state directory (`DIR/metacrypt/` under mcp-sim): CA, index, tokens. */
  dir: string;
  host?: string;
  /** Port to prefer (kept across restarts when free); otherwise a free one. */
  port?: number;
  /**
   * Decides whether a bearer token may issue, instead of the default: the tokens in
   * `<dir>/tokens` (one per line; created with one random token if missing), or any token
   * that `mcias` validates.
   */
  validateToken?: (token: string) => boolean | Promise<boolean>;
  /** MCIAS to validate tokens with, in addition to the token file. */
  mcias?: MciasPeer;
  /** Engine mounts that exist (default `["pki"]`); others answer 404. */
  mounts?: readonly string[];
  /** Longest TTL granted (default 8760h); longer requests answer 400. */
  maxTtlMs?: number;
}

export interface MetacryptSim {
  /** `https://host:port` */
  url: string;
  port: number;
  /** PEM of the root CA: trust it to talk to the sim and to check what it issues. */
  caPem: string;
  /** `<dir>/ca.pem` */
  caFile: string;
  /** The first token of the token file (undefined when `validateToken` was given). */
  token: string | undefined;
  tokensFile: string | undefined;
  ca: SimCa;
  stop(): Promise<void>;
}

const MAX_BODY = 1 << 20;
const LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/i;

/** Starts the Metacrypt stand-in: a real CA behind HTTPS, see apps/sim/src/metacrypt/README.md. */
export async function startMetacryptSim(options: MetacryptSimOptions): Promise<MetacryptSim> {
  const dir = options.dir;
  const ca = await SimCa.open(dir);
  const host = options.host ?? "127.0.0.1";
  const mounts = new Set(options.mounts ?? ["pki"]);
  const maxTtlMs = options.maxTtlMs ?? 8760 * 3_600_000;

  let token: string | undefined;
  let tokensFile: string | undefined;
  let validate = options.validateToken;
  if (!validate) {
    const checker = await tokenChecker({
      tokensFile: join(dir, "tokens"),
      serviceName: "metacrypt",
      ...(options.mcias ? { mcias: options.mcias } : {}),
    });
    token = checker.staticToken;
    tokensFile = checker.tokensFile;
    validate = checker.validate;
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

  const port = await listenPreferred(server, host, options.port);
  return {
    url: `https://${hostPort(host, port)}`,
    port,
    caPem: ca.caPem,
    caFile: ca.caFile,
    token,
    tokensFile,
    ca,
    stop: () => closeServer(server),
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
