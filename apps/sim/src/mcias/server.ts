// The MCIAS wire contract (docs: /work/shared/DESIGN.md "Wire contracts"), served over
// HTTPS:
//   POST /v1/auth/login      {username, password, totp_code?} -> {token, expires_at}
//   POST /v1/token/validate  Authorization: Bearer <token>, {service_name}
//                            -> {valid, username, roles, expires_at}
//   POST /v1/token/revoke    Authorization: Bearer <token> -> {revoked: true}  (sim extra)
//   GET  /v1/health          -> {status: "ok"}                                 (sim extra)
// An unknown, expired or revoked token validates as {valid: false} with status 200: the
// call itself succeeded. Tokens are never logged.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Secret, TOTP } from "otpauth";
import type { SimLogger } from "../framework.ts";
import type { MciasStore } from "./store.ts";
import { hashPassword, verifyPassword } from "./store.ts";

const MAX_BODY = 64 * 1024;

export interface MciasServerOptions {
  store: MciasStore;
  tokenTtlMs: number;
  log: SimLogger;
  now?: () => number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new HttpError(400, "request body must be a JSON object");
  return body as Record<string, unknown>;
}

function bearer(req: IncomingMessage): string {
  const h = req.headers.authorization ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  if (!m?.[1]) throw new HttpError(401, "missing Authorization: Bearer token");
  return m[1];
}

export function mciasHandler(opts: MciasServerOptions) {
  const { store, log } = opts;
  const now = opts.now ?? Date.now;
  // Unknown users are checked against this hash so that a wrong name and a wrong
  // password take the same time.
  const dummyHash = hashPassword("not a password");

  function totpOk(secret: string, code: unknown): boolean {
    if (typeof code !== "string" || !/^\d{6}$/.test(code)) return false;
    const totp = new TOTP({
      secret: Secret.fromBase32(secret),
      algorithm: "SHA1",
      digits: 6,
      period: 30,
    });
    return totp.validate({ token: code, timestamp: now(), window: 1 }) !== null;
  }

  async function login(req: IncomingMessage, res: ServerResponse) {
    const body = await readJson(req);
    const { username, password } = body;
    if (typeof username !== "string" || typeof password !== "string")
      throw new HttpError(400, "username and password are required strings");
    const account = await store.account(username);
    const ok = await verifyPassword(password, account?.password ?? (await dummyHash));
    if (!account?.password || !ok) {
      log.info("login failed", { username });
      throw new HttpError(401, "invalid username or password");
    }
    if (account.totp_secret && !totpOk(account.totp_secret, body.totp_code)) {
      log.info("login failed: TOTP", { username });
      throw new HttpError(401, "invalid or missing totp_code");
    }
    const { token, expiresAt } = await store.issueToken(account.username, opts.tokenTtlMs, now());
    log.info("login", { username: account.username, expires_at: expiresAt.toISOString() });
    send(res, 200, { token, expires_at: expiresAt.toISOString() });
  }

  async function validate(req: IncomingMessage, res: ServerResponse) {
    const token = bearer(req);
    const body = await readJson(req);
    if (typeof body.service_name !== "string" || body.service_name === "")
      throw new HttpError(400, "service_name is required");
    const rec = await store.token(token);
    const account = rec ? await store.account(rec.username) : undefined;
    if (!rec || !account || rec.revoked || Date.parse(rec.expiresAt) <= now()) {
      send(res, 200, { valid: false, username: "", roles: [], expires_at: null });
      return;
    }
    send(res, 200, {
      valid: true,
      username: account.username,
      roles: account.roles,
      expires_at: rec.expiresAt,
    });
  }

  async function revoke(req: IncomingMessage, res: ServerResponse) {
    const token = bearer(req);
    await readJson(req);
    if (!(await store.revokeToken(token))) throw new HttpError(404, "unknown token");
    log.info("token revoked");
    send(res, 200, { revoked: true });
  }

  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    "POST /v1/auth/login": login,
    "POST /v1/token/validate": validate,
    "POST /v1/token/revoke": revoke,
    "GET /v1/health": async (_req, res) => send(res, 200, { status: "ok" }),
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    const route = routes[`${req.method} ${path}`];
    const run = route
      ? route(req, res)
      : Promise.reject(
          new HttpError(
            Object.keys(routes).some((k) => k.endsWith(` ${path}`)) ? 405 : 404,
            `no route for ${req.method} ${path}`,
          ),
        );
    run.catch((e: unknown) => {
      if (e instanceof HttpError) {
        send(res, e.status, { error: e.message });
      } else {
        log.error("request failed", { path, error: (e as Error).message });
        if (!res.headersSent) send(res, 500, { error: "internal error" });
      }
    });
  };
}
