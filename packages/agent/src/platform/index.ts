import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createMcnsClient, type McnsClient } from "@mcp/mcns-client";
import { createMcProxyClient } from "@mcp/mcproxy-client";
import { createMetacryptClient, type MetacryptClient } from "@mcp/metacrypt-client";
import { type AgentConfig, ConfigError } from "../config.ts";
import type { Platform } from "../platform.ts";
import { MetacryptCertificates } from "./certificates.ts";
import { McnsDns } from "./dns.ts";
import { CertificateGenerations, McProxyRoutes } from "./routes.ts";

export {
  certificateBundle,
  MetacryptCertificates,
  type MetacryptCertificatesOptions,
  type ReuseDecision,
  reuseDecision,
  writeFileAtomic,
} from "./certificates.ts";
export { McnsDns, type McnsDnsOptions, nodeRecord, planRecords } from "./dns.ts";
export { isPlatformError, PlatformError } from "./errors.ts";
export { CertificateGenerations, McProxyRoutes, sameRoute } from "./routes.ts";

export interface PlatformDeps {
  /** Start-up warnings (a token file that cannot be read yet). */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Per-call timeouts; the clients' defaults (10 s HTTP, 5 s mc-proxy) otherwise. */
  timeoutMs?: { metacrypt?: number; mcproxy?: number; mcns?: number };
  /** The clock certificate reuse is judged by (tests move it toward expiry). */
  now?: () => Date;
}

export interface PlatformHandle extends Platform {
  /** Closes the clients' connections. */
  close(): Promise<void>;
}

function readCa(path: string, key: string, file: string): Buffer | undefined {
  if (path === "") return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ConfigError(`${file}: cannot read ${key} ${path}: ${code}`, { cause: e });
  }
}

/**
 * A client built from the token in `tokenFile`, read again on every call (a few µs) so that a
 * rotated token is used without restarting the agent; the token itself is never logged nor
 * put in a message.
 */
function tokenClient<C extends { close(): Promise<void> }>(
  tokenFile: string,
  key: string,
  make: (token: string) => C,
): { get(): Promise<C>; close(): Promise<void> } {
  let current: { token: string; client: C } | undefined;
  return {
    async get() {
      let token: string;
      try {
        token = (await readFile(tokenFile, "utf8")).trim();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? String(e);
        throw new Error(`cannot read ${key} ${tokenFile}: ${code}`, { cause: e });
      }
      if (token === "") throw new Error(`${key} ${tokenFile} is empty`);
      if (current?.token !== token) {
        const old = current?.client;
        current = { token, client: make(token) };
        await old?.close().catch(() => {});
      }
      return current.client;
    },
    async close() {
      await current?.client.close().catch(() => {});
      current = undefined;
    },
  };
}

/**
 * The platform ports on the real services, each one present when its section is configured:
 * certificates when `metacrypt.server_url` is set, routes when `mcproxy.socket` is, DNS when
 * `mcns.server_url` is. A port left out makes its deploy step "skipped (not configured)".
 * Bad configuration (a URL without a token file, an unreadable CA) throws ConfigError.
 */
export function createPlatform(config: AgentConfig, deps: PlatformDeps = {}): PlatformHandle {
  const closers: (() => Promise<void>)[] = [];
  const generations = new CertificateGenerations();
  const platform: PlatformHandle = {
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
  const checkTokenFile = (path: string, key: string, urlKey: string) => {
    if (path === "") {
      throw new ConfigError(`${config.file}: ${key} is required when ${urlKey} is set`);
    }
    try {
      readFileSync(path);
    } catch (e) {
      deps.warn?.(`${key} cannot be read yet; deploys will fail until it can`, {
        path,
        error: (e as NodeJS.ErrnoException).code ?? String(e),
      });
    }
  };

  const mc = config.metacrypt;
  if (mc.server_url !== "") {
    checkTokenFile(mc.token_file, "metacrypt.token_file", "metacrypt.server_url");
    const ca = readCa(mc.ca_cert, "metacrypt.ca_cert", config.file);
    const timeoutMs = deps.timeoutMs?.metacrypt;
    const metacrypt = tokenClient<MetacryptClient>(mc.token_file, "metacrypt.token_file", (token) =>
      createMetacryptClient({
        url: mc.server_url,
        token,
        ...(ca ? { ca } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
      }),
    );
    closers.push(metacrypt.close);
    platform.certificates = new MetacryptCertificates({
      dir: config.certs.dir,
      issue: async (req) => (await metacrypt.get()).issueCertificate(req),
      mount: mc.mount,
      path: mc.issuer,
      issuer: mc.issuer,
      profile: mc.profile,
      ttl: mc.ttl,
      onIssued: (certPath) => generations.bump(certPath),
      ...(deps.now ? { now: deps.now } : {}),
    });
  }

  if (config.mcproxy.socket !== "") {
    const timeoutMs = deps.timeoutMs?.mcproxy;
    const proxy = createMcProxyClient({
      socketPath: config.mcproxy.socket,
      ...(timeoutMs ? { timeoutMs } : {}),
    });
    closers.push(async () => proxy.close());
    platform.routes = new McProxyRoutes(proxy, generations);
  }

  const ns = config.mcns;
  if (ns.server_url !== "") {
    checkTokenFile(ns.token_file, "mcns.token_file", "mcns.server_url");
    const ca = readCa(ns.ca_cert, "mcns.ca_cert", config.file);
    const timeoutMs = deps.timeoutMs?.mcns;
    const mcns = tokenClient<McnsClient>(ns.token_file, "mcns.token_file", (token) =>
      createMcnsClient({
        url: ns.server_url,
        token,
        ...(ca ? { ca } : {}),
        ...(timeoutMs ? { timeoutMs } : {}),
      }),
    );
    closers.push(mcns.close);
    platform.dns = new McnsDns(mcns.get, {
      zone: ns.zone,
      address: config.agent.address,
      ttl: ns.ttl,
    });
  }
  return platform;
}
