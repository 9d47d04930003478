/**
 * A real OCI registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1 and a
 * free port, with its own config and storage in a temp dir, stopped by `stop()`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./podman.ts";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

/**
 * Token auth (the bearer-challenge flow MCR uses): the registry answers 401 with a
 * `WWW-Authenticate: Bearer realm=…,service=…` challenge and accepts JWTs signed by a key
 * whose certificate is in `rootCertBundle`. The token server itself is the caller's.
 */
export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the certificate(s) that sign tokens. */
  rootCertBundle: string;
}

export interface RegistryOptions {
  tokenAuth?: RegistryTokenAuth;
  /** TLS (cert and key PEM files); default plain HTTP on loopback. */
  tls?: { certificate: string; key: string };
  /** Merged over the generated config: the extension point for anything else. */
  extraConfig?: Record<string, unknown>;
  /** How long to wait for it to answer; default 15 s. */
  startTimeoutMs?: number;
}

export interface TestRegistry {
  /** "127.0.0.1:PORT", the registry part of an image reference. */
  host: string;
  port: number;
  /** "http://127.0.0.1:PORT" (https with tls). */
  url: string;
  storageDir: string;
  configPath: string;
  /** `host/name` for an image name. */
  ref(nameAndTag: string): string;
  stop(): Promise<void>;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      cur &&
      typeof cur === "object" &&
      !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "mcp-testkit-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let config: Record<string, unknown> = {
    version: 0.1,
    log: { level: "error", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, "data") }, delete: { enabled: true } },
    http: {
      addr: host,
      ...(options.tls
        ? { tls: { certificate: options.tls.certificate, key: options.tls.key } }
        : {}),
    },
  };
  if (options.tokenAuth) {
    const t = options.tokenAuth;
    config.auth = {
      token: {
        realm: t.realm,
        service: t.service,
        issuer: t.issuer,
        rootcertbundle: t.rootCertBundle,
      },
    };
  }
  if (options.extraConfig) config = merge(config, options.extraConfig);
  // YAML is a superset of JSON, so the registry reads this as its config.yml.
  const configPath = join(dir, "config.yml");
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", configPath], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => {});

  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://${host}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`testkit: docker-registry exited (${child.exitCode}): ${stderr.trim()}`);
    }
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      // 401 is a healthy registry with auth configured.
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `testkit: docker-registry did not answer on ${url} in time: ${stderr.trim()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    port,
    url,
    storageDir: join(dir, "data"),
    configPath,
    ref: (nameAndTag) => `${host}/${nameAndTag}`,
    stop,
  };
}
