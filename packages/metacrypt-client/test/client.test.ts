import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createMetacryptClient,
  type IssueCertificateRequest,
  isMetacryptBadResponseError,
  isMetacryptError,
  isMetacryptNotFoundError,
  isMetacryptRejectedError,
  isMetacryptServerError,
  isMetacryptTimeoutError,
  isMetacryptUnauthorizedError,
  isMetacryptUnreachableError,
  parseIssueResponse,
} from "../src/index.ts";

// Real HTTP servers on loopback that misbehave on purpose; the working server is the
// Metacrypt stand-in in apps/sim, tested against this client in apps/sim/src/metacrypt.
const TOKEN = "tok-s3cret-value";
const req: IssueCertificateRequest = {
  mount: "pki",
  path: "web",
  issuer: "web",
  commonName: "a.svc.mcp.metacircular.net",
  profile: "server",
  dnsNames: ["a.svc.mcp.metacircular.net"],
  ipAddresses: ["10.0.0.1"],
  ttl: "2160h",
};

let servers: Server[] = [];
afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<string> {
  const s = createServer((rq, rs) => {
    let body = "";
    rq.on("data", (d) => {
      body += d;
    });
    rq.on("end", () => handler(rq, rs, body));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const fail = (e: unknown) => e;

describe("metacrypt client over HTTP", () => {
  it("sends the documented request and reads the answer", async () => {
    const pem = await readFile(join(import.meta.dirname, "fixtures", "leaf-90d.pem"), "utf8");
    let seen: { method?: string; url?: string; auth?: string; body?: unknown } = {};
    const url = await serve((rq, rs, body) => {
      seen = {
        method: rq.method,
        url: rq.url,
        auth: rq.headers.authorization,
        body: JSON.parse(body),
      };
      rs.writeHead(200, { "content-type": "application/json" });
      rs.end(
        JSON.stringify({
          data: {
            certificate: pem,
            private_key: "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
            ca_chain: pem + pem,
            serial: "01:02",
            expires_at: "2027-02-19T02:08:07Z",
          },
        }),
      );
    });
    const c = createMetacryptClient({ url, token: ` ${TOKEN}\n` });
    const got = await c.issueCertificate(req);
    await c.close();
    expect(seen).toEqual({
      method: "POST",
      url: "/v1/engine/request",
      auth: `Bearer ${TOKEN}`,
      body: {
        mount: "pki",
        operation: "issue",
        path: "web",
        data: {
          issuer: "web",
          common_name: "a.svc.mcp.metacircular.net",
          profile: "server",
          dns_names: ["a.svc.mcp.metacircular.net"],
          ip_addresses: ["10.0.0.1"],
          ttl: "2160h",
        },
      },
    });
    expect(got.caChain).toHaveLength(2);
    expect(got.serial).toBe("01:02");
    expect(got.expiresAt).toEqual(new Date("2027-02-19T02:08:07Z"));
  });

  it.each([
    [401, isMetacryptUnauthorizedError],
    [403, isMetacryptUnauthorizedError],
    [404, isMetacryptNotFoundError],
    [400, isMetacryptRejectedError],
    [422, isMetacryptRejectedError],
    [503, isMetacryptServerError],
  ])(
    "maps status %i to its error class, with the server's reason and never the token",
    async (status, guard) => {
      const url = await serve((_rq, rs) => {
        rs.writeHead(status, { "content-type": "application/json" });
        rs.end(JSON.stringify({ error: "reason from server" }));
      });
      const c = createMetacryptClient({ url, token: TOKEN });
      const e = await c.issueCertificate(req).catch(fail);
      await c.close();
      expect(guard(e)).toBe(true);
      expect(isMetacryptError(e)).toBe(true);
      expect((e as Error).message).toContain("reason from server");
      expect((e as Error).message).toContain(String(status));
      expect((e as Error).message).not.toContain(TOKEN);
    },
  );

  it("is Unreachable when nothing listens", async () => {
    const url = await serve(() => {});
    const s = servers.pop() as Server;
    await new Promise((r) => s.close(r));
    const c = createMetacryptClient({ url, token: TOKEN });
    const e = await c.issueCertificate(req).catch(fail);
    expect(isMetacryptUnreachableError(e)).toBe(true);
    expect((e as Error).message).toMatch(/ECONNREFUSED/);
    expect((e as Error).message).not.toContain(TOKEN);
    expect((e as Error).cause).toBeDefined();
  });

  it("times out on a server that does not answer", async () => {
    const url = await serve(() => {});
    const c = createMetacryptClient({ url, token: TOKEN, timeoutMs: 200 });
    const t0 = Date.now();
    const e = await c.issueCertificate(req).catch(fail);
    await c.close();
    expect(isMetacryptTimeoutError(e)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("times out on a server that stalls mid-body", async () => {
    const url = await serve((_rq, rs) => {
      rs.writeHead(200, { "content-type": "application/json" });
      rs.write('{"data":');
    });
    const c = createMetacryptClient({ url, token: TOKEN, timeoutMs: 200 });
    expect(isMetacryptTimeoutError(await c.issueCertificate(req).catch(fail))).toBe(true);
    await c.close();
  });

  it("honours the caller's abort signal", async () => {
    const url = await serve(() => {});
    const c = createMetacryptClient({ url, token: TOKEN });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("caller gave up")), 50);
    const e = await c.issueCertificate(req, { signal: ac.signal }).catch(fail);
    await c.close();
    expect(isMetacryptTimeoutError(e)).toBe(false);
    expect(e).toBeInstanceOf(Error);
  });

  it("is BadResponse for a 200 that is not JSON", async () => {
    const url = await serve((_rq, rs) => {
      rs.writeHead(200);
      rs.end("<html>proxy error</html>");
    });
    const c = createMetacryptClient({ url, token: TOKEN });
    const e = await c.issueCertificate(req).catch(fail);
    await c.close();
    expect(isMetacryptBadResponseError(e)).toBe(true);
    expect((e as { field: string }).field).toBe("body");
  });

  it("rejects a bad URL and an empty token up front", () => {
    expect(() => createMetacryptClient({ url: "nope", token: TOKEN })).toThrow(/not a URL/);
    expect(() => createMetacryptClient({ url: "ftp://x", token: TOKEN })).toThrow(/http\(s\)/);
    expect(() => createMetacryptClient({ url: "https://x", token: "  " })).toThrow(
      /token is empty/,
    );
  });
});

describe("parseIssueResponse", () => {
  const cert = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
  const good = {
    data: {
      certificate: cert,
      private_key: "-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n",
      ca_chain: [cert],
      serial: "0a",
      expires_at: "2030-01-01T00:00:00Z",
    },
  };
  const without = (patch: Record<string, unknown>) => ({ data: { ...good.data, ...patch } });

  it("accepts the documented shape", () => {
    expect(parseIssueResponse(good).caChain).toEqual([cert]);
  });

  it.each([
    [null, "(body)"],
    [{}, "data"],
    [without({ certificate: 5 }), "data.certificate"],
    [without({ certificate: "hello" }), "data.certificate"],
    [without({ private_key: undefined }), "data.private_key"],
    [without({ ca_chain: [cert, 3] }), "data.ca_chain[1]"],
    [without({ ca_chain: "junk" }), "data.ca_chain"],
    [without({ ca_chain: undefined }), "data.ca_chain"],
    [without({ serial: 10 }), "data.serial"],
    [without({ expires_at: "soon" }), "data.expires_at"],
  ])("names the field that is wrong: %j → %s", (json, field) => {
    let e: unknown;
    try {
      parseIssueResponse(json);
    } catch (x) {
      e = x;
    }
    expect(isMetacryptBadResponseError(e)).toBe(true);
    expect((e as { field: string }).field).toBe(field);
    expect((e as Error).message).toContain(field);
  });
});
