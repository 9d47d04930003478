// A token server of the Docker/OCI distribution token auth spec
// (distribution/docs/spec/auth/token.md), in front of the sim's MCIAS:
//   GET /token?service=<service>&scope=repository:<name>:<actions>[&scope=…]
//     Authorization: Basic <user:password>   MCIAS login with those credentials, or
//                    Basic <any:mcias-token>  the password is an MCIAS token (validated)
//                    Bearer <mcias-token>     validated
//     -> 200 {token, access_token, expires_in, issued_at}
//   GET /health -> {status: "ok"}
// Tokens are ES256 JWTs whose `kid` is the libtrust ID of the key in rootcertbundle.pem.
import { randomBytes } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { SimLogger } from "../framework.ts";
import { closeServer, hostPort, listenPreferred } from "../framework.ts";
import { type Access, grantAccess, parseScopes, signJwtEs256 } from "./jwt.ts";
import { ensureSigningKey } from "./keys.ts";
import { type Identity, login, type MciasPeer, validateToken } from "./mcias.ts";

export const DEFAULT_SERVICE = "mcr";
export const DEFAULT_ISSUER = "mcp-sim-registry-auth";
export const DEFAULT_TOKEN_TTL_S = 300;
/** The `service_name` the token service validates MCIAS tokens as. */
export const MCIAS_SERVICE_NAME = "mcr";

export interface RegistryAuthSimOptions {
  /** Keys live here (`signing-key.pem`, `rootcertbundle.pem`). */
  dir: string;
  host?: string;
  port?: number;
  /** Serve HTTPS with this certificate; default plain HTTP (loopback only). */
  tls?: { cert: string; key: string };
  mcias: MciasPeer;
  service?: string;
  issuer?: string;
  tokenTtlS?: number;
  log?: SimLogger;
}

export interface RegistryAuthSim {
  url: string;
  port: number;
  /** `url + "/token"`: the registry's `auth.token.realm`. */
  realm: string;
  service: string;
  issuer: string;
  /** The registry's `auth.token.rootcertbundle`. */
  rootCertBundle: string;
  kid: string;
  /** Counters, for tests and benchmarks. */
  stats: { tokenRequests: number; tokensIssued: number; refused: number };
  stop(): Promise<void>;
}

const silent: SimLogger = { info() {}, warn() {}, error() {} };

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

function refuse(res: ServerResponse, message: string) {
  sendJson(
    res,
    401,
    { errors: [{ code: "UNAUTHORIZED", message }] },
    {
      "www-authenticate": 'Basic realm="mcp-sim registry token service"',
    },
  );
}

export async function startRegistryAuthSim(opts: RegistryAuthSimOptions): Promise<RegistryAuthSim> {
  const host = opts.host ?? "127.0.0.1";
  const service = opts.service ?? DEFAULT_SERVICE;
  const issuer = opts.issuer ?? DEFAULT_ISSUER;
  const ttl = opts.tokenTtlS ?? DEFAULT_TOKEN_TTL_S;
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new Error(`token TTL ${ttl}: expected whole seconds ≥ 1`);
  const log = opts.log ?? silent;
  const signer = await ensureSigningKey(opts.dir);
  const stats = { tokenRequests: 0, tokensIssued: 0, refused: 0 };

  async function identify(req: IncomingMessage): Promise<Identity | undefined> {
    const auth = req.headers.authorization ?? "";
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth);
    if (bearer) return validateToken(opts.mcias, bearer[1] as string, MCIAS_SERVICE_NAME);
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth);
    if (!basic) return undefined;
    const decoded = Buffer.from(basic[1] as string, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (password === "") return undefined;
    // A real password first; if MCIAS refuses it, the password may be an MCIAS token
    // (then the Basic username is not checked: the token says who it is).
    const token = username !== "" ? await login(opts.mcias, username, password) : undefined;
    return validateToken(opts.mcias, token ?? password, MCIAS_SERVICE_NAME);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method === "GET" && url.pathname === "/health")
      return sendJson(res, 200, { status: "ok" });
    if (url.pathname !== "/token") return sendJson(res, 404, { error: "not found" });
    if (req.method !== "GET")
      return sendJson(res, 405, { error: "use GET /token" }, { allow: "GET" });
    stats.tokenRequests++;
    const asked = url.searchParams.get("service");
    if (asked !== null && asked !== service)
      return sendJson(res, 400, {
        errors: [{ code: "UNSUPPORTED", message: `unknown service "${asked}"` }],
      });
    let who: Identity | undefined;
    try {
      who = await identify(req);
    } catch (e) {
      log.error("MCIAS call failed", { error: (e as Error).message });
      return sendJson(res, 503, {
        errors: [{ code: "UNAVAILABLE", message: "MCIAS is unavailable" }],
      });
    }
    if (!who) {
      stats.refused++;
      log.info("token refused");
      return refuse(res, "invalid credentials");
    }
    const requested = parseScopes(url.searchParams.getAll("scope"));
    const access: Access[] = grantAccess(requested, who.roles);
    const now = Math.floor(Date.now() / 1000);
    const token = signJwtEs256(
      { typ: "JWT", kid: signer.kid },
      {
        iss: issuer,
        sub: who.username,
        aud: service,
        exp: now + ttl,
        nbf: now - 1,
        iat: now,
        jti: randomBytes(16).toString("hex"),
        access,
      },
      signer.key,
    );
    stats.tokensIssued++;
    log.info("token issued", {
      sub: who.username,
      access: access.map((a) => `${a.name}:${a.actions.join(",")}`).join(" "),
    });
    sendJson(res, 200, {
      token,
      access_token: token,
      expires_in: ttl,
      issued_at: new Date(now * 1000).toISOString(),
    });
  }

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      log.error("request failed", { error: (e as Error).message });
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.destroy();
    });
  };
  const server = opts.tls
    ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, listener)
    : createHttpServer(listener);
  const port = await listenPreferred(server, host, opts.port);
  const url = `${opts.tls ? "https" : "http"}://${hostPort(host, port)}`;
  return {
    url,
    port,
    realm: `${url}/token`,
    service,
    issuer,
    rootCertBundle: signer.certFile,
    kid: signer.kid,
    stats,
    stop: () => closeServer(server),
  };
}
