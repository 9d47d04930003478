/** Lifetime the distribution token spec assumes when the token endpoint gives no `expires_in`. */
export const DEFAULT_TOKEN_LIFETIME_S = 60;

interface Entry {
  token: string;
  scopes: ReadonlySet<string>;
  /** Epoch ms after which the token is not offered any more. */
  useUntil: number;
}

/**
 * Registry tokens by token service (realm + service) and scope. A token fetched for several
 * scopes at once answers for each of them. Tokens are dropped a little before they expire
 * (a tenth of their life, at most 5 s) so a request never carries one that dies in flight;
 * the clock is read from the moment the token was requested, not the server's `issued_at`,
 * so a skewed registry clock cannot make us keep a token too long.
 */
export class TokenCache {
  readonly #entries = new Map<string, Entry[]>();
  readonly #maxPerService: number;

  constructor(options: { maxPerService?: number } = {}) {
    this.#maxPerService = options.maxPerService ?? 256;
  }

  get(service: string, scope: string, now: number): string | undefined {
    const list = this.#entries.get(service);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i] as Entry;
      if (e.useUntil <= now) {
        list.splice(i, 1);
        continue;
      }
      if (e.scopes.has(scope)) return e.token;
    }
    return undefined;
  }

  put(
    service: string,
    scopes: readonly string[],
    token: string,
    expiresInS: number | undefined,
    requestedAt: number,
  ): void {
    const lifeMs =
      (expiresInS !== undefined && Number.isFinite(expiresInS) && expiresInS > 0
        ? expiresInS
        : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const margin = Math.min(5000, lifeMs / 10);
    let list = this.#entries.get(service);
    if (!list) {
      list = [];
      this.#entries.set(service, list);
    }
    list.push({ token, scopes: new Set(scopes), useUntil: requestedAt + lifeMs - margin });
    if (list.length > this.#maxPerService) list.splice(0, list.length - this.#maxPerService);
  }

  /** Forgets a token the registry refused before its time. */
  drop(service: string, token: string): void {
    const list = this.#entries.get(service);
    if (!list) return;
    const i = list.findIndex((e) => e.token === token);
    if (i >= 0) list.splice(i, 1);
  }

  clear(): void {
    this.#entries.clear();
  }
}
