import { readFile } from "node:fs/promises";
import type { SimModule } from "../framework.ts";
import { startRegistryAuthSim } from "./server.ts";

export type { RegistryConfigOptions } from "./config.ts";
export { registryTokenAuthConfig, writeRegistryConfig } from "./config.ts";
export type { Access } from "./jwt.ts";
export { grantAccess, libtrustKeyId, parseScopes, signJwtEs256 } from "./jwt.ts";
export type { SigningKey } from "./keys.ts";
export { ensureSigningKey } from "./keys.ts";
export type { RegistryAuthSim, RegistryAuthSimOptions } from "./server.ts";
export {
  DEFAULT_ISSUER as REGISTRY_AUTH_DEFAULT_ISSUER,
  DEFAULT_SERVICE as REGISTRY_AUTH_DEFAULT_SERVICE,
  DEFAULT_TOKEN_TTL_S as REGISTRY_AUTH_DEFAULT_TOKEN_TTL_S,
  startRegistryAuthSim,
} from "./server.ts";

function stringOption(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.trim() === "")
    throw new Error(`--${name}: expected a non-empty string`);
  return v;
}

/**
 * Token service for an OCI registry (MCR's token auth) over HTTPS, in front of the sim's
 * MCIAS. Options: `registryService` (default `mcr`), `registryIssuer` (default
 * `mcp-sim-registry-auth`), `registryTokenTtl` (seconds, default 300). The endpoint's
 * `extra` carries what a registry config needs: `realm`, `service`, `issuer`,
 * `rootCertBundle`.
 */
export const registryAuthModule: SimModule = {
  name: "registry-auth",
  description: "MCR token service: Docker/OCI registry token auth (JWT) backed by MCIAS; HTTPS",
  dependsOn: ["mcias"],
  async start(ctx) {
    const mcias = ctx.peers.get("mcias");
    if (!mcias?.url) throw new Error("registry-auth needs the mcias module running");
    const ttlOpt = ctx.options.registryTokenTtl;
    const ttl = ttlOpt === undefined ? undefined : Number(ttlOpt);
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0))
      throw new Error(`--registry-token-ttl: ${String(ttlOpt)} is not a whole number of seconds`);
    const service = stringOption(ctx.options.registryService, "registry-service");
    const issuer = stringOption(ctx.options.registryIssuer, "registry-issuer");
    const sim = await startRegistryAuthSim({
      dir: ctx.dir,
      host: ctx.host,
      tls: await ctx.tls.serverCert(),
      mcias: {
        url: mcias.url,
        ...(mcias.caFile ? { ca: await readFile(mcias.caFile, "utf8") } : {}),
      },
      log: ctx.log,
      ...(ctx.previous?.port ? { port: ctx.previous.port } : {}),
      ...(service ? { service } : {}),
      ...(issuer ? { issuer } : {}),
      ...(ttl ? { tokenTtlS: ttl } : {}),
    });
    ctx.log.info("listening", {
      realm: sim.realm,
      service: sim.service,
      rootCertBundle: sim.rootCertBundle,
    });
    return {
      endpoint: {
        name: "registry-auth",
        url: sim.url,
        host: ctx.host,
        port: sim.port,
        caFile: ctx.tls.caFile,
        extra: {
          realm: sim.realm,
          service: sim.service,
          issuer: sim.issuer,
          rootCertBundle: sim.rootCertBundle,
          kid: sim.kid,
        },
      },
      stop: sim.stop,
    };
  },
};
