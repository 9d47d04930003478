// The client against a real HTTP server on loopback that answers what each test says,
// for the error mapping the sim MCIAS does not produce (5xx, garbage, slow answers).
// Conformance against the working MCIAS stand-in is in apps/sim/test.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createMciasClient,
  type HttpMciasClient,
  isAdmin,
  isMciasError,
  isMciasUnavailable,
  MciasBadResponseError,
  MciasUnauthorizedError,
  MciasUnavailableError,
} from "../src/index.ts";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(
  handler: Handler,
): Promise<{ url: string; seen: { headers: IncomingMessage["headers"]; body: string }[] }> {
  const seen: { headers: IncomingMessage["headers"]; body: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    seen.push({ headers: req.headers, body });
    handler(req, body, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function client(url: string, timeoutMs?: number): HttpMciasClient {
  const c = createMciasClient({
    baseUrl: url,
    serviceName: "mcp-agent",
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  cleanups.push(() => c.close());
  return c;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

describe("HttpMciasClient", () => {
  it("sends the token as a bearer header and service_name in the body", async () => {
    const { url, seen } = await serve((_req, _b, res) =>
      json(res, 200, {
        valid: true,
        username: "kyle",
        roles: ["admin"],
        expires_at: "2030-01-01T00:00:00Z",
      }),
    );
    const v = await client(url).validateToken("abc.DEF-123");
    expect(v).toEqual({
      valid: true,
      username: "kyle",
      roles: ["admin"],
      expiresAt: new Date("2030-01-01T00:00:00Z"),
    });
    expect(isAdmin(v)).toBe(true);
    expect(seen[0]?.headers.authorization).toBe("Bearer abc.DEF-123");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ service_name: "mcp-agent" });
  });

  it("sends totp_code only when given", async () => {
    const { url, seen } = await serve((_req, _b, res) =>
      json(res, 200, { token: "t", expires_at: "2030-01-01T00:00:00Z" }),
    );
    await client(url).login({ username: "a", password: "p" });
    await client(url).login({ username: "a", password: "p", totpCode: "123456" });
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({ username: "a", password: "p" });
    expect(JSON.parse(seen[1]?.body ?? "")).toEqual({
      username: "a",
      password: "p",
      totp_code: "123456",
    });
  });

  it("maps 401 on login to Unauthorized and on validate to valid:false", async () => {
    const { url } = await serve((_req, _b, res) => json(res, 401, { error: "no" }));
    await expect(client(url).login({ username: "a", password: "b" })).rejects.toBeInstanceOf(
      MciasUnauthorizedError,
    );
    expect(await client(url).validateToken("tok")).toEqual({ valid: false });
  });

  it("maps 5xx to Unavailable and garbage to BadResponse", async () => {
    let mode = "500";
    const { url } = await serve((_req, _b, res) => {
      if (mode === "500") json(res, 503, { error: "busy" });
      else if (mode === "html") {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html>");
      } else
        json(res, 200, {
          valid: true,
          username: "x",
          roles: "admin",
          expires_at: "2030-01-01T00:00:00Z",
        });
    });
    const c = client(url);
    await expect(c.validateToken("t")).rejects.toBeInstanceOf(MciasUnavailableError);
    mode = "html";
    await expect(c.validateToken("t")).rejects.toBeInstanceOf(MciasBadResponseError);
    mode = "shape";
    const err = await c.validateToken("t").catch((e: unknown) => e);
    expect(isMciasError(err)).toBe(true);
    expect((err as Error).message).toMatch(/roles/);
  });

  it("times out a silent server as Unavailable", async () => {
    const { url } = await serve(() => {
      /* never answers */
    });
    const started = Date.now();
    const err = await client(url, 200)
      .validateToken("t")
      .catch((e: unknown) => e);
    expect(isMciasUnavailable(err)).toBe(true);
    expect((err as Error).message).toMatch(/did not answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("passes a caller's abort through as is", async () => {
    const { url } = await serve(() => {});
    const ac = new AbortController();
    const p = client(url).validateToken("t", { signal: ac.signal });
    ac.abort(new Error("cancelled by caller"));
    await expect(p).rejects.toThrow("cancelled by caller");
  });

  it("never sends a malformed token and never puts a token in an error message", async () => {
    const { url, seen } = await serve((_req, _b, res) => json(res, 418, { error: "teapot" }));
    expect(await client(url).validateToken("bad token\r\nx: y")).toEqual({ valid: false });
    expect(seen).toHaveLength(0);
    const err = await client(url)
      .validateToken("SeCrEtToKeN")
      .catch((e: unknown) => e);
    expect((err as Error).message).not.toContain("SeCrEtToKeN");
    expect((err as MciasBadResponseError).status).toBe(418);
  });
});
