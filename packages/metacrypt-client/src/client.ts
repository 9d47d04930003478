import { Agent, type Dispatcher, request } from "undici";
import {
  MetacryptBadResponseError,
  MetacryptNotFoundError,
  MetacryptRejectedError,
  MetacryptServerError,
  MetacryptTimeoutError,
  MetacryptUnauthorizedError,
  MetacryptUnreachableError,
} from "./errors.ts";
import { parseIssueResponse } from "./response.ts";

/** What to issue. Field names follow Metacrypt's `/v1/engine/request` body, in camelCase. */
export interface IssueCertificateRequest {
  /** The PKI engine mount, e.g. `"pki"`. */
  mount: string;
  /** The engine path (role), e.g. `"web"`. */
  path: string;
  /** The issuer that signs, e.g. `"web"`. */
  issuer: string;
  commonName: string;
  /** Certificate profile, e.g. `"server"`. */
  profile: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Go-style duration understood by Metacrypt, e.g. `"2160h"`. */
  ttl: string;
}

export interface IssuedCertificate {
  /** Leaf certificate, PEM. */
  certificate: string;
  /** Private key of the leaf, PEM. Treat as a secret. */
  privateKey: string;
  /** Issuing chain, one PEM per element, leaf's issuer first. */
  caChain: string[];
  serial: string;
  expiresAt: Date;
}

export interface CallOptions {
  /** Aborts the call early; the client's timeout applies as well. */
  signal?: AbortSignal;
}

export interface MetacryptClient {
  issueCertificate(req: IssueCertificateRequest, options?: CallOptions): Promise<IssuedCertificate>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}

export interface MetacryptClientOptions {
  /** Base URL, e.g. `https://127.0.0.1:18443`. */
  url: string;
  /** Bearer token. Never logged, never put in an error message. */
  token: string;
  /** PEM of the CA(s) to trust for the server's certificate, instead of the system store. */
  ca?: string | Buffer;
  /** Per-call timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export function createMetacryptClient(options: MetacryptClientOptions): MetacryptClient {
  return new HttpMetacryptClient(options);
}

class HttpMetacryptClient implements MetacryptClient {
  readonly #base: URL;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #dispatcher: Agent | undefined;

  constructor(options: MetacryptClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch (cause) {
      throw new TypeError(`metacrypt url is not a URL: ${JSON.stringify(options.url)}`, { cause });
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new TypeError(`metacrypt url must be http(s): ${base.origin}`);
    }
    if (options.token.trim() === "") throw new TypeError("metacrypt token is empty");
    this.#base = base;
    this.#token = options.token.trim();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#dispatcher =
      options.ca === undefined ? undefined : new Agent({ connect: { ca: options.ca } });
  }

  async issueCertificate(
    req: IssueCertificateRequest,
    options?: CallOptions,
  ): Promise<IssuedCertificate> {
    const body = {
      mount: req.mount,
      operation: "issue",
      path: req.path,
      data: {
        issuer: req.issuer,
        common_name: req.commonName,
        profile: req.profile,
        dns_names: req.dnsNames ?? [],
        ip_addresses: req.ipAddresses ?? [],
        ttl: req.ttl,
      },
    };
    const { status, json } = await this.#call("POST", "/v1/engine/request", body, options?.signal);
    return parseIssueResponse(json, status);
  }

  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  async #call(
    method: Dispatcher.HttpMethod,
    path: string,
    body: unknown,
    callerSignal: AbortSignal | undefined,
  ): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, this.#base);
    const what = `metacrypt ${method} ${url.pathname}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (cause) {
      if (timeout.aborted) {
        throw new MetacryptTimeoutError(
          `${what}: no answer within ${this.#timeoutMs} ms from ${url.origin}`,
          {
            cause,
          },
        );
      }
      if (callerSignal?.aborted) throw cause;
      throw new MetacryptUnreachableError(
        `${what}: cannot reach ${url.origin}: ${describe(cause)}`,
        { cause },
      );
    }
    if (status >= 200 && status < 300) {
      try {
        return { status, json: JSON.parse(text) as unknown };
      } catch (cause) {
        throw new MetacryptBadResponseError(
          "body",
          `${what}: answered ${status} with a body that is not JSON`,
          {
            cause,
            status,
          },
        );
      }
    }
    const detail = serverMessage(text);
    const message = `${what}: ${status}${detail ? ` ${detail}` : ""}`;
    if (status === 401 || status === 403) throw new MetacryptUnauthorizedError(message, { status });
    if (status === 404) throw new MetacryptNotFoundError(message, { status });
    if (status >= 500) throw new MetacryptServerError(message, { status });
    throw new MetacryptRejectedError(message, { status });
  }
}

/** The server's own one-line reason, if it sent `{error}` or `{message}`; cut short. */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as unknown;
    if (typeof j === "object" && j !== null) {
      const m = (j as Record<string, unknown>).error ?? (j as Record<string, unknown>).message;
      if (typeof m === "string") return oneLine(m);
    }
  } catch {
    // not JSON: fall through to plain text
  }
  return oneLine(text);
}

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    const inner = e.cause instanceof Error ? (e.cause as { code?: unknown }).code : undefined;
    return [
      typeof code === "string" ? code : undefined,
      typeof inner === "string" ? inner : undefined,
      e.message,
    ]
      .filter(Boolean)
      .join(": ");
  }
  return String(e);
}
