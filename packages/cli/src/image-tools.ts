// The real registry and builder behind `mcp build` and `mcp sync`: @mcp/mcr-client for "is
// this tag there", Podman (as the operator's user) for build and push. Loaded only by the
// commands that need it, so the other commands do not pay for undici and execa.
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMcrClient,
  isLoopbackHost,
  isMcrError,
  type McrClient,
  type McrCredentials,
} from "@mcp/mcr-client";
import {
  isPodmanError,
  lookupUser,
  PodmanClient,
  type PodmanClientOptions,
  type RegistryOptions,
} from "@mcp/podman-client";
import type { Config } from "./config.js";
import type { ImageTools } from "./context.js";
import { CliError, configError, ExitCode } from "./errors.js";
import type { BuildTarget, ImageCheck } from "./images.js";
import { readToken } from "./token.js";

interface Secret {
  username: string;
  password: string;
  /** The MCIAS token stands in for the password. */
  mcias: boolean;
}

async function readSecret(
  config: Config,
  env: Record<string, string | undefined>,
): Promise<Secret | undefined> {
  const r = config.registry;
  if (r.username !== undefined || r.passwordFile !== undefined) {
    if (!r.username || !r.passwordFile) {
      throw configError(
        `${config.path}: [registry] needs both username and password_file`,
        "set both, or use mcias_token = true to present your MCIAS token",
      );
    }
    let password: string;
    try {
      password = (await readFile(r.passwordFile, "utf8")).replace(/\r?\n$/, "");
    } catch (e) {
      throw configError(
        `cannot read the registry password file ${r.passwordFile} ([registry] password_file in ${config.path}): ${(e as { code?: string }).code ?? e}`,
        undefined,
        e,
      );
    }
    return { username: r.username, password, mcias: false };
  }
  if (r.mciasToken) {
    const token = await readToken({ env, path: config.tokenPath });
    return { username: "mcias-token", password: token, mcias: true };
  }
  return undefined;
}

/** `https://host`, or `http://host` for a loopback registry with TLS verification off. */
export function registryUrl(config: Config, host: string): string {
  const given = config.registry.url;
  if (given) {
    try {
      if (new URL(given).host === host) return given;
    } catch {
      throw configError(`${config.path}: [registry] url "${given}" is not a URL`);
    }
  }
  const bare = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return config.registry.tlsVerify === false && isLoopbackHost(bare)
    ? `http://${host}`
    : `https://${host}`;
}

/** An error of the registry (mcr-client or Podman) as the operator should see it. */
export function registryError(e: unknown, what: string, host: string): CliError {
  const detail = isPodmanError(e) ? (e.detail ?? e.message) : (e as Error).message;
  const auth =
    isMcrError(e, "unauthorized") ||
    (isPodmanError(e) &&
      /unauthorized|authentication required|denied|invalid username\/password|insufficient_scope/i.test(
        detail,
      ));
  if (auth) {
    return new CliError(`registry ${host} refused the credentials (${what}): ${detail}`, {
      exitCode: ExitCode.Auth,
      hint: "check [registry] username and password_file (or run `mcp login` when mcias_token = true); pushing needs the admin role",
      cause: e,
    });
  }
  const down =
    isMcrError(e, "unreachable") ||
    isMcrError(e, "timeout") ||
    (isPodmanError(e) && (e.code === "registry" || e.code === "timeout"));
  if (down) {
    return new CliError(`registry ${host} did not answer (${what}): ${detail}`, {
      exitCode: ExitCode.Unavailable,
      hint: "is the registry running, and are [registry] url, tls_verify and ca_cert in mcp.toml right?",
      cause: e,
    });
  }
  return new CliError(`registry ${host}: ${what} failed: ${detail}`, {
    exitCode: ExitCode.Failed,
    hint: "MCP_DEBUG=1 shows the cause",
    cause: e,
  });
}

/** Registry access and Podman for one command run; `close()` removes the temporary auth file. */
export async function createImageTools(
  config: Config,
  env: Record<string, string | undefined>,
): Promise<ImageTools> {
  const secret = await readSecret(config, env);
  const clients = new Map<string, McrClient>();
  let ca: string | undefined;
  if (config.registry.caCert) {
    try {
      ca = await readFile(config.registry.caCert, "utf8");
    } catch (e) {
      throw configError(
        `cannot read the registry CA certificate ${config.registry.caCert} ([registry] ca_cert in ${config.path}): ${(e as { code?: string }).code ?? e}`,
        undefined,
        e,
      );
    }
  }
  const mcr = (host: string): McrClient => {
    let c = clients.get(host);
    if (!c) {
      const credentials: McrCredentials | undefined = secret
        ? secret.mcias
          ? { mciasToken: secret.password }
          : { username: secret.username, password: secret.password }
        : undefined;
      c = createMcrClient({
        url: registryUrl(config, host),
        ...(credentials ? { credentials } : {}),
        ...(ca ? { ca } : {}),
      });
      clients.set(host, c);
    }
    return c;
  };

  const podmanOpts: PodmanClientOptions = {
    ...(config.build.podman ? { podmanPath: config.build.podman } : {}),
    ...(config.build.runAs ? { runAs: config.build.runAs } : { env }),
  };
  const podman = new PodmanClient(podmanOpts);

  // Podman reads credentials from an auth file and CAs from a directory: both are written
  // private to the user Podman runs as, and removed by close().
  const runAs = config.build.runAs && process.getuid?.() === 0 ? config.build.runAs : undefined;
  const give = async (path: string) => {
    if (!runAs) return;
    const u = await lookupUser(runAs);
    await chown(path, u.uid, u.gid);
  };
  let scratch: Promise<{ dir: string; registry: RegistryOptions }> | undefined;
  const hosts = new Set<string>();
  const registryOptions = async (host: string): Promise<RegistryOptions> => {
    scratch ??= (async () => {
      const dir = await mkdtemp(join(tmpdir(), "mcp-build-"));
      await chmod(dir, 0o700);
      await give(dir);
      const opts: RegistryOptions = {};
      if (config.registry.tlsVerify !== undefined) opts.tlsVerify = config.registry.tlsVerify;
      if (config.registry.caCert) {
        const certs = join(dir, "certs");
        await mkdir(certs, { mode: 0o700 });
        await copyFile(config.registry.caCert, join(certs, "ca.crt"));
        await give(certs);
        await give(join(certs, "ca.crt"));
        opts.certDir = certs;
      }
      return { dir, registry: opts };
    })();
    const { dir, registry } = await scratch;
    if (!secret) return registry;
    const file = join(dir, "auth.json");
    if (!hosts.has(host)) {
      hosts.add(host);
      const auth = Buffer.from(`${secret.username}:${secret.password}`).toString("base64");
      const auths = Object.fromEntries([...hosts].map((h) => [h, { auth }]));
      await writeFile(file, JSON.stringify({ auths }), { mode: 0o600 });
      await give(file);
    }
    return { ...registry, authFile: file };
  };

  return {
    async check(refs) {
      const byHost = new Map<string, string[]>();
      for (const ref of refs) {
        const host = ref.slice(0, ref.indexOf("/"));
        byHost.set(host, [...(byHost.get(host) ?? []), ref]);
      }
      const results = new Map<string, ImageCheck>();
      await Promise.all(
        [...byHost].map(async ([host, list]) => {
          const checked = await mcr(host).checkTags(list, { concurrency: 8 });
          for (const c of checked) {
            results.set(c.ref, {
              ref: c.ref,
              exists: c.exists,
              ...(c.error ? { error: registryError(c.error, `checking ${c.ref}`, host) } : {}),
            });
          }
        }),
      );
      return refs.map((r) => results.get(r) ?? { ref: r, exists: false });
    },
    async build(t: BuildTarget, onLine, signal) {
      await podman.buildImage({
        context: t.context,
        file: t.dockerfile,
        tags: [t.image],
        buildArgs: { VERSION: t.tag },
        onOutput: onLine,
        ...(signal ? { signal } : {}),
      });
    },
    async push(t: BuildTarget, signal) {
      const registry = await registryOptions(t.registry);
      try {
        await podman.pushImage(t.image, { ...registry, ...(signal ? { signal } : {}) });
      } catch (e) {
        throw registryError(e, `pushing ${t.image}`, t.registry);
      }
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.close()));
      if (scratch) {
        const { dir } = await scratch.catch(() => ({ dir: undefined }));
        if (dir) await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
