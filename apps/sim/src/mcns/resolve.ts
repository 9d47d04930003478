import type { Answer, Packet } from "dns-packet";
import type { StoredRecord } from "./store.ts";

// Header bits (RFC 1035 §4.1.1); dns-packet takes the rcode inside `flags`.
const FLAG_AA = 1 << 10;
const FLAG_RD = 1 << 8;
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

const MAX_CHAIN = 8;
const SOA_TTL = 60;

export interface ZoneView {
  serial: number;
  records: readonly StoredRecord[];
}

/** What the resolver sees: the zones served and their records. */
export type Zones = ReadonlyMap<string, ZoneView>;

/**
 * Answers one query authoritatively: A/AAAA/CNAME (and ANY, SOA at the apex), CNAMEs
 * followed inside the zone, NXDOMAIN with the SOA for names the zone lacks, NODATA with
 * the SOA for names that exist without that type, REFUSED outside the served zones.
 * Pure: no I/O, so it is tested without sockets.
 */
export function answerQuery(query: Packet, zones: Zones): Packet {
  const response = (rcode: number, extra: Partial<Packet> = {}): Packet => ({
    type: "response",
    id: query.id ?? 0,
    flags: (rcode === RCODE.REFUSED ? 0 : FLAG_AA) | ((query.flags ?? 0) & FLAG_RD) | rcode,
    questions: query.questions ?? [],
    ...extra,
  });
  const opcode = ((query.flags ?? 0) >> 11) & 0xf;
  if (opcode !== 0) return response(RCODE.NOTIMP);
  const q = query.questions?.[0];
  if (!q || (query.questions?.length ?? 0) !== 1) return response(RCODE.FORMERR);
  if (q.class !== "IN" && q.class !== undefined) return response(RCODE.REFUSED);

  // dns-packet's types omit ANY (255), which it does decode.
  const qtype = q.type as string;
  const qname = q.name.toLowerCase().replace(/\.$/, "");
  const zone = findZone(qname, zones);
  if (zone === undefined) return response(RCODE.REFUSED);
  const z = zones.get(zone) as ZoneView;
  const soa = soaAnswer(zone, z);

  const answers: Answer[] = [];
  let owner = q.name;
  let rel = relative(qname, zone);
  for (let hop = 0; hop < MAX_CHAIN; hop++) {
    if (rel === "@" && (qtype === "SOA" || qtype === "ANY")) answers.push({ ...soa, name: owner });
    const here = z.records.filter((r) => r.name === rel);
    const matching = here.filter((r) => qtype === "ANY" || r.type === qtype);
    if (matching.length > 0) {
      for (const r of matching) answers.push(toAnswer(owner, r));
      return response(RCODE.NOERROR, { answers });
    }
    const cname = here.find((r) => r.type === "CNAME");
    if (cname) {
      answers.push(toAnswer(owner, cname));
      const target = cname.value;
      // Only chase inside this zone; a resolver follows the rest from the CNAME itself.
      if (findZone(target, zones) !== zone) return response(RCODE.NOERROR, { answers });
      owner = target;
      rel = relative(target, zone);
      continue;
    }
    if (answers.length > 0 && rel === "@") return response(RCODE.NOERROR, { answers });
    // RFC 6604: after a CNAME chain the rcode speaks of the last name in it.
    const exists =
      rel === "@" || z.records.some((r) => r.name === rel || r.name.endsWith(`.${rel}`));
    return response(exists ? RCODE.NOERROR : RCODE.NXDOMAIN, { answers, authorities: [soa] });
  }
  return response(RCODE.SERVFAIL, { answers });
}

function findZone(name: string, zones: Zones): string | undefined {
  let best: string | undefined;
  for (const zone of zones.keys()) {
    if (
      (name === zone || name.endsWith(`.${zone}`)) &&
      (best === undefined || zone.length > best.length)
    )
      best = zone;
  }
  return best;
}

function relative(name: string, zone: string): string {
  return name === zone ? "@" : name.slice(0, -(zone.length + 1));
}

function toAnswer(owner: string, r: StoredRecord): Answer {
  return { name: owner, type: r.type, class: "IN", ttl: r.ttl, data: r.value } as Answer;
}

function soaAnswer(zone: string, z: ZoneView): Answer {
  return {
    name: zone,
    type: "SOA",
    class: "IN",
    ttl: SOA_TTL,
    data: {
      mname: `ns.${zone}`,
      rname: `hostmaster.${zone}`,
      serial: z.serial >>> 0,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: SOA_TTL,
    },
  };
}
