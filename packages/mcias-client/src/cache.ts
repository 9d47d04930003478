import { createHash } from "node:crypto";
import type { CallOptions, MciasClient, TokenValidation } from "./client.ts";

export interface CachedValidatorOptions {
  /** How long a valid answer is reused; default 30 s. */
  ttlMs?: number;
  /** Most entries kept; the least recently used go first. Default 10 000. */
  maxEntries?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

interface Entry {
  result: TokenValidation & { valid: true };
  until: number;
}

/**
 * Validates tokens through MCIAS and reuses a valid answer for 30 s, but never past the
 * token's own expiry. Keys are SHA-256 digests of the token, so the raw token is not
 * kept in memory longer than a call. Only valid answers are cached: an invalid token
 * goes to MCIAS each time, and MCIAS being down is an error (MciasUnavailableError),
 * never a pass. A revoked token therefore stays usable for at most `ttlMs`.
 * Concurrent validations of the same token share one MCIAS call.
 */
export class CachedValidator {
  readonly #client: Pick<MciasClient, "validateToken">;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<TokenValidation>>();

  constructor(client: Pick<MciasClient, "validateToken">, opts: CachedValidatorOptions = {}) {
    this.#client = client;
    this.#ttlMs = opts.ttlMs ?? 30_000;
    this.#max = Math.max(1, opts.maxEntries ?? 10_000);
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async validate(token: string, opts?: CallOptions): Promise<TokenValidation> {
    const key = createHash("sha256").update(token).digest("hex");
    const now = this.#now();
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      if (hit.until > now) {
        this.#entries.set(key, hit); // most recently used goes last
        return hit.result;
      }
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const call = this.#client.validateToken(token, opts).then((result) => {
      if (result.valid) {
        const until = Math.min(this.#now() + this.#ttlMs, result.expiresAt.getTime());
        if (until > this.#now()) this.#put(key, { result, until });
      }
      return result;
    });
    this.#inflight.set(key, call);
    try {
      return await call;
    } finally {
      this.#inflight.delete(key);
    }
  }

  /** Forgets a token (e.g. after the caller learned it was revoked). */
  forget(token: string): void {
    this.#entries.delete(createHash("sha256").update(token).digest("hex"));
  }

  clear(): void {
    this.#entries.clear();
  }

  #put(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}
