import { Agent, type Dispatcher, request } from "undici";
import { MciasBadResponseError, MciasUnauthorizedError, MciasUnavailableError } from "./errors.ts";

export interface LoginRequest {
  username: string;
  password: string;
  /** Current TOTP code, for accounts with a second factor. */
  totpCode?: string;
}

export interface LoginResult {
  token: string;
  expiresAt: Date;
}

/** The answer to "is this token valid?". Admin is the `admin` role only. */
export type TokenValidation =
  | { valid: true; username: string; roles: string[]; expiresAt: Date }
  | { valid: false };

export interface CallOptions {
  /** Aborts the call; the abort reason is thrown as is. */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

export interface MciasClient {
  login(req: LoginRequest, opts?: CallOptions): Promise<LoginResult>;
  /** Asks MCIAS whether `token` is valid. An invalid token is `{valid: false}`, not an error. */
  validateToken(token: string, opts?: CallOptions): Promise<TokenValidation>;
}

export interface MciasClientOptions {
  /** e.g. `https://mcias.example.net:8443`. */
  baseUrl: string;
  /** This caller's service name, sent as `service_name` when validating. */
  serviceName: string;
  /**
   * CA certificate(s) (PEM) to trust for MCIAS behind a private CA. They replace, not
   * extend, Node's built-in roots for this client (Node's `tls` `ca` semantics).
   */
  ca?: string | Buffer | (string | Buffer)[];
  /** Per-call timeout; default 5000 ms. */
  timeoutMs?: number;
  /** Use this undici dispatcher instead of creating one (then `ca` is ignored). */
  dispatcher?: Dispatcher;
}

export const DEFAULT_TIMEOUT_MS = 5000;

const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;

/** True when the validation is valid and carries the `admin` role. */
export function isAdmin(v: TokenValidation): boolean {
  return v.valid && v.roles.includes("admin");
}

function parseDate(value: unknown, field: string, status: number): Date {
  const d = typeof value === "string" ? new Date(value) : undefined;
  if (!d || Number.isNaN(d.getTime()))
    throw new MciasBadResponseError(`MCIAS response: ${field} is not a timestamp`, status);
  return d;
}

/** The HTTP(S) implementation of the MCIAS contract, on undici. */
export class HttpMciasClient implements MciasClient {
  readonly #base: URL;
  readonly #serviceName: string;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(opts: MciasClientOptions) {
    try {
      this.#base = new URL(opts.baseUrl);
    } catch (e) {
      throw new TypeError(`MCIAS base URL "${opts.baseUrl}" is not a URL`, { cause: e });
    }
    if (this.#base.protocol !== "https:" && this.#base.protocol !== "http:")
      throw new TypeError(`MCIAS base URL "${opts.baseUrl}" must be http(s)`);
    if (!opts.serviceName) throw new TypeError("MCIAS client: serviceName is required");
    this.#serviceName = opts.serviceName;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#ownsDispatcher = opts.dispatcher === undefined;
    this.#dispatcher =
      opts.dispatcher ?? new Agent(opts.ca !== undefined ? { connect: { ca: opts.ca } } : {});
  }

  async login(req: LoginRequest, opts: CallOptions = {}): Promise<LoginResult> {
    const body: Record<string, string> = { username: req.username, password: req.password };
    if (req.totpCode !== undefined) body.totp_code = req.totpCode;
    const { status, json } = await this.#post("/v1/auth/login", body, undefined, opts);
    if (status === 401 || status === 403)
      throw new MciasUnauthorizedError("MCIAS rejected the username, password or TOTP code");
    if (status !== 200) throw unexpected(status, json);
    const o = json as Record<string, unknown>;
    if (typeof o.token !== "string" || o.token === "")
      throw new MciasBadResponseError("MCIAS login response has no token", status);
    return { token: o.token, expiresAt: parseDate(o.expires_at, "expires_at", status) };
  }

  async validateToken(token: string, opts: CallOptions = {}): Promise<TokenValidation> {
    // Bearer tokens are token68 (RFC 6750); anything else cannot be valid, and must not
    // be spliced into a header.
    if (!TOKEN68.test(token)) return { valid: false };
    const { status, json } = await this.#post(
      "/v1/token/validate",
      { service_name: this.#serviceName },
      token,
      opts,
    );
    // Some deployments answer an invalid bearer token with 401 rather than valid:false.
    if (status === 401) return { valid: false };
    if (status === 403)
      throw new MciasUnauthorizedError(
        `MCIAS refused token validation for service "${this.#serviceName}"`,
      );
    if (status !== 200) throw unexpected(status, json);
    const o = json as Record<string, unknown>;
    if (typeof o.valid !== "boolean")
      throw new MciasBadResponseError("MCIAS validate response has no boolean 'valid'", status);
    if (!o.valid) return { valid: false };
    if (typeof o.username !== "string" || o.username === "")
      throw new MciasBadResponseError("MCIAS validate response has no username", status);
    if (!Array.isArray(o.roles) || !o.roles.every((r) => typeof r === "string"))
      throw new MciasBadResponseError(
        "MCIAS validate response: roles is not a list of strings",
        status,
      );
    return {
      valid: true,
      username: o.username,
      roles: o.roles as string[],
      expiresAt: parseDate(o.expires_at, "expires_at", status),
    };
  }

  /** Closes the connection pool this client created. */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #post(
    path: string,
    body: unknown,
    bearer: string | undefined,
    opts: CallOptions,
  ): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, this.#base);
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        dispatcher: this.#dispatcher,
        signal,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      if (timeout.aborted)
        throw new MciasUnavailableError(
          `MCIAS at ${this.#base.origin} did not answer within ${timeoutMs} ms`,
          {
            cause: e,
          },
        );
      const reason = (e as { code?: string; message?: string }).code ?? (e as Error).message;
      throw new MciasUnavailableError(`MCIAS at ${this.#base.origin} is unreachable (${reason})`, {
        cause: e,
      });
    }
    if (status >= 500)
      throw new MciasUnavailableError(`MCIAS at ${this.#base.origin} failed with HTTP ${status}`);
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch (e) {
      throw new MciasBadResponseError(
        `MCIAS answered HTTP ${status} with a body that is not JSON`,
        status,
        {
          cause: e,
        },
      );
    }
    if (status === 200 && (typeof json !== "object" || json === null || Array.isArray(json)))
      throw new MciasBadResponseError("MCIAS answered HTTP 200 without a JSON object", status);
    return { status, json };
  }
}

function unexpected(status: number, json: unknown): MciasBadResponseError {
  const detail =
    typeof json === "object" &&
    json !== null &&
    typeof (json as { error?: unknown }).error === "string"
      ? `: ${(json as { error: string }).error}`
      : "";
  return new MciasBadResponseError(`MCIAS answered HTTP ${status}${detail}`, status);
}

export function createMciasClient(opts: MciasClientOptions): HttpMciasClient {
  return new HttpMciasClient(opts);
}
