import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { isIPv4, isIPv6 } from "node:net";
import { dirname } from "node:path";

export const TYPES = ["A", "AAAA", "CNAME"] as const;
export type RecordType = (typeof TYPES)[number];

export interface StoredRecord {
  id: string;
  /** Relative to the zone, lower case; `@` is the apex. */
  name: string;
  type: RecordType;
  value: string;
  ttl: number;
}

interface ZoneState {
  serial: number;
  records: StoredRecord[];
}

interface FileShape {
  version: 1;
  zones: Record<string, ZoneState>;
}

export class RecordConflictError extends Error {}
export class InvalidRecordError extends Error {}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export function normaliseDomain(s: string): string {
  return s.trim().toLowerCase().replace(/\.$/, "");
}

export function isDomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split(".").every((l) => LABEL.test(l));
}

/** `name` relative to `zone`, `@` for the apex; an absolute name in the zone is accepted. */
export function toRelative(name: string, zone: string): string {
  const n = normaliseDomain(name);
  if (n === "" || n === "@" || n === zone) return "@";
  const rel = n.endsWith(`.${zone}`) ? n.slice(0, -(zone.length + 1)) : n;
  if (!isDomain(rel))
    throw new InvalidRecordError(`name ${JSON.stringify(name)} is not a DNS name`);
  return rel;
}

/** Checks and normalises a record to be created; throws InvalidRecordError naming the field. */
export function checkRecord(zone: string, body: unknown): Omit<StoredRecord, "id"> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRecordError("body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  if (typeof b.name !== "string") throw new InvalidRecordError("name is required");
  const name = toRelative(b.name, zone);
  if (typeof b.type !== "string" || !(TYPES as readonly string[]).includes(b.type)) {
    throw new InvalidRecordError(`type must be one of ${TYPES.join(", ")}`);
  }
  const type = b.type as RecordType;
  const ttl = b.ttl ?? 300;
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647) {
    throw new InvalidRecordError("ttl must be a whole number of seconds");
  }
  if (typeof b.value !== "string") throw new InvalidRecordError("value is required");
  let value = b.value.trim();
  if (type === "A" && !isIPv4(value))
    throw new InvalidRecordError("value must be an IPv4 address for an A record");
  if (type === "AAAA") {
    if (!isIPv6(value))
      throw new InvalidRecordError("value must be an IPv6 address for an AAAA record");
    value = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  }
  if (type === "CNAME") {
    if (name === "@") throw new InvalidRecordError("a CNAME cannot sit at the zone apex");
    value = normaliseDomain(value);
    if (!isDomain(value))
      throw new InvalidRecordError("value must be a host name for a CNAME record");
  }
  return { name, type, value, ttl };
}

/**
 * The records of every zone, in memory, written to one JSON file after each change
 * (temp file + rename, so a crash leaves the old or the new file, never half of one).
 */
export class RecordStore {
  readonly file: string;
  readonly #zones = new Map<string, ZoneState>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string) {
    this.file = file;
  }

  static async open(file: string, zones: readonly string[]): Promise<RecordStore> {
    const store = new RecordStore(file);
    let saved: FileShape | undefined;
    try {
      saved = JSON.parse(await readFile(file, "utf8")) as FileShape;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT")
        throw new Error(`${file}: ${(e as Error).message}`);
    }
    for (const [zone, state] of Object.entries(saved?.zones ?? {})) store.#zones.set(zone, state);
    // Zones configured now but not on disk start empty; zones on disk but not configured
    // are kept in the file (not served), so a config slip does not delete data.
    for (const z of zones) {
      const zone = normaliseDomain(z);
      if (!isDomain(zone)) throw new Error(`zone ${JSON.stringify(z)} is not a DNS name`);
      if (!store.#zones.has(zone)) store.#zones.set(zone, { serial: initialSerial(), records: [] });
    }
    await store.#save();
    return store;
  }

  zone(zone: string): ZoneState | undefined {
    return this.#zones.get(zone);
  }

  list(zone: string, filter: { name?: string; type?: string } = {}): StoredRecord[] {
    const z = this.#zones.get(zone);
    if (!z) return [];
    return z.records.filter(
      (r) =>
        (filter.name === undefined || r.name === filter.name) &&
        (filter.type === undefined || r.type === filter.type),
    );
  }

  /** Adds a record; a duplicate, or a CNAME beside other data at the same name, is a conflict. */
  async create(zone: string, rec: Omit<StoredRecord, "id">): Promise<StoredRecord> {
    const z = this.#zones.get(zone);
    if (!z) throw new Error(`no zone ${zone}`);
    const here = z.records.filter((r) => r.name === rec.name);
    const dup = here.find((r) => r.type === rec.type && r.value === rec.value);
    if (dup)
      throw new RecordConflictError(
        `${rec.type} record ${rec.name} → ${rec.value} exists (id ${dup.id})`,
      );
    if (rec.type === "CNAME" && here.length > 0) {
      throw new RecordConflictError(
        `${rec.name} already has records; a CNAME cannot sit beside other data`,
      );
    }
    const cname = here.find((r) => r.type === "CNAME");
    if (cname)
      throw new RecordConflictError(
        `${rec.name} is a CNAME (to ${cname.value}); it cannot have other records`,
      );
    const stored: StoredRecord = { id: randomBytes(8).toString("hex"), ...rec };
    z.records.push(stored);
    z.serial++;
    await this.#save();
    return stored;
  }

  /** False when there is no such record. */
  async delete(zone: string, id: string): Promise<boolean> {
    const z = this.#zones.get(zone);
    const i = z ? z.records.findIndex((r) => r.id === id) : -1;
    if (!z || i < 0) return false;
    z.records.splice(i, 1);
    z.serial++;
    await this.#save();
    return true;
  }

  /** Writes are chained so two changes never race on the temp file or land out of order. */
  #save(): Promise<void> {
    const snapshot: FileShape = { version: 1, zones: Object.fromEntries(this.#zones) };
    const text = `${JSON.stringify(snapshot, null, 2)}\n`;
    const write = async () => {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, this.file);
    };
    this.#writing = this.#writing.then(write, write);
    return this.#writing;
  }
}

/** YYYYMMDDnn, the usual SOA serial convention, from today's date. */
function initialSerial(): number {
  const d = new Date();
  return (d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()) * 100;
}
