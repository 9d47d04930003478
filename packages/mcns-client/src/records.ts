import { isIPv4, isIPv6 } from "node:net";
import { McnsBadResponseError } from "./errors.ts";

export const RECORD_TYPES = ["A", "AAAA", "CNAME"] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export interface DnsRecord {
  id: string;
  /** Relative to the zone (`"mcp-agent"` in zone `svc.mcp.metacircular.net`); `"@"` is the apex. */
  name: string;
  type: RecordType;
  /** An IPv4 address (A), an IPv6 address (AAAA) or a host name (CNAME). */
  value: string;
  ttl: number;
}

export interface NewRecord {
  /** Relative to the zone, or absolute inside it (`"svc.zone"` / `"svc.zone."` become `"svc"`). */
  name: string;
  type: RecordType;
  value: string;
  /** Seconds; default 300. */
  ttl?: number;
}

export const DEFAULT_TTL = 300;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-case, no trailing dot; each label 1–63 characters of letters, digits, `-` and `_`. */
export function normaliseZone(zone: string): string {
  const z = zone.trim().toLowerCase().replace(/\.$/, "");
  if (z === "" || !z.split(".").every((l) => LABEL.test(l))) {
    throw new TypeError(`mcns: zone ${JSON.stringify(zone)} is not a DNS name`);
  }
  return z;
}

/** The name relative to `zone` (already normalised); `"@"` for the apex. */
export function relativeName(name: string, zone: string): string {
  let n = name.trim().toLowerCase().replace(/\.$/, "");
  if (n === zone || n === "@" || n === "") return "@";
  if (n.endsWith(`.${zone}`)) n = n.slice(0, -(zone.length + 1));
  if (!n.split(".").every((l) => LABEL.test(l))) {
    throw new TypeError(`mcns: record name ${JSON.stringify(name)} is not a DNS name`);
  }
  return n;
}

/** Checks a record before it is sent: bad input fails here with a message naming the field. */
export function checkNewRecord(zone: string, rec: NewRecord): Required<NewRecord> {
  const name = relativeName(rec.name, zone);
  if (!(RECORD_TYPES as readonly string[]).includes(rec.type)) {
    throw new TypeError(
      `mcns: record type ${JSON.stringify(rec.type)} is not one of ${RECORD_TYPES.join(", ")}`,
    );
  }
  const ttl = rec.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647) {
    throw new TypeError(`mcns: record ttl ${ttl} is not a whole number of seconds`);
  }
  let value = rec.value.trim();
  if (rec.type === "A" && !isIPv4(value))
    throw new TypeError(`mcns: A record value ${JSON.stringify(value)} is not an IPv4 address`);
  if (rec.type === "AAAA" && !isIPv6(value))
    throw new TypeError(`mcns: AAAA record value ${JSON.stringify(value)} is not an IPv6 address`);
  if (rec.type === "CNAME") {
    value = value.toLowerCase().replace(/\.$/, "");
    if (value === "" || !value.split(".").every((l) => LABEL.test(l))) {
      throw new TypeError(
        `mcns: CNAME record value ${JSON.stringify(rec.value)} is not a host name`,
      );
    }
  }
  return { name, type: rec.type, value, ttl };
}

/** Same record for DNS purposes: name, type, value (addresses compared canonically) and TTL. */
export function sameRecord(a: Omit<DnsRecord, "id">, b: Omit<DnsRecord, "id">): boolean {
  return (
    a.name === b.name &&
    a.type === b.type &&
    a.ttl === b.ttl &&
    canonicalValue(a) === canonicalValue(b)
  );
}

function canonicalValue(r: Pick<DnsRecord, "type" | "value">): string {
  if (r.type === "AAAA") {
    try {
      return new URL(`http://[${r.value}]/`).hostname;
    } catch {
      return r.value.toLowerCase();
    }
  }
  return r.value.toLowerCase().replace(/\.$/, "");
}

/** Run-time check of one record from the server; `where` prefixes field names in errors. */
export function parseRecord(json: unknown, where: string, status?: number): DnsRecord {
  const bad = (field: string, why: string) =>
    new McnsBadResponseError(`${where}${field}`, `mcns: response field ${where}${field} ${why}`, {
      status,
    });
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw bad("", "is not an object");
  const o = json as Record<string, unknown>;
  const id = o.id;
  if (!(typeof id === "string" && id !== "") && !(typeof id === "number" && Number.isFinite(id))) {
    throw bad("id", "is missing or not a string or number");
  }
  if (typeof o.name !== "string") throw bad("name", "is missing or not a string");
  if (typeof o.type !== "string" || !(RECORD_TYPES as readonly string[]).includes(o.type)) {
    throw bad("type", `is not one of ${RECORD_TYPES.join(", ")}`);
  }
  if (typeof o.value !== "string") throw bad("value", "is missing or not a string");
  if (typeof o.ttl !== "number" || !Number.isInteger(o.ttl) || o.ttl < 0)
    throw bad("ttl", "is not a whole number");
  return { id: String(id), name: o.name, type: o.type as RecordType, value: o.value, ttl: o.ttl };
}

/** The list answer: `{records: [...]}` (a bare array is accepted too). */
export function parseRecordList(json: unknown, status?: number): DnsRecord[] {
  let list: unknown = json;
  if (typeof json === "object" && json !== null && !Array.isArray(json))
    list = (json as Record<string, unknown>).records;
  if (!Array.isArray(list)) {
    throw new McnsBadResponseError(
      "records",
      "mcns: response field records is missing or not an array",
      { status },
    );
  }
  return list.map((r, i) => parseRecord(r, `records[${i}].`, status));
}

/** The create answer: the record itself (or `{record: {...}}`). */
export function parseCreated(json: unknown, status?: number): DnsRecord {
  if (typeof json === "object" && json !== null && "record" in json) {
    return parseRecord((json as Record<string, unknown>).record, "record.", status);
  }
  return parseRecord(json, "", status);
}
