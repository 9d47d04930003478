import { describe, expect, it } from "vitest";
import {
  checkNewRecord,
  isMcnsBadResponseError,
  normaliseZone,
  parseRecord,
  parseRecordList,
  relativeName,
  sameRecord,
} from "../src/index.ts";

const ZONE = "svc.mcp.metacircular.net";

describe("names", () => {
  it("normalises zones and makes names relative to them", () => {
    expect(normaliseZone("SVC.mcp.metacircular.net.")).toBe(ZONE);
    expect(relativeName("Web", ZONE)).toBe("web");
    expect(relativeName(`web.${ZONE}.`, ZONE)).toBe("web");
    expect(relativeName(`a.b.${ZONE}`, ZONE)).toBe("a.b");
    expect(relativeName(ZONE, ZONE)).toBe("@");
    expect(relativeName("@", ZONE)).toBe("@");
  });
  it.each(["bad name", "-x", "x..y", "a".repeat(64), "*"])("rejects %j", (n) => {
    expect(() => relativeName(n, ZONE)).toThrow(/not a DNS name/);
  });
  it("rejects a zone that is not a name", () => {
    expect(() => normaliseZone("")).toThrow(/zone/);
  });
});

describe("checkNewRecord", () => {
  it("fills the TTL and normalises values", () => {
    expect(checkNewRecord(ZONE, { name: "w", type: "A", value: " 10.0.0.1 " })).toEqual({
      name: "w",
      type: "A",
      value: "10.0.0.1",
      ttl: 300,
    });
    expect(
      checkNewRecord(ZONE, { name: "w", type: "CNAME", value: "Web.Example.org." }).value,
    ).toBe("web.example.org");
  });
  it.each([
    [{ name: "w", type: "A", value: "fd00::1" }, /IPv4/],
    [{ name: "w", type: "AAAA", value: "10.0.0.1" }, /IPv6/],
    [{ name: "w", type: "CNAME", value: "not a host" }, /host name/],
    [{ name: "w", type: "MX", value: "x" }, /type/],
    [{ name: "w", type: "A", value: "10.0.0.1", ttl: -1 }, /ttl/],
    [{ name: "w", type: "A", value: "10.0.0.1", ttl: 1.5 }, /ttl/],
  ])("rejects %j", (rec, msg) => {
    expect(() => checkNewRecord(ZONE, rec as never)).toThrow(msg);
  });
});

describe("sameRecord", () => {
  const a = { name: "w", type: "AAAA" as const, value: "fd00:0:0::1", ttl: 300 };
  it("compares addresses canonically, and TTLs", () => {
    expect(sameRecord(a, { ...a, value: "FD00::1" })).toBe(true);
    expect(sameRecord(a, { ...a, value: "fd00::2" })).toBe(false);
    expect(sameRecord(a, { ...a, ttl: 60 })).toBe(false);
  });
});

describe("response parsing", () => {
  const rec = { id: "abc", name: "w", type: "A", value: "10.0.0.1", ttl: 300 };
  it("accepts {records} or a bare array; numeric ids become strings", () => {
    expect(parseRecordList({ records: [rec] })).toEqual([rec]);
    expect(parseRecordList([{ ...rec, id: 7 }])[0]?.id).toBe("7");
  });
  it.each([
    [{ records: "x" }, "records"],
    [{ records: [{ ...rec, id: undefined }] }, "records[0].id"],
    [{ records: [rec, { ...rec, type: "MX" }] }, "records[1].type"],
    [{ records: [{ ...rec, ttl: "300" }] }, "records[0].ttl"],
    [{ records: [{ ...rec, value: null }] }, "records[0].value"],
  ])("names the field that is wrong: %j → %s", (json, field) => {
    let e: unknown;
    try {
      parseRecordList(json);
    } catch (x) {
      e = x;
    }
    expect(isMcnsBadResponseError(e)).toBe(true);
    expect((e as { field: string }).field).toBe(field);
  });
  it("names the field of a single record", () => {
    expect(() => parseRecord({ ...rec, name: 1 }, "")).toThrow(/response field name/);
  });
});
