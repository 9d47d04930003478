import { Agent, type Dispatcher, request } from "undici";
import {
  type AuthChallenge,
  parseLinkNext,
  parseWwwAuthenticate,
  repositoryScope,
} from "./challenge.ts";
import {
  isMcrError,
  McrBadResponseError,
  type McrError,
  McrInvalidArgumentError,
  McrNotFoundError,
  McrTimeoutError,
  McrUnauthorizedError,
  McrUnreachableError,
} from "./errors.ts";
import { mapLimit } from "./limit.ts";
import {
  checkRepository,
  checkTag,
  formatImageReference,
  type ImageReference,
  parseImageReference,
} from "./reference.ts";
import { TokenCache } from "./token-cache.ts";

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_PAGE_SIZE = 100;
export const DEFAULT_CONCURRENCY = 8;
/** Username sent with an MCIAS token as the Basic password when none is configured. */
export const DEFAULT_MCIAS_TOKEN_USERNAME = "mcias-token";

/** Every manifest kind a tag can point at: OCI and Docker v2, single-image and index/list. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
] as const;

/**
 * What the client presents to the registry's token service (the `realm` of the Bearer
 * challenge), never to the registry itself:
 * - `{username, password}`: HTTP Basic.
 * - `{mciasToken}`: an MCIAS token. With `as: "password"` (the default) it is sent as the
 *   Basic password with `username` (default `mcias-token`), which is what `podman login`
 *   and every Docker-compatible client can do too; with `as: "bearer"` it is sent as
 *   `Authorization: Bearer <token>` to the token endpoint, for token services that accept
 *   that (the sim's does).
 */
export type McrCredentials =
  | { username: string; password: string }
  | { mciasToken: string; as?: "password" | "bearer"; username?: string };

export interface McrClientOptions {
  /**
   * The registry's base URL, e.g. `https://mcr.svc.mcp.metacircular.net:8443`. `http://`
   * is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost): test registries.
   */
  url: string;
  credentials?: McrCredentials;
  /** CA certificate(s) (PEM) to trust for the registry and its token service. */
  ca?: string | Buffer | (string | Buffer)[];
  /** Per call, covering the token fetch and the retry; default 10 s. */
  timeoutMs?: number;
  /** Tags per page when listing (`?n=`); default 100. */
  pageSize?: number;
  /** Use this undici dispatcher instead of creating one (then `ca` is ignored). */
  dispatcher?: Dispatcher;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A repository and tag on this client's registry, or a full reference text. */
export type TagRef = string | { repository: string; tag: string };

export interface ManifestInfo {
  /** `Docker-Content-Digest`, when the registry sends it (distribution does). */
  digest?: string;
  /** The manifest's media type (`Content-Type`). */
  mediaType?: string;
}

export interface TagCheck {
  /** The reference as given. */
  ref: string;
  exists: boolean;
  digest?: string;
  /** Set when this one could not be checked; `exists` is then false. */
  error?: McrError;
}

export interface CheckTagsOptions extends CallOptions {
  /** Checks in flight at once; default 8. */
  concurrency?: number;
}

/** The registry operations MCP needs: does a tag exist, which tags are there. */
export interface McrClient {
  /** `host[:port]` of the registry, as image references name it. */
  readonly registry: string;
  /** The manifest's digest and type when `name:tag` exists, undefined when it does not. */
  manifest(ref: TagRef, opts?: CallOptions): Promise<ManifestInfo | undefined>;
  tagExists(ref: TagRef, opts?: CallOptions): Promise<boolean>;
  /** All tags of a repository (every page). Throws McrNotFoundError for an unknown repository. */
  listTags(repository: string, opts?: CallOptions): Promise<string[]>;
  /**
   * Checks many references with bounded concurrency; one failure does not stop the rest,
   * it is reported in that reference's `error`. The tokens for all repositories are fetched
   * up front in one token request when the registry uses token auth.
   */
  checkTags(refs: readonly string[], opts?: CheckTagsOptions): Promise<TagCheck[]>;
  close(): Promise<void>;
}

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return LOOPBACK_V4.test(h) || h === "[::1]" || h === "::1" || h === "localhost";
}

/** Gateway and overload answers: nothing useful answered, try again later. */
const UNAVAILABLE = new Set([502, 503, 504]);

const TOKEN_SAFE = /^[\x21-\x7e]+$/;

interface Deadline {
  signal: AbortSignal;
  timeout: AbortSignal;
  timeoutMs: number;
  user: AbortSignal | undefined;
}

interface BearerRealm {
  realm: URL;
  service: string;
}

export function createMcrClient(options: McrClientOptions): McrClient {
  return new HttpMcrClient(options);
}

/** The OCI distribution API over HTTP(S), on undici. */
export class HttpMcrClient implements McrClient {
  readonly registry: string;
  readonly #base: URL;
  readonly #credentials: McrCredentials | undefined;
  readonly #timeoutMs: number;
  readonly #pageSize: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #tokens = new TokenCache();
  readonly #inflight = new Map<string, Promise<string>>();
  /** What the registry asked for at its last 401; undefined until then. */
  #bearer: BearerRealm | undefined;
  #basic = false;
  #pinged = false;

  constructor(opts: McrClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.url);
    } catch (e) {
      throw new McrInvalidArgumentError(`registry URL "${opts.url}" is not a URL`, { cause: e });
    }
    if (base.protocol !== "https:" && base.protocol !== "http:")
      throw new McrInvalidArgumentError(`registry URL "${opts.url}" must be https://`);
    if (base.protocol === "http:" && !isLoopbackHost(base.hostname))
      throw new McrInvalidArgumentError(
        `registry URL "${opts.url}": plain http:// is only allowed for loopback registries; use https://`,
      );
    if (base.pathname !== "/" || base.search !== "" || base.username !== "")
      throw new McrInvalidArgumentError(
        `registry URL "${opts.url}" must be scheme://host[:port] without path or credentials`,
      );
    this.#base = base;
    this.registry = base.host;
    this.#credentials = opts.credentials;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1)
      throw new McrInvalidArgumentError(`pageSize must be a positive integer`);
    this.#ownsDispatcher = opts.dispatcher === undefined;
    this.#dispatcher =
      opts.dispatcher ?? new Agent(opts.ca !== undefined ? { connect: { ca: opts.ca } } : {});
  }

  async manifest(ref: TagRef, opts: CallOptions = {}): Promise<ManifestInfo | undefined> {
    const { repository, tag } = this.#resolve(ref);
    const dl = this.#deadline(opts);
    const url = new URL(`/v2/${repository}/manifests/${tag}`, this.#base);
    const res = await this.#send(
      "HEAD",
      url,
      { accept: MANIFEST_MEDIA_TYPES.join(", ") },
      repositoryScope(repository, ["pull"]),
      dl,
    );
    await res.body.dump().catch(() => {});
    // 404 on a manifest means "no such tag" whether or not the repository exists: for a
    // build or sync that is an answer, not a failure.
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200)
      throw this.#unexpected(res.statusCode, `HEAD manifest ${repository}:${tag}`);
    const digest = header(res.headers, "docker-content-digest");
    const mediaType = header(res.headers, "content-type")?.split(";")[0]?.trim();
    return {
      ...(digest ? { digest } : {}),
      ...(mediaType ? { mediaType } : {}),
    };
  }

  async tagExists(ref: TagRef, opts: CallOptions = {}): Promise<boolean> {
    return (await this.manifest(ref, opts)) !== undefined;
  }

  async listTags(repository: string, opts: CallOptions = {}): Promise<string[]> {
    checkRepository(repository);
    const dl = this.#deadline(opts);
    const scope = repositoryScope(repository, ["pull"]);
    let url: URL | undefined = new URL(
      `/v2/${repository}/tags/list?n=${this.#pageSize}`,
      this.#base,
    );
    const tags: string[] = [];
    for (let page = 0; url; page++) {
      if (page >= 10_000)
        throw new McrBadResponseError(
          `tag list of ${repository} did not end after 10000 pages`,
          200,
        );
      const res = await this.#send("GET", url, { accept: "application/json" }, scope, dl);
      const text = await res.body.text().catch(() => "");
      if (res.statusCode === 404) {
        const codes = errorCodes(text);
        throw new McrNotFoundError(
          `repository ${repository} not found on ${this.registry}${codes.length ? ` (${codes.join(", ")})` : ""}`,
        );
      }
      if (res.statusCode !== 200) throw this.#unexpected(res.statusCode, `tags of ${repository}`);
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (e) {
        throw new McrBadResponseError(`tag list of ${repository} is not JSON`, 200, { cause: e });
      }
      const list = (doc as { tags?: unknown } | null)?.tags;
      if (list !== null && list !== undefined) {
        if (!Array.isArray(list) || !list.every((t) => typeof t === "string"))
          throw new McrBadResponseError(
            `tag list of ${repository}: "tags" is not a list of strings`,
            200,
          );
        tags.push(...(list as string[]));
      }
      const next = parseLinkNext(header(res.headers, "link"), url);
      // The token goes with every page; never follow a Link off the registry's origin.
      if (next && next.origin !== this.#base.origin)
        throw new McrBadResponseError(
          `tag list of ${repository}: next page is on another host`,
          200,
        );
      url = next;
    }
    return tags;
  }

  async checkTags(refs: readonly string[], opts: CheckTagsOptions = {}): Promise<TagCheck[]> {
    const parsed = refs.map((r) => {
      try {
        return this.#resolve(r);
      } catch (e) {
        return e as McrError;
      }
    });
    const scopes = [
      ...new Set(
        parsed
          .filter((p) => !isMcrError(p))
          .map((p) => repositoryScope((p as { repository: string }).repository, ["pull"])),
      ),
    ];
    // One token for all repositories instead of one per repository. If it fails, each
    // check runs the challenge flow itself and reports its own error.
    await this.#prefetch(scopes, opts).catch(() => {});
    const callOpts: CallOptions = {
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    return mapLimit(refs, opts.concurrency ?? DEFAULT_CONCURRENCY, async (ref, i) => {
      const p = parsed[i];
      if (isMcrError(p)) return { ref, exists: false, error: p };
      try {
        const info = await this.manifest(p as { repository: string; tag: string }, callOpts);
        return info
          ? { ref, exists: true, ...(info.digest ? { digest: info.digest } : {}) }
          : { ref, exists: false };
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (isMcrError(e)) return { ref, exists: false, error: e };
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    this.#tokens.clear();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  #resolve(ref: TagRef): { repository: string; tag: string } {
    if (typeof ref !== "string") {
      checkRepository(ref.repository);
      checkTag(ref.tag);
      return ref;
    }
    const r: ImageReference = parseImageReference(ref);
    if (r.registry.toLowerCase() !== this.registry.toLowerCase())
      throw new McrInvalidArgumentError(
        `image reference "${formatImageReference(r)}" is not on registry ${this.registry}`,
      );
    if (r.tag === undefined)
      throw new McrInvalidArgumentError(`image reference "${ref}" has no tag`);
    return { repository: r.repository, tag: r.tag };
  }

  #deadline(opts: CallOptions): Deadline {
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    return {
      signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
      timeout,
      timeoutMs,
      user: opts.signal,
    };
  }

  async #prefetch(scopes: string[], opts: CallOptions): Promise<void> {
    if (scopes.length === 0) return;
    const dl = this.#deadline(opts);
    if (!this.#bearer && !this.#pinged) {
      // Learn how the registry authenticates: GET /v2/ answers 401 with the challenge.
      const res = await this.#raw("GET", new URL("/v2/", this.#base), {}, dl, "registry");
      await res.body.dump().catch(() => {});
      this.#pinged = true;
      if (res.statusCode === 401) this.#learn(res.headers);
    }
    const b = this.#bearer;
    if (!b) return;
    const now = Date.now();
    const missing = scopes.filter((s) => this.#tokens.get(cacheKey(b), s, now) === undefined);
    // Keep the token URL well under common 8 KiB request-line limits.
    for (let i = 0; i < missing.length; i += 40) {
      await this.#token(b, missing.slice(i, i + 40), dl);
    }
  }

  /**
   * One request with the challenge flow: offer a cached token for `scope` when there is
   * one, and on a 401 fetch a token for what the challenge asks and retry once.
   */
  async #send(
    method: "GET" | "HEAD",
    url: URL,
    headers: Record<string, string>,
    scope: string,
    dl: Deadline,
  ): Promise<Dispatcher.ResponseData> {
    let authorization: string | undefined;
    let offered: string | undefined;
    if (this.#bearer) {
      const b = this.#bearer;
      offered =
        this.#tokens.get(cacheKey(b), scope, Date.now()) ?? (await this.#token(b, [scope], dl));
      authorization = `Bearer ${offered}`;
    } else if (this.#basic) {
      authorization = this.#basicHeader();
    }
    const first = await this.#raw(method, url, withAuth(headers, authorization), dl, "registry");
    if (first.statusCode !== 401) return first;
    await first.body.dump().catch(() => {});
    if (offered && this.#bearer) this.#tokens.drop(cacheKey(this.#bearer), offered);
    const challenge = this.#learn(first.headers);
    let retryAuth: string;
    if (challenge.scheme === "bearer") {
      const b = this.#bearer as BearerRealm;
      const asked = challenge.params.scope?.split(" ").filter((s) => s !== "");
      retryAuth = `Bearer ${await this.#token(b, asked && asked.length > 0 ? asked : [scope], dl, true)}`;
    } else {
      retryAuth = this.#basicHeader();
    }
    const second = await this.#raw(method, url, withAuth(headers, retryAuth), dl, "registry");
    if (second.statusCode === 401) {
      await second.body.dump().catch(() => {});
      throw new McrUnauthorizedError(
        `registry ${this.registry} refused the credentials for ${scope}`,
        401,
      );
    }
    return second;
  }

  /** Records the registry's challenge; throws on one we cannot follow. */
  #learn(headers: Dispatcher.ResponseData["headers"]): AuthChallenge {
    const raw = header(headers, "www-authenticate");
    if (raw === undefined)
      throw new McrUnauthorizedError(
        `registry ${this.registry} answered 401 without a challenge`,
        401,
      );
    const challenges = parseWwwAuthenticate(raw);
    if (!challenges)
      throw new McrBadResponseError(
        `registry ${this.registry} sent an unreadable WWW-Authenticate challenge`,
        401,
      );
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer) {
      const realmText = bearer.params.realm;
      if (!realmText)
        throw new McrBadResponseError(
          `registry ${this.registry}: Bearer challenge without a realm`,
          401,
        );
      let realm: URL;
      try {
        realm = new URL(realmText);
      } catch (e) {
        throw new McrBadResponseError(`registry ${this.registry}: Bearer realm is not a URL`, 401, {
          cause: e,
        });
      }
      if (realm.protocol !== "https:" && realm.protocol !== "http:")
        throw new McrBadResponseError(
          `registry ${this.registry}: Bearer realm is not http(s)`,
          401,
        );
      if (realm.protocol === "http:" && !isLoopbackHost(realm.hostname))
        throw new McrBadResponseError(
          `registry ${this.registry}: token service ${realm.origin} is plain http:// off loopback; refusing to send credentials`,
          401,
        );
      this.#bearer = { realm, service: bearer.params.service ?? "" };
      return bearer;
    }
    const basic = challenges.find((c) => c.scheme === "basic");
    if (basic) {
      this.#basic = true;
      return basic;
    }
    throw new McrBadResponseError(
      `registry ${this.registry} asks for unsupported authentication (${challenges.map((c) => c.scheme).join(", ")})`,
      401,
    );
  }

  /** A token for `scopes`, shared by concurrent callers asking for the same thing. */
  #token(b: BearerRealm, scopes: string[], dl: Deadline, force = false): Promise<string> {
    const key = `${cacheKey(b)}\n${[...scopes].sort().join(" ")}${force ? "\nforce" : ""}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#fetchToken(b, scopes, dl).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async #fetchToken(b: BearerRealm, scopes: string[], dl: Deadline): Promise<string> {
    const url = new URL(b.realm);
    if (b.service) url.searchParams.set("service", b.service);
    for (const s of scopes) url.searchParams.append("scope", s);
    const c = this.#credentials;
    const headers: Record<string, string> = { accept: "application/json" };
    if (c && "mciasToken" in c && c.as === "bearer") {
      if (!TOKEN_SAFE.test(c.mciasToken))
        throw new McrInvalidArgumentError(
          "the MCIAS token contains characters a header cannot carry",
        );
      headers.authorization = `Bearer ${c.mciasToken}`;
    } else if (c) {
      headers.authorization = this.#basicHeader();
    }
    const requestedAt = Date.now();
    const res = await this.#raw("GET", url, headers, dl, "token service");
    const text = await res.body.text().catch(() => "");
    const where = `token service ${b.realm.origin}`;
    if (res.statusCode === 401 || res.statusCode === 403)
      throw new McrUnauthorizedError(
        `${where} refused the credentials (HTTP ${res.statusCode})`,
        res.statusCode,
      );
    if (UNAVAILABLE.has(res.statusCode))
      throw new McrUnreachableError(`${where} is unavailable (HTTP ${res.statusCode})`);
    if (res.statusCode !== 200)
      throw new McrBadResponseError(`${where} answered HTTP ${res.statusCode}`, res.statusCode);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new McrBadResponseError(`${where} answered with a body that is not JSON`, 200, {
        cause: e,
      });
    }
    const o = (typeof doc === "object" && doc !== null ? doc : {}) as Record<string, unknown>;
    const token = typeof o.token === "string" && o.token !== "" ? o.token : o.access_token;
    if (typeof token !== "string" || token === "" || !TOKEN_SAFE.test(token))
      throw new McrBadResponseError(`${where} answered without a usable token`, 200);
    const expiresIn = typeof o.expires_in === "number" ? o.expires_in : undefined;
    this.#tokens.put(cacheKey(b), scopes, token, expiresIn, requestedAt);
    return token;
  }

  #basicHeader(): string {
    const c = this.#credentials;
    if (!c)
      throw new McrUnauthorizedError(
        `registry ${this.registry} requires credentials; none are configured`,
        401,
      );
    const [user, pass] =
      "mciasToken" in c
        ? [c.username ?? DEFAULT_MCIAS_TOKEN_USERNAME, c.mciasToken]
        : [c.username, c.password];
    if (user.includes(":"))
      throw new McrInvalidArgumentError("registry username must not contain ':'");
    return `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  }

  async #raw(
    method: "GET" | "HEAD",
    url: URL,
    headers: Record<string, string>,
    dl: Deadline,
    what: "registry" | "token service",
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, {
        method,
        headers: { "user-agent": "mcp-mcr-client", ...headers },
        dispatcher: this.#dispatcher,
        signal: dl.signal,
      });
    } catch (e) {
      if (dl.user?.aborted) throw dl.user.reason;
      const name =
        what === "registry" ? `registry ${this.registry}` : `token service ${url.origin}`;
      if (dl.timeout.aborted)
        throw new McrTimeoutError(`${name} did not answer within ${dl.timeoutMs} ms`, { cause: e });
      const reason = (e as { code?: string }).code ?? (e as Error).message;
      throw new McrUnreachableError(`${name} is unreachable (${reason})`, { cause: e });
    }
  }

  #unexpected(status: number, what: string): McrError {
    if (status === 403)
      return new McrUnauthorizedError(`registry ${this.registry} denied ${what} (HTTP 403)`, 403);
    if (UNAVAILABLE.has(status))
      return new McrUnreachableError(`registry ${this.registry} is unavailable (HTTP ${status})`);
    return new McrBadResponseError(
      `registry ${this.registry} answered HTTP ${status} to ${what}`,
      status,
    );
  }
}

function cacheKey(b: BearerRealm): string {
  return `${b.realm.href} ${b.service}`;
}

function withAuth(
  headers: Record<string, string>,
  authorization: string | undefined,
): Record<string, string> {
  return authorization ? { ...headers, authorization } : headers;
}

function header(headers: Dispatcher.ResponseData["headers"], name: string): string | undefined {
  const v = headers[name];
  if (Array.isArray(v)) return v.join(", ");
  return v ?? undefined;
}

/** The `errors[].code` values of a distribution error body, if it is one. */
function errorCodes(text: string): string[] {
  try {
    const doc = JSON.parse(text) as { errors?: { code?: unknown }[] };
    return (doc.errors ?? []).map((e) => e.code).filter((c): c is string => typeof c === "string");
  } catch {
    return [];
  }
}
