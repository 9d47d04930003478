import { createServer } from "node:https";
import { join } from "node:path";
import { parseDuration } from "../duration.ts";
import type { SimModule } from "../framework.ts";
import { closeServer, hostPort, listenPreferred } from "../framework.ts";
import { mciasHandler } from "./server.ts";
import { MciasStore } from "./store.ts";

export { MciasStore } from "./store.ts";

/** Default lifetime of tokens from /v1/auth/login. */
export const DEFAULT_TOKEN_TTL = "1h";

/**
 * MCIAS stand-in over HTTPS (certificate from the sim's local CA). Options:
 * `tokenTtl` (duration, default 1h) for tokens issued by login.
 */
export const mciasModule: SimModule = {
  name: "mcias",
  description: "MCIAS: login, token validation (admin role), revocation; HTTPS",
  async start(ctx) {
    const tokenTtlMs = parseDuration(
      (ctx.options.tokenTtl as string | number | undefined) ?? DEFAULT_TOKEN_TTL,
      "--token-ttl",
    );
    const store = new MciasStore(ctx.dir);
    await store.init();
    const pruned = await store.pruneTokens();
    if (pruned > 0) ctx.log.info("pruned expired tokens", { count: pruned });
    const { cert, key } = await ctx.tls.serverCert();
    const server = createServer(
      { cert, key, minVersion: "TLSv1.2" },
      mciasHandler({ store, tokenTtlMs, log: ctx.log }),
    );
    const port = await listenPreferred(server, ctx.host, ctx.previous?.port);
    const url = `https://${hostPort(ctx.host, port)}`;
    ctx.log.info("listening", { url });
    return {
      endpoint: {
        name: "mcias",
        url,
        host: ctx.host,
        port,
        caFile: ctx.tls.caFile,
        extra: {
          usersFile: store.usersFile,
          initialPasswordsFile: store.initialPasswordsFile,
          tokenTtlMs,
        },
      },
      stop: () => closeServer(server),
    };
  },
};

/**
 * Mints a token for `user` straight into the MCIAS stand-in's store under the sim dir
 * `rootDir` (as `mcp-sim mcias token` does); for tests that need an admin token.
 */
export async function mintSimToken(
  rootDir: string,
  user = "admin",
  ttl: string | number = "1h",
): Promise<{ token: string; expiresAt: Date }> {
  const store = new MciasStore(join(rootDir, "mcias"));
  await store.init();
  if (!(await store.account(user))) throw new Error(`no account "${user}" in ${store.usersFile}`);
  return store.issueToken(user, parseDuration(ttl, "ttl"));
}
