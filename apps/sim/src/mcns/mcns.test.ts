import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMcnsClient,
  isMcnsConflictError,
  isMcnsNotFoundError,
  isMcnsRejectedError,
  isMcnsUnauthorizedError,
  type McnsClient,
} from "@mcp/mcns-client";
import * as dnsPacket from "dns-packet";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mciasModule } from "../mcias/index.ts";
import { MciasStore } from "../mcias/store.ts";
import { startSim } from "../runner.ts";
import { mcnsModule } from "./index.ts";
import { type McnsSim, startMcnsSim } from "./server.ts";

const ZONE = "svc.mcp.metacircular.net";

function resolver(sim: McnsSim): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`${sim.dnsHost}:${sim.dnsPort}`]);
  return r;
}

function udpQuery(sim: McnsSim, name: string, type: string): Promise<dnsPacket.Packet> {
  const sock = createSocket("udp4");
  const id = Math.floor(Math.random() * 65535);
  return new Promise<dnsPacket.Packet>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("udp query timed out")), 2000);
    sock.on("message", (msg) => {
      clearTimeout(timer);
      resolve(dnsPacket.decode(msg));
    });
    sock.send(
      dnsPacket.encode({ type: "query", id, questions: [{ name, type: type as "A" }] }),
      sim.dnsPort,
      sim.dnsHost,
    );
  }).finally(() => sock.close());
}

function tcpQuery(sim: McnsSim, name: string, type: string): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const s = connect(sim.dnsPort, sim.dnsHost);
    s.setTimeout(2000, () => s.destroy(new Error("tcp query timed out")));
    let buf = Buffer.alloc(0);
    s.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        resolve(dnsPacket.streamDecode(buf));
        s.end();
      }
    });
    s.on("error", reject);
    s.write(
      dnsPacket.streamEncode({ type: "query", id: 7, questions: [{ name, type: type as "A" }] }),
    );
  });
}

const rcodeOf = (p: dnsPacket.Packet) => (p as { rcode?: string }).rcode;

describe("MCNS sim with @mcp/mcns-client", () => {
  let dir: string;
  let sim: McnsSim;
  let client: McnsClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mcp-mcns-sim-"));
    sim = await startMcnsSim({ dir });
    client = createMcnsClient({ url: sim.url, token: sim.token ?? "" });
  });
  afterEach(async () => {
    for (const r of await client.listRecords(ZONE)) await client.deleteRecord(ZONE, r.id);
  });
  afterAll(async () => {
    await client?.close();
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates, lists with filters and deletes records", async () => {
    const a = await client.createRecord(ZONE, { name: "web", type: "A", value: "10.1.2.3" });
    expect(a).toMatchObject({ name: "web", type: "A", value: "10.1.2.3", ttl: 300 });
    expect(a.id).toMatch(/\S/);
    await client.createRecord(ZONE, {
      name: `web.${ZONE}.`,
      type: "AAAA",
      value: "FD00:0::9",
      ttl: 60,
    });
    await client.createRecord(ZONE, { name: "other", type: "A", value: "10.1.2.4" });

    expect((await client.listRecords(ZONE)).length).toBe(3);
    const web = await client.listRecords(ZONE, { name: "web" });
    expect(web.map((r) => `${r.type} ${r.value}`).sort()).toEqual(["A 10.1.2.3", "AAAA fd00::9"]);
    expect(await client.listRecords(ZONE, { name: `web.${ZONE}`, type: "AAAA" })).toHaveLength(1);

    await client.deleteRecord(ZONE, a.id);
    expect(await client.listRecords(ZONE, { name: "web", type: "A" })).toEqual([]);
    const gone = await client.deleteRecord(ZONE, a.id).catch((e: unknown) => e);
    expect(isMcnsNotFoundError(gone)).toBe(true);
  });

  it("answers 409 Conflict for a duplicate and for a CNAME beside other data; ensureRecord is idempotent", async () => {
    await client.createRecord(ZONE, { name: "app", type: "A", value: "10.0.0.5" });
    const dup = await client
      .createRecord(ZONE, { name: "app", type: "A", value: "10.0.0.5" })
      .catch((e: unknown) => e);
    expect(isMcnsConflictError(dup)).toBe(true);
    const cn = await client
      .createRecord(ZONE, { name: "app", type: "CNAME", value: `web.${ZONE}` })
      .catch((e: unknown) => e);
    expect(isMcnsConflictError(cn)).toBe(true);

    const first = await client.ensureRecord(ZONE, { name: "svc", type: "A", value: "10.0.0.6" });
    const again = await client.ensureRecord(ZONE, { name: "svc", type: "A", value: "10.0.0.6" });
    expect(first.created).toBe(true);
    expect(again).toEqual({ record: first.record, created: false });
    expect(await client.listRecords(ZONE, { name: "svc" })).toHaveLength(1);
    await client.createRecord(ZONE, { name: "alias", type: "CNAME", value: `svc.${ZONE}` });
    const clash = await client
      .ensureRecord(ZONE, { name: "alias", type: "A", value: "10.0.0.6" })
      .catch((e: unknown) => e);
    expect(isMcnsConflictError(clash)).toBe(true);

    await client.createRecord(ZONE, { name: "svc", type: "A", value: "10.0.0.7" });
    expect(await client.removeRecords(ZONE, "svc")).toBe(2);
    expect(await client.removeRecords(ZONE, "svc")).toBe(0);
  });

  it("rejects bad input before sending it, and the server rejects it too", async () => {
    await expect(
      client.createRecord(ZONE, { name: "x", type: "A", value: "fd00::1" }),
    ).rejects.toThrow(/IPv4/);
    const res = await fetch(`${sim.url}/v1/zones/${ZONE}/records`, {
      method: "POST",
      headers: { authorization: `Bearer ${sim.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "x", type: "MX", value: "y" }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/type/);
    const nozone = await client.listRecords("other.zone").catch((e: unknown) => e);
    expect(isMcnsNotFoundError(nozone)).toBe(true);
    expect(isMcnsRejectedError(nozone)).toBe(false);
  });

  it("answers Unauthorized for a wrong token without echoing it", async () => {
    const bad = createMcnsClient({ url: sim.url, token: "wrong-s3cret" });
    const e = await bad.listRecords(ZONE).catch((x: unknown) => x);
    await bad.close();
    expect(isMcnsUnauthorizedError(e)).toBe(true);
    expect((e as Error).message).not.toContain("s3cret");
  });

  it("serves the records over real DNS, UDP and TCP", async () => {
    await client.createRecord(ZONE, { name: "web", type: "A", value: "10.9.8.7", ttl: 120 });
    await client.createRecord(ZONE, { name: "web", type: "AAAA", value: "fd00::7" });
    await client.createRecord(ZONE, { name: "www", type: "CNAME", value: `web.${ZONE}` });
    const r = resolver(sim);

    expect(await r.resolve4(`web.${ZONE}`, { ttl: true })).toEqual([
      { address: "10.9.8.7", ttl: 120 },
    ]);
    expect(await r.resolve6(`web.${ZONE}`)).toEqual(["fd00::7"]);
    expect(await r.resolve4(`www.${ZONE}`)).toEqual(["10.9.8.7"]);
    expect(await r.resolveCname(`www.${ZONE}`)).toEqual([`web.${ZONE}`]);
    await expect(r.resolve4(`missing.${ZONE}`)).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(r.resolveCname(`web.${ZONE}`)).rejects.toMatchObject({ code: "ENODATA" });
    await expect(r.resolve4("example.org")).rejects.toMatchObject({ code: "EREFUSED" });

    const udp = await udpQuery(sim, `missing.${ZONE}`, "A");
    expect(rcodeOf(udp)).toBe("NXDOMAIN");
    expect((udp as { flag_aa?: boolean }).flag_aa).toBe(true);
    expect(udp.authorities?.[0]).toMatchObject({ type: "SOA", name: ZONE });

    const tcp = await tcpQuery(sim, `www.${ZONE}`, "A");
    expect(rcodeOf(tcp)).toBe("NOERROR");
    expect(tcp.answers?.map((a) => `${a.type} ${(a as { data: string }).data}`)).toEqual([
      `CNAME web.${ZONE}`,
      "A 10.9.8.7",
    ]);
    expect(rcodeOf(await tcpQuery(sim, `missing.${ZONE}`, "A"))).toBe("NXDOMAIN");

    // A deleted record stops resolving at once: the DNS side reads the same store.
    await client.removeRecords(ZONE, "web", { type: "AAAA" });
    await expect(r.resolve6(`web.${ZONE}`)).rejects.toMatchObject({ code: "ENODATA" });
  });

  it("keeps records across a restart, on the same DNS port", async () => {
    const made = await client.createRecord(ZONE, { name: "kept", type: "A", value: "10.5.5.5" });
    const { dnsPort } = sim;
    await sim.stop();
    const saved = JSON.parse(await readFile(join(dir, "records.json"), "utf8")) as {
      zones: Record<string, { records: { id: string }[] }>;
    };
    expect(saved.zones[ZONE]?.records.map((r) => r.id)).toContain(made.id);

    sim = await startMcnsSim({ dir, dnsPort });
    await client.close();
    client = createMcnsClient({ url: sim.url, token: sim.token ?? "" });
    expect(await client.listRecords(ZONE, { name: "kept" })).toEqual([made]);
    expect(await resolver(sim).resolve4(`kept.${ZONE}`)).toEqual(["10.5.5.5"]);
  });

  it("serves several configured zones and refuses the rest", async () => {
    const d = await mkdtemp(join(tmpdir(), "mcp-mcns-sim-"));
    const s = await startMcnsSim({ dir: d, zones: ["a.test", "b.test."] });
    const c = createMcnsClient({ url: s.url, token: s.token ?? "" });
    try {
      await c.createRecord("b.test", { name: "x", type: "A", value: "10.0.0.1" });
      expect(await resolver(s).resolve4("x.b.test")).toEqual(["10.0.0.1"]);
      await expect(resolver(s).resolve4("x.a.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
      await expect(resolver(s).resolve4(`x.${ZONE}`)).rejects.toMatchObject({ code: "EREFUSED" });
    } finally {
      await c.close();
      await s.stop();
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe("mcns as an mcp-sim module", () => {
  it("serves HTTPS with the sim CA, accepts MCIAS tokens, and keeps its DNS port across restarts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mcp-mcns-mod-"));
    const modules = [mciasModule, mcnsModule];
    let sim = await startSim({
      dir,
      modules,
      options: { mcnsZones: "svc.mcp.metacircular.net,lab.test" },
    });
    try {
      const ep = sim.endpoints.mcns;
      expect(ep?.url).toMatch(/^https:/);
      expect(ep?.extra?.zones).toBe("svc.mcp.metacircular.net,lab.test");
      const ca = await readFile(ep?.caFile as string, "utf8");
      const { token } = await new MciasStore(join(dir, "mcias")).issueToken("admin", 3_600_000);
      const c = createMcnsClient({ url: ep?.url as string, token, ca });
      await c.ensureRecord("lab.test", { name: "node1", type: "A", value: "10.7.7.7" });
      await c.close();
      const dnsPort = ep?.extra?.dnsPort as number;
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([`127.0.0.1:${dnsPort}`]);
      expect(await r.resolve4("node1.lab.test")).toEqual(["10.7.7.7"]);

      await sim.stop();
      sim = await startSim({
        dir,
        modules,
        options: { mcnsZones: "svc.mcp.metacircular.net,lab.test" },
      });
      expect(sim.endpoints.mcns?.extra?.dnsPort).toBe(dnsPort);
      expect(await r.resolve4("node1.lab.test")).toEqual(["10.7.7.7"]);
    } finally {
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
