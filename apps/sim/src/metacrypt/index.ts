import { readFile } from "node:fs/promises";
import type { SimModule } from "../framework.ts";
import { startMetacryptSim } from "./server.ts";

export type { IndexEntry, Issued, IssueParams, Profile } from "./ca.ts";
export { SimCa } from "./ca.ts";
export { parseGoDuration } from "./duration.ts";
export type { MetacryptSim, MetacryptSimOptions } from "./server.ts";
export { parseIssueBody, startMetacryptSim } from "./server.ts";

/**
 * Metacrypt stand-in: its own root CA in `DIR/metacrypt/` (not the sim's shared local CA:
 * Metacrypt *is* a CA, and what it issues must chain to its root), HTTPS with a serving
 * certificate from that root, `POST /v1/engine/request` (issue). Tokens: the token file
 * `DIR/metacrypt/tokens`, or any token the sim's MCIAS validates when it runs too.
 */
export const metacryptModule: SimModule = {
  name: "metacrypt",
  description: "Metacrypt: a CA that issues TLS certificates (POST /v1/engine/request); HTTPS",
  async start(ctx) {
    const mcias = ctx.peers.get("mcias");
    const sim = await startMetacryptSim({
      dir: ctx.dir,
      host: ctx.host,
      ...(ctx.previous?.port ? { port: ctx.previous.port } : {}),
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
      caFile: sim.caFile,
      mcias: mcias?.url ?? "not running",
    });
    return {
      endpoint: {
        name: "metacrypt",
        url: sim.url,
        host: ctx.host,
        port: sim.port,
        caFile: sim.caFile,
        extra: { tokenFile: sim.tokensFile ?? "", mount: "pki" },
      },
      stop: sim.stop,
    };
  },
};
