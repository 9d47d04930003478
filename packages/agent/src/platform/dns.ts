import { isIP } from "node:net";
import {
  type DnsRecord,
  isMcnsNotFoundError,
  type McnsClient,
  type NewRecord,
  relativeName,
  sameRecord,
} from "@mcp/mcns-client";
import type { DnsRegistrar } from "../platform.ts";
import { PlatformError } from "./errors.ts";

/** Record types that say where a name lives; these are the ones a service's name owns. */
const ADDRESS_TYPES: ReadonlySet<string> = new Set(["A", "AAAA", "CNAME"]);

/** The record that points `name` at the node: A for IPv4, AAAA for IPv6, else a CNAME. */
export function nodeRecord(name: string, address: string, ttl: number): Required<NewRecord> {
  const family = isIP(address);
  const type = family === 4 ? "A" : family === 6 ? "AAAA" : "CNAME";
  return { name, type, value: address.replace(/\.$/, ""), ttl };
}

/**
 * What to do at `name` so that it holds exactly `want` among its address records: which
 * records to delete (another address, a left-over of a node that changed address, another
 * TTL) and whether `want` still has to be created. Pure.
 */
export function planRecords(
  existing: readonly DnsRecord[],
  want: Required<NewRecord>,
): { remove: DnsRecord[]; create: boolean } {
  const mine = existing.filter((r) => ADDRESS_TYPES.has(r.type) && r.name === want.name);
  const keep = mine.find((r) => sameRecord(r, want));
  return { remove: mine.filter((r) => r !== keep), create: keep === undefined };
}

function describe(what: string, fqdn: string, e: unknown): Error {
  return new PlatformError(`MCNS ${what} ${fqdn}`, e);
}

export interface McnsDnsOptions {
  zone: string;
  /** The node's address (config `agent.address`). */
  address: string;
  ttl: number;
}

/** DnsRegistrar on MCNS: `<service>.<zone>` → the node's address. */
export class McnsDns implements DnsRegistrar {
  readonly #client: () => Promise<McnsClient>;
  readonly #o: McnsDnsOptions;

  /** `client` is asked on each call, so that a rotated token file is picked up. */
  constructor(client: () => Promise<McnsClient>, options: McnsDnsOptions) {
    this.#client = client;
    this.#o = options;
  }

  async register(service: string): Promise<boolean> {
    const { zone, address, ttl } = this.#o;
    const fqdn = `${service}.${zone}`;
    const want = nodeRecord(relativeName(service, zone), address, ttl);
    const mcns = await this.#client();
    try {
      const plan = planRecords(await mcns.listRecords(zone, { name: want.name }), want);
      if (!plan.create && plan.remove.length === 0) return false;
      for (const r of plan.remove) await this.#delete(mcns, r);
      if (plan.create) await mcns.ensureRecord(zone, want);
      return true;
    } catch (e) {
      throw describe("cannot register", fqdn, e);
    }
  }

  async unregister(service: string): Promise<void> {
    const { zone } = this.#o;
    const name = relativeName(service, zone);
    const mcns = await this.#client();
    try {
      const records = await mcns.listRecords(zone, { name });
      for (const r of records) {
        if (ADDRESS_TYPES.has(r.type) && r.name === name) await this.#delete(mcns, r);
      }
    } catch (e) {
      throw describe("cannot remove", `${service}.${zone}`, e);
    }
  }

  async #delete(mcns: McnsClient, r: DnsRecord): Promise<void> {
    try {
      await mcns.deleteRecord(this.#o.zone, r.id);
    } catch (e) {
      // Deleted meanwhile: that is what was wanted.
      if (!isMcnsNotFoundError(e)) throw e;
    }
  }
}
