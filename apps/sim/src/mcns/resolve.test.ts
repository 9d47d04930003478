import type { Packet } from "dns-packet";
import { describe, expect, it } from "vitest";
import { answerQuery, RCODE, type Zones } from "./resolve.ts";
import type { StoredRecord } from "./store.ts";

const ZONE = "svc.mcp.metacircular.net";
const rec = (name: string, type: StoredRecord["type"], value: string, ttl = 300): StoredRecord => ({
  id: `${name}-${type}-${value}`,
  name,
  type,
  value,
  ttl,
});
const zones: Zones = new Map([
  [
    ZONE,
    {
      serial: 2026112100,
      records: [
        rec("web", "A", "10.0.0.1"),
        rec("web", "A", "10.0.0.2"),
        rec("web", "AAAA", "fd00::1"),
        rec("www", "CNAME", `web.${ZONE}`),
        rec("alias2", "CNAME", `www.${ZONE}`),
        rec("dangling", "CNAME", `gone.${ZONE}`),
        rec("outside", "CNAME", "example.org"),
        rec("a.deep", "A", "10.0.0.3"),
        rec("loop1", "CNAME", `loop2.${ZONE}`),
        rec("loop2", "CNAME", `loop1.${ZONE}`),
      ],
    },
  ],
]);

const ask = (name: string, type: string, flags = 1 << 8): Packet =>
  answerQuery(
    { type: "query", id: 42, flags, questions: [{ name, type, class: "IN" } as never] },
    zones,
  );
const rcode = (p: Packet) => (p.flags ?? 0) & 0xf;
const aa = (p: Packet) => ((p.flags ?? 0) & (1 << 10)) !== 0;

describe("answerQuery", () => {
  it("answers A and AAAA authoritatively, keeping id, RD and the question's case", () => {
    const p = ask(`Web.${ZONE}`, "A");
    expect(p.id).toBe(42);
    expect(rcode(p)).toBe(RCODE.NOERROR);
    expect(aa(p)).toBe(true);
    expect((p.flags ?? 0) & (1 << 8)).not.toBe(0);
    expect(p.answers?.map((a) => [a.name, a.type, (a as { data: string }).data])).toEqual([
      [`Web.${ZONE}`, "A", "10.0.0.1"],
      [`Web.${ZONE}`, "A", "10.0.0.2"],
    ]);
    expect(ask(`web.${ZONE}.`, "AAAA").answers?.map((a) => (a as { data: string }).data)).toEqual([
      "fd00::1",
    ]);
  });

  it("follows CNAME chains inside the zone", () => {
    const p = ask(`alias2.${ZONE}`, "A");
    expect(p.answers?.map((a) => `${a.name} ${a.type}`)).toEqual([
      `alias2.${ZONE} CNAME`,
      `www.${ZONE} CNAME`,
      `web.${ZONE} A`,
      `web.${ZONE} A`,
    ]);
    expect(ask(`www.${ZONE}`, "CNAME").answers).toHaveLength(1);
  });

  it("stops at a CNAME leaving the zone, and at a loop", () => {
    const out = ask(`outside.${ZONE}`, "A");
    expect(rcode(out)).toBe(RCODE.NOERROR);
    expect(out.answers).toHaveLength(1);
    expect(rcode(ask(`loop1.${ZONE}`, "A"))).toBe(RCODE.SERVFAIL);
  });

  it("NXDOMAIN with the SOA for a missing name, also at the end of a CNAME", () => {
    const p = ask(`nope.${ZONE}`, "A");
    expect(rcode(p)).toBe(RCODE.NXDOMAIN);
    expect(p.answers ?? []).toEqual([]);
    expect(p.authorities?.[0]).toMatchObject({
      type: "SOA",
      name: ZONE,
      data: { serial: 2026112100 },
    });
    const d = ask(`dangling.${ZONE}`, "A");
    expect(rcode(d)).toBe(RCODE.NXDOMAIN);
    expect(d.answers).toHaveLength(1);
  });

  it("NOERROR with no answers (NODATA) for an existing name of another type, and for empty non-terminals", () => {
    const p = ask(`a.deep.${ZONE}`, "AAAA");
    expect(rcode(p)).toBe(RCODE.NOERROR);
    expect(p.answers ?? []).toEqual([]);
    expect(p.authorities?.[0]?.type).toBe("SOA");
    expect(rcode(ask(`deep.${ZONE}`, "A"))).toBe(RCODE.NOERROR);
  });

  it("answers SOA at the apex", () => {
    const p = ask(ZONE, "SOA");
    expect(rcode(p)).toBe(RCODE.NOERROR);
    expect(p.answers?.[0]?.type).toBe("SOA");
  });

  it("REFUSED outside its zones, NOTIMP for other opcodes", () => {
    expect(rcode(ask("example.org", "A"))).toBe(RCODE.REFUSED);
    expect(rcode(ask(`x${ZONE}`, "A"))).toBe(RCODE.REFUSED);
    expect(rcode(ask(`web.${ZONE}`, "A", 2 << 11))).toBe(RCODE.NOTIMP);
  });
});
