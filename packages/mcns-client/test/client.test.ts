import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createMcnsClient,
  isMcnsBadResponseError,
  isMcnsConflictError,
  isMcnsNotFoundError,
  isMcnsServerError,
  isMcnsTimeoutError,
  isMcnsUnauthorizedError,
  isMcnsUnreachableError,
} from "../src/index.ts";

// Real HTTP servers on loopback that misbehave on purpose; the working server is the
// MCNS stand-in in apps/sim, tested against this client in apps/sim/src/mcns.
const TOKEN = "mcns-s3cret-token";
const ZONE = "svc.mcp.metacircular.net";

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

const json = (rs: ServerResponse, status: number, body: unknown) => {
  rs.writeHead(status, { "content-type": "application/json" });
  rs.end(JSON.stringify(body));
};
const fail = (e: unknown) => e;

describe("mcns client over HTTP", () => {
  it("sends the documented requests", async () => {
    const seen: string[] = [];
    const url = await serve((rq, rs, body) => {
      seen.push(`${rq.method} ${rq.url} ${rq.headers.authorization === `Bearer ${TOKEN}`} ${body}`);
      if (rq.method === "GET") return json(rs, 200, { records: [] });
      if (rq.method === "POST") return json(rs, 201, { id: "r1", ...JSON.parse(body) });
      rs.writeHead(204).end();
    });
    const c = createMcnsClient({ url, token: TOKEN });
    await c.listRecords(ZONE, { name: `web.${ZONE}`, type: "A" });
    expect(await c.createRecord(ZONE, { name: "web", type: "A", value: "10.0.0.1" })).toEqual({
      id: "r1",
      name: "web",
      type: "A",
      value: "10.0.0.1",
      ttl: 300,
    });
    await c.deleteRecord(ZONE, "r/1");
    await c.close();
    expect(seen).toEqual([
      `GET /v1/zones/${ZONE}/records?name=web&type=A true `,
      `POST /v1/zones/${ZONE}/records true {"name":"web","type":"A","value":"10.0.0.1","ttl":300}`,
      `DELETE /v1/zones/${ZONE}/records/r%2F1 true `,
    ]);
  });

  it.each([
    [401, isMcnsUnauthorizedError],
    [404, isMcnsNotFoundError],
    [409, isMcnsConflictError],
    [500, isMcnsServerError],
  ])("maps status %i to its error class, never showing the token", async (status, guard) => {
    const url = await serve((_rq, rs) => json(rs, status, { message: "why" }));
    const c = createMcnsClient({ url, token: TOKEN });
    const e = await c.createRecord(ZONE, { name: "w", type: "A", value: "10.0.0.1" }).catch(fail);
    await c.close();
    expect(guard(e)).toBe(true);
    expect((e as Error).message).toMatch(/why/);
    expect((e as Error).message).not.toContain(TOKEN);
  });

  it("ensureRecord keeps a conflict that is not an identical record", async () => {
    const url = await serve((rq, rs) => {
      if (rq.method === "POST") return json(rs, 409, { error: "exists" });
      json(rs, 200, { records: [{ id: "x", name: "w", type: "A", value: "10.0.0.2", ttl: 300 }] });
    });
    const c = createMcnsClient({ url, token: TOKEN });
    expect(
      isMcnsConflictError(
        await c.ensureRecord(ZONE, { name: "w", type: "A", value: "10.0.0.1" }).catch(fail),
      ),
    ).toBe(true);
    expect(await c.ensureRecord(ZONE, { name: "w", type: "A", value: "10.0.0.2" })).toEqual({
      record: { id: "x", name: "w", type: "A", value: "10.0.0.2", ttl: 300 },
      created: false,
    });
    await c.close();
  });

  it("is Unreachable when nothing listens", async () => {
    const url = await serve(() => {});
    const s = servers.pop() as Server;
    await new Promise((r) => s.close(r));
    const e = await createMcnsClient({ url, token: TOKEN }).listRecords(ZONE).catch(fail);
    expect(isMcnsUnreachableError(e)).toBe(true);
    expect((e as Error).message).not.toContain(TOKEN);
  });

  it("times out on a server that does not answer", async () => {
    const url = await serve(() => {});
    const c = createMcnsClient({ url, token: TOKEN, timeoutMs: 200 });
    const t0 = Date.now();
    expect(isMcnsTimeoutError(await c.listRecords(ZONE).catch(fail))).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    await c.close();
  });

  it("is BadResponse for garbage, naming the field", async () => {
    const url = await serve((rq, rs) => {
      if (rq.method === "GET")
        return json(rs, 200, { records: [{ id: "1", name: "w", type: "A", value: 5, ttl: 1 }] });
      rs.writeHead(201);
      rs.end("not json");
    });
    const c = createMcnsClient({ url, token: TOKEN });
    const e1 = await c.listRecords(ZONE).catch(fail);
    expect(isMcnsBadResponseError(e1)).toBe(true);
    expect((e1 as { field: string }).field).toBe("records[0].value");
    const e2 = await c.createRecord(ZONE, { name: "w", type: "A", value: "10.0.0.1" }).catch(fail);
    expect((e2 as { field: string }).field).toBe("body");
    await c.close();
  });
});
