import { readFile } from "node:fs/promises";
import type { SimModule } from "../framework.ts";
import { DEFAULT_ZONES, startMcnsSim } from "./server.ts";

export type { Zones, ZoneView } from "./resolve.ts";
export { answerQuery } from "./resolve.ts";
export type { McnsSim, McnsSimOptions } from "./server.ts";
export { DEFAULT_ZONES, startMcnsSim } from "./server.ts";
export type { RecordType, StoredRecord } from "./store.ts";
export { RecordStore } from "./store.ts";

/**
 * MCNS stand-in: the records REST API over HTTPS (certificate from the sim's local CA) and
 * an authoritative DNS server on the same host, UDP and TCP on one port (`extra.dnsPort`).
 * Options: `mcnsZones` (comma-separated, default svc.mcp.metacircular.net) and
 * `mcnsDnsPort`. Tokens: `DIR/mcns/tokens`, or any token the sim's MCIAS validates.
 */
export const mcnsModule: SimModule = {
  name: "mcns",
  description: "MCNS: DNS records API (HTTPS) and an authoritative DNS server (UDP+TCP)",
  async start(ctx) {
    const zonesOpt = ctx.options.mcnsZones;
    const zones =
      typeof zonesOpt === "string" && zonesOpt.trim() !== ""
        ? zonesOpt
            .split(",")
            .map((z) => z.trim())
            .filter((z) => z !== "")
        : DEFAULT_ZONES;
    const dnsPortOpt = ctx.options.mcnsDnsPort ?? ctx.previous?.extra?.dnsPort;
    const dnsPort = dnsPortOpt === undefined ? undefined : Number(dnsPortOpt);
    if (dnsPort !== undefined && !(Number.isInteger(dnsPort) && dnsPort >= 0 && dnsPort < 65536)) {
      throw new Error(`--mcns-dns-port: ${String(dnsPortOpt)} is not a port number`);
    }
    const mcias = ctx.peers.get("mcias");
    const tls = await ctx.tls.serverCert();
    const sim = await startMcnsSim({
      dir: ctx.dir,
      host: ctx.host,
      zones,
      tls,
      ...(ctx.previous?.port ? { port: ctx.previous.port } : {}),
      ...(dnsPort ? { dnsPort } : {}),
      ...(mcias?.url
        ? {
            mcias: {
              url: mcias.url,
              ...(mcias.caFile ? { ca: await readFile(mcias.caFile, "utf8") } : {}),
            },
          }
        : {}),
    });
    ctx.log.info("listening", {
      url: sim.url,
      dns: `${sim.dnsHost}:${sim.dnsPort}`,
      zones: sim.zones.join(","),
    });
    return {
      endpoint: {
        name: "mcns",
        url: sim.url,
        host: ctx.host,
        port: sim.port,
        caFile: ctx.tls.caFile,
        extra: {
          dnsPort: sim.dnsPort,
          zones: sim.zones.join(","),
          tokenFile: sim.tokensFile ?? "",
        },
      },
      stop: sim.stop,
    };
  },
};
