// The client against a fake registry + token service on a real loopback socket: a
// http.Server that records what it was sent, so the challenge flow, token reuse and the
// failure modes can be driven exactly. The real registry is in registry.test.ts.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  createMcrClient,
  isMcrBadResponse,
  isMcrError,
  isMcrInvalidArgument,
  isMcrNotFound,
  isMcrTimeout,
  isMcrUnauthorized,
  isMcrUnreachable,
  type McrClient,
  type McrClientOptions,
} from "../src/index.ts";

const PASSWORD = "s3cret-password-123";
const MCIAS_TOKEN = "mcias-token-value-abcdef0123456789";

interface Fake {
  url: string;
  server: Server;
  tokenRequests: { authorization: string | undefined; scopes: string[] }[];
  registryRequests: { method: string; path: string; authorization: string | undefined }[];
  tags: Map<string, string[]>;
  expiresIn: number | undefined;
  challenge: string | undefined;
  tokenBody: string | undefined;
  hang: boolean;
  /** Only the token endpoint does not answer. */
  hangToken: boolean;
  /** Status the token endpoint answers with instead of doing its job. */
  tokenStatus: number | undefined;
  /** Refuse every registry token (registry misconfigured / revoked). */
  refuseTokens: boolean;
  /** Delay before answering manifest requests, so concurrency can be observed. */
  delayMs: number;
}

async function startFake(): Promise<Fake> {
  const tokens = new Map<string, string[]>();
  const fake = {
    tokenRequests: [],
    registryRequests: [],
    tags: new Map([
      ["app", ["v1.0.0", "v1.1.0"]],
      ["team/web", ["a", "b", "c", "d", "e"]],
    ]),
    expiresIn: 300,
    challenge: undefined,
    tokenBody: undefined,
    hang: false,
    hangToken: false,
    tokenStatus: undefined,
    refuseTokens: false,
    delayMs: 0,
  } as unknown as Fake;
  for (let i = 0; i < 30; i++) fake.tags.set(`svc${i}`, ["v1.0.0"]);
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (fake.hang) return;
    const url = new URL(req.url ?? "/", fake.url);
    const auth = req.headers.authorization;
    if (url.pathname === "/token") {
      if (fake.hangToken) return;
      if (fake.tokenStatus !== undefined) {
        res.writeHead(fake.tokenStatus).end();
        return;
      }
      const scopes = url.searchParams.getAll("scope");
      fake.tokenRequests.push({ authorization: auth, scopes });
      const ok =
        auth === `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}` ||
        auth === `Basic ${Buffer.from(`mcias-token:${MCIAS_TOKEN}`).toString("base64")}` ||
        auth === `Basic ${Buffer.from(`robot:${MCIAS_TOKEN}`).toString("base64")}` ||
        auth === `Bearer ${MCIAS_TOKEN}`;
      if (!ok || url.searchParams.get("service") !== "fake-registry") {
        res.writeHead(401, { "content-type": "application/json" }).end('{"details":"no"}');
        return;
      }
      if (fake.tokenBody !== undefined) {
        res.writeHead(200, { "content-type": "application/json" }).end(fake.tokenBody);
        return;
      }
      const token = randomBytes(12).toString("hex");
      tokens.set(token, scopes);
      res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          token,
          ...(fake.expiresIn !== undefined ? { expires_in: fake.expiresIn } : {}),
        }),
      );
      return;
    }
    fake.registryRequests.push({
      method: req.method ?? "",
      path: url.pathname + url.search,
      authorization: auth,
    });
    const m = /^\/v2\/(.+)\/(manifests|tags)\/(.+)$/.exec(url.pathname);
    const repo = m?.[1] ?? "";
    const scope = `repository:${repo}:pull`;
    const bearer = auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
    const granted =
      bearer !== undefined && !fake.refuseTokens && (tokens.get(bearer) ?? []).includes(scope);
    if (!granted) {
      res
        .writeHead(401, {
          "www-authenticate":
            fake.challenge ??
            `Bearer realm="${fake.url}/token",service="fake-registry",scope="${scope}"`,
          "content-type": "application/json",
        })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const tags = fake.tags.get(repo);
    if (m?.[2] === "manifests") {
      const has = tags?.includes(m[3] as string);
      res
        .writeHead(
          has ? 200 : 404,
          has
            ? {
                "docker-content-digest": `sha256:${"1".repeat(64)}`,
                "content-type": "application/vnd.oci.image.manifest.v1+json",
              }
            : {},
        )
        .end();
      return;
    }
    if (!tags) {
      res
        .writeHead(404)
        .end(
          '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}',
        );
      return;
    }
    const n = Number(url.searchParams.get("n") ?? 1000);
    const last = url.searchParams.get("last");
    const from = last ? tags.indexOf(last) + 1 : 0;
    const page = tags.slice(from, from + n);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (from + n < tags.length)
      headers.link = `</v2/${repo}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
    res.writeHead(200, headers).end(JSON.stringify({ name: repo, tags: page }));
  };
  const server = createServer((req, res) => {
    if (fake.delayMs > 0 && req.url?.includes("/manifests/"))
      setTimeout(() => handler(req, res), fake.delayMs);
    else handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  fake.server = server;
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

let fake: Fake;
const clients: McrClient[] = [];
function client(opts: Partial<McrClientOptions> = {}): McrClient {
  const c = createMcrClient({
    url: fake.url,
    credentials: { username: "alice", password: PASSWORD },
    ...opts,
  });
  clients.push(c);
  return c;
}
const host = () => fake.url.slice("http://".length);

beforeEach(async () => {
  fake = await startFake();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  fake.server.closeAllConnections();
  await new Promise((r) => fake.server.close(r));
});

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("challenge flow", () => {
  test("existing tag gives its digest; absent tag is false; token fetched once and reused", async () => {
    const c = client();
    const info = await c.manifest(`${host()}/app:v1.0.0`);
    expect(info).toEqual({
      digest: `sha256:${"1".repeat(64)}`,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
    });
    expect(await c.tagExists({ repository: "app", tag: "v9.9.9" })).toBe(false);
    expect(await c.tagExists(`${host()}/app:v1.1.0`)).toBe(true);
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.tokenRequests[0]?.scopes).toEqual(["repository:app:pull"]);
    // 401 once, then the token goes with every request, up front.
    expect(fake.registryRequests.map((r) => r.authorization?.split(" ")[0] ?? "none")).toEqual([
      "none",
      "Bearer",
      "Bearer",
      "Bearer",
    ]);
  });

  test("sends every manifest media type in Accept", async () => {
    let accept = "";
    fake.server.prependListener("request", (req: IncomingMessage) => {
      if (req.url?.includes("/manifests/")) accept = String(req.headers.accept);
    });
    await client().tagExists({ repository: "app", tag: "v1.0.0" });
    for (const t of [
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
    ])
      expect(accept).toContain(t);
  });

  test("a token per scope: another repository needs another token", async () => {
    const c = client();
    await c.tagExists({ repository: "app", tag: "v1.0.0" });
    await c.tagExists({ repository: "svc1", tag: "v1.0.0" });
    await c.tagExists({ repository: "app", tag: "v1.0.0" });
    expect(fake.tokenRequests.map((r) => r.scopes)).toEqual([
      ["repository:app:pull"],
      ["repository:svc1:pull"],
    ]);
  });

  test("expires_in is honoured: a token is fetched again after it lapses", async () => {
    fake.expiresIn = 1;
    const c = client();
    await c.tagExists({ repository: "app", tag: "v1.0.0" });
    await c.tagExists({ repository: "app", tag: "v1.0.0" });
    expect(fake.tokenRequests).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1000));
    await c.tagExists({ repository: "app", tag: "v1.0.0" });
    expect(fake.tokenRequests).toHaveLength(2);
  });

  test("a token the registry stops accepting is replaced once, then it is Unauthorized", async () => {
    const c = client();
    await c.tagExists({ repository: "app", tag: "v1.0.0" });
    fake.refuseTokens = true;
    const e = await caught(c.tagExists({ repository: "app", tag: "v1.0.0" }));
    expect(isMcrUnauthorized(e)).toBe(true);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  test.each([
    ["MCIAS token as password, default username", { mciasToken: MCIAS_TOKEN }],
    ["MCIAS token as password, own username", { mciasToken: MCIAS_TOKEN, username: "robot" }],
    ["MCIAS token as Bearer", { mciasToken: MCIAS_TOKEN, as: "bearer" as const }],
  ])("%s", async (_name, credentials) => {
    expect(await client({ credentials }).tagExists({ repository: "app", tag: "v1.0.0" })).toBe(
      true,
    );
  });

  test("checkTags: 30 repositories, one token request, bounded concurrency, per-ref errors", async () => {
    let inFlight = 0;
    let peak = 0;
    fake.delayMs = 10;
    fake.server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.includes("/manifests/")) return;
      inFlight++;
      peak = Math.max(peak, inFlight);
      res.once("finish", () => inFlight--);
    });
    const refs = [...Array(30).keys()].map(
      (i) => `${host()}/svc${i}:${i === 7 ? "v2.0.0" : "v1.0.0"}`,
    );
    refs.push("not a reference", "other.example:5000/app:v1");
    const out = await client().checkTags(refs, { concurrency: 4 });
    expect(out.slice(0, 30).map((r) => r.exists)).toEqual(refs.slice(0, 30).map((_, i) => i !== 7));
    expect(out[0]?.digest).toMatch(/^sha256:/);
    expect(isMcrInvalidArgument(out[30]?.error)).toBe(true);
    expect(out[31]?.error?.message).toContain("is not on registry");
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.tokenRequests[0]?.scopes).toHaveLength(30);
    expect(peak).toBeLessThanOrEqual(4);
    expect(peak).toBeGreaterThan(1);
  });
});

describe("listTags", () => {
  test("follows Link pagination", async () => {
    const c = client({ pageSize: 2 });
    expect(await c.listTags("team/web")).toEqual(["a", "b", "c", "d", "e"]);
    expect(
      fake.registryRequests.filter((r) => r.path.includes("tags/list")).map((r) => r.path),
    ).toEqual([
      "/v2/team/web/tags/list?n=2",
      "/v2/team/web/tags/list?n=2",
      "/v2/team/web/tags/list?n=2&last=b",
      "/v2/team/web/tags/list?n=2&last=d",
    ]);
  });

  test("NAME_UNKNOWN is NotFound", async () => {
    const e = await caught(client().listTags("nope"));
    expect(isMcrNotFound(e)).toBe(true);
    expect(e.message).toContain("NAME_UNKNOWN");
  });

  test("a next page on another host is refused (the token would go with it)", async () => {
    fake.server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
      if (!req.url?.includes("tags/list")) return;
      const orig = res.writeHead.bind(res);
      // biome-ignore lint/suspicious/noExplicitAny: patching a test double
      (res as any).writeHead = (status: number, headers: Record<string, string>) =>
        orig(
          status,
          status === 200 ? { ...headers, link: '<http://127.0.0.2:1/v2/x>; rel="next"' } : headers,
        );
    });
    expect(isMcrBadResponse(await caught(client().listTags("app")))).toBe(true);
  });
});

describe("failures", () => {
  test("wrong password: Unauthorized, and no secret in the message", async () => {
    const e = await caught(
      client({ credentials: { username: "alice", password: "wrong-pw-xyz" } }).tagExists({
        repository: "app",
        tag: "v1.0.0",
      }),
    );
    expect(isMcrUnauthorized(e)).toBe(true);
    expect(e.message).not.toContain("wrong-pw-xyz");
    expect(e.message).not.toContain(Buffer.from("alice:wrong-pw-xyz").toString("base64"));
  });

  test("no credentials: the token endpoint's 401 is Unauthorized", async () => {
    const c = createMcrClient({ url: fake.url });
    clients.push(c);
    expect(isMcrUnauthorized(await caught(c.tagExists({ repository: "app", tag: "v1.0.0" })))).toBe(
      true,
    );
  });

  test.each([
    ['Bearer realm="unterminated', "unreadable"],
    ["Bearer service=x", "without a realm"],
    ['Bearer realm="not a url"', "not a URL"],
    ['Bearer realm="http://mcr.example/token"', "plain http"],
    ['Negotiate abc="x"', "unsupported"],
  ])("challenge %j is a bad response (%s)", async (challenge, why) => {
    fake.challenge = challenge;
    const e = await caught(client().tagExists({ repository: "app", tag: "v1.0.0" }));
    expect(isMcrBadResponse(e)).toBe(true);
    expect(e.message).toContain(why);
  });

  test.each([
    ["<html>oops</html>", "not JSON"],
    ['{"expires_in": 60}', "without a usable token"],
    ['{"token": "a\\nb"}', "without a usable token"],
  ])("token body %j is a bad response", async (body, why) => {
    fake.tokenBody = body;
    const e = await caught(client().tagExists({ repository: "app", tag: "v1.0.0" }));
    expect(isMcrBadResponse(e)).toBe(true);
    expect(e.message).toContain(why);
  });

  test("access_token is accepted in place of token", async () => {
    // Served through tokenBody, so the fake's registry does not know it: proves the parse,
    // then the refusal path.
    fake.tokenBody = '{"access_token": "abc"}';
    const e = await caught(client().tagExists({ repository: "app", tag: "v1.0.0" }));
    expect(isMcrUnauthorized(e)).toBe(true);
    expect(fake.registryRequests.at(-1)?.authorization).toBe("Bearer abc");
  });

  test("a registry that does not answer: Timeout within the call's timeout", async () => {
    fake.hang = true;
    const t0 = Date.now();
    const e = await caught(
      client({ timeoutMs: 300 }).tagExists({ repository: "app", tag: "v1.0.0" }),
    );
    expect(isMcrTimeout(e)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("a token service that does not answer: Timeout", async () => {
    fake.hangToken = true;
    const e = await caught(
      client({ timeoutMs: 300 }).tagExists({ repository: "app", tag: "v1.0.0" }),
    );
    expect(isMcrTimeout(e)).toBe(true);
    expect(e.message).toContain("token service");
  });

  test("a token service answering 503 is Unreachable; 500 is a bad response", async () => {
    fake.tokenStatus = 503;
    expect(
      isMcrUnreachable(await caught(client().tagExists({ repository: "app", tag: "v1.0.0" }))),
    ).toBe(true);
    fake.tokenStatus = 500;
    expect(
      isMcrBadResponse(await caught(client().tagExists({ repository: "app", tag: "v1.0.0" }))),
    ).toBe(true);
  });

  test("a closed port: Unreachable", async () => {
    const url = fake.url;
    fake.server.closeAllConnections();
    await new Promise((r) => fake.server.close(r));
    fake = await startFake();
    const c = createMcrClient({ url });
    clients.push(c);
    const e = await caught(c.tagExists({ repository: "app", tag: "v1.0.0" }));
    expect(isMcrUnreachable(e)).toBe(true);
    expect(e.message).toContain("ECONNREFUSED");
  });

  test("plain http off loopback is refused up front", () => {
    let err: unknown;
    try {
      createMcrClient({ url: "http://mcr.svc.mcp.metacircular.net:8443" });
    } catch (e) {
      err = e;
    }
    expect(isMcrInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toMatch(/only allowed for loopback/);
    for (const ok of [
      "http://127.0.0.1:5000",
      "http://[::1]:5000",
      "http://localhost:5000",
      "https://mcr.example:8443",
    ])
      expect(() => createMcrClient({ url: ok })).not.toThrow();
  });

  test("references on another registry or without a tag are refused", async () => {
    const c = client();
    expect((await caught(c.tagExists("mcr.example:8443/app:v1"))).message).toContain(
      "is not on registry",
    );
    expect((await caught(c.tagExists(`${host()}/app`))).message).toContain("has no tag");
    expect(isMcrError(await caught(c.listTags("Bad")), "invalid-argument")).toBe(true);
  });
});
