import { Agent, type Dispatcher, request } from "undici";
import {
  isMcnsConflictError,
  isMcnsNotFoundError,
  McnsBadResponseError,
  McnsConflictError,
  McnsNotFoundError,
  McnsRejectedError,
  McnsServerError,
  McnsTimeoutError,
  McnsUnauthorizedError,
  McnsUnreachableError,
} from "./errors.ts";
import {
  checkNewRecord,
  type DnsRecord,
  type NewRecord,
  normaliseZone,
  parseCreated,
  parseRecordList,
  type RecordType,
  relativeName,
  sameRecord,
} from "./records.ts";

export interface CallOptions {
  /** Aborts the call early; the client's timeout applies as well. */
  signal?: AbortSignal;
}

export interface RecordFilter {
  name?: string;
  type?: RecordType;
}

export interface EnsureResult {
  record: DnsRecord;
  /** False when an identical record was already there. */
  created: boolean;
}

export interface McnsClient {
  listRecords(zone: string, filter?: RecordFilter, options?: CallOptions): Promise<DnsRecord[]>;
  /** Fails with `McnsConflictError` when the record clashes with one that exists. */
  createRecord(zone: string, record: NewRecord, options?: CallOptions): Promise<DnsRecord>;
  deleteRecord(zone: string, id: string, options?: CallOptions): Promise<void>;
  /** Creates the record, or accepts an identical one that exists; any other clash stays a conflict. */
  ensureRecord(zone: string, record: NewRecord, options?: CallOptions): Promise<EnsureResult>;
  /** Deletes every record at `name` (of `type` only, if given); returns how many went. */
  removeRecords(
    zone: string,
    name: string,
    options?: CallOptions & { type?: RecordType },
  ): Promise<number>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}

export interface McnsClientOptions {
  /** Base URL of the MCNS API, e.g. `https://127.0.0.1:8053`. */
  url: string;
  /** Bearer token. Never logged, never put in an error message. */
  token: string;
  /** PEM of the CA(s) to trust for the server's certificate, instead of the system store. */
  ca?: string | Buffer;
  /** Per-call timeout in milliseconds (default 10 000). */
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export function createMcnsClient(options: McnsClientOptions): McnsClient {
  return new HttpMcnsClient(options);
}

class HttpMcnsClient implements McnsClient {
  readonly #base: URL;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #dispatcher: Agent | undefined;

  constructor(options: McnsClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch (cause) {
      throw new TypeError(`mcns url is not a URL: ${JSON.stringify(options.url)}`, { cause });
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new TypeError(`mcns url must be http(s): ${base.origin}`);
    }
    if (options.token.trim() === "") throw new TypeError("mcns token is empty");
    this.#base = base;
    this.#token = options.token.trim();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#dispatcher =
      options.ca === undefined ? undefined : new Agent({ connect: { ca: options.ca } });
  }

  async listRecords(
    zone: string,
    filter: RecordFilter = {},
    options?: CallOptions,
  ): Promise<DnsRecord[]> {
    const z = normaliseZone(zone);
    const query = new URLSearchParams();
    if (filter.name !== undefined) query.set("name", relativeName(filter.name, z));
    if (filter.type !== undefined) query.set("type", filter.type);
    const qs = query.size > 0 ? `?${query}` : "";
    const { status, json } = await this.#call(
      "GET",
      `${zonePath(z)}/records${qs}`,
      undefined,
      options?.signal,
    );
    return parseRecordList(json, status);
  }

  async createRecord(zone: string, record: NewRecord, options?: CallOptions): Promise<DnsRecord> {
    const z = normaliseZone(zone);
    const body = checkNewRecord(z, record);
    const { status, json } = await this.#call(
      "POST",
      `${zonePath(z)}/records`,
      body,
      options?.signal,
    );
    return parseCreated(json, status);
  }

  async deleteRecord(zone: string, id: string, options?: CallOptions): Promise<void> {
    const z = normaliseZone(zone);
    if (id === "") throw new TypeError("mcns: record id is empty");
    await this.#call(
      "DELETE",
      `${zonePath(z)}/records/${encodeURIComponent(id)}`,
      undefined,
      options?.signal,
    );
  }

  async ensureRecord(
    zone: string,
    record: NewRecord,
    options?: CallOptions,
  ): Promise<EnsureResult> {
    const z = normaliseZone(zone);
    const wanted = checkNewRecord(z, record);
    try {
      return { record: await this.createRecord(z, wanted, options), created: true };
    } catch (e) {
      if (!isMcnsConflictError(e)) throw e;
      const existing = await this.listRecords(z, { name: wanted.name, type: wanted.type }, options);
      const same = existing.find((r) => sameRecord(r, wanted));
      if (same) return { record: same, created: false };
      throw e;
    }
  }

  async removeRecords(
    zone: string,
    name: string,
    options?: CallOptions & { type?: RecordType },
  ): Promise<number> {
    const z = normaliseZone(zone);
    const filter: RecordFilter = { name: relativeName(name, z) };
    if (options?.type !== undefined) filter.type = options.type;
    const records = await this.listRecords(z, filter, options);
    let removed = 0;
    for (const r of records) {
      try {
        await this.deleteRecord(z, r.id, options);
        removed++;
      } catch (e) {
        // Someone else removed it in between: the outcome the caller asked for.
        if (!isMcnsNotFoundError(e)) throw e;
      }
    }
    return removed;
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
    const what = `mcns ${method} ${url.pathname}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
    let status: number;
    let text: string;
    try {
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.#token}`,
        accept: "application/json",
      };
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await request(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (cause) {
      if (timeout.aborted) {
        throw new McnsTimeoutError(
          `${what}: no answer within ${this.#timeoutMs} ms from ${url.origin}`,
          { cause },
        );
      }
      if (callerSignal?.aborted) throw cause;
      throw new McnsUnreachableError(`${what}: cannot reach ${url.origin}: ${describe(cause)}`, {
        cause,
      });
    }
    if (status >= 200 && status < 300) {
      if (method === "DELETE" || status === 204) return { status, json: undefined };
      try {
        return { status, json: JSON.parse(text) as unknown };
      } catch (cause) {
        throw new McnsBadResponseError(
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
    if (status === 401 || status === 403) throw new McnsUnauthorizedError(message, { status });
    if (status === 404) throw new McnsNotFoundError(message, { status });
    if (status === 409) throw new McnsConflictError(message, { status });
    if (status >= 500) throw new McnsServerError(message, { status });
    throw new McnsRejectedError(message, { status });
  }
}

function zonePath(zone: string): string {
  return `/v1/zones/${encodeURIComponent(zone)}`;
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
