// Credentials for pulls from MCR. Podman reads registry credentials from an auth file
// (containers-auth.json); the agent writes one in its state directory, private to the user
// Podman runs as, with an entry for each registry it has pulled from. The secret is read
// again on every pull so a rotated password or service token takes effect without a restart.
import { chown, mkdir, mkdtemp, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { lookupUser, type RegistryOptions } from "@mcp/podman-client";
import { type AgentConfig, ConfigError } from "./config.ts";

export interface RegistryAuthConfig {
  username: string;
  /** File holding the password (trailing newline ignored). */
  passwordFile: string;
  /** File holding the agent's MCIAS service token, presented as the password instead. */
  tokenFile: string;
  /** false for plain-HTTP or self-signed registries (tests on loopback). */
  tlsVerify: boolean;
  /** Directory of CA certificates (`*.crt`) for the registry. */
  certDir: string;
}

/** Username Podman presents with an MCIAS token (MCR's token service ignores it). */
export const MCIAS_TOKEN_USERNAME = "mcias-token";

/** The file name of the auth file in the state directory. */
export const AUTH_FILE_NAME = "registry-auth.json";

/** `host[:port]` of a fully qualified image reference, or undefined for a short name. */
export function registryHost(image: string): string | undefined {
  const slash = image.indexOf("/");
  if (slash < 0) return undefined;
  const first = image.slice(0, slash);
  return /[.:]/.test(first) || first === "localhost" ? first : undefined;
}

/** The auth file's text: `{"auths": {host: {auth: base64(user:password)}}}`. Pure. */
export function authFileText(hosts: Iterable<string>, username: string, secret: string): string {
  const auth = Buffer.from(`${username}:${secret}`).toString("base64");
  const auths: Record<string, { auth: string }> = {};
  for (const h of [...hosts].sort()) auths[h] = { auth };
  return `${JSON.stringify({ auths }, null, 2)}\n`;
}

/** True when the config asks for credentials (otherwise pulls go without an auth file). */
export function hasRegistryCredentials(c: Pick<RegistryAuthConfig, "passwordFile" | "tokenFile">) {
  return c.passwordFile !== "" || c.tokenFile !== "";
}

/**
 * Returns the Podman registry options for pulling `image`: `tlsVerify`/`certDir` as
 * configured, and when credentials are configured an auth file (mode 0600, owned by `owner`
 * when Podman runs as another user) that covers the image's registry.
 */
export function registryPullOptions(
  config: RegistryAuthConfig,
  stateDir: string,
  owner?: { uid: number; gid: number },
): (image: string) => Promise<RegistryOptions> {
  const base: RegistryOptions = {
    ...(config.tlsVerify ? {} : { tlsVerify: false }),
    ...(config.certDir ? { certDir: config.certDir } : {}),
  };
  if (!hasRegistryCredentials(config)) return async () => base;
  const file = join(stateDir, AUTH_FILE_NAME);
  const hosts = new Set<string>();
  let written = "";
  return async (image) => {
    const host = registryHost(image);
    if (host) hosts.add(host);
    const [username, secret] = config.passwordFile
      ? [config.username, await readSecret(config.passwordFile)]
      : [config.username || MCIAS_TOKEN_USERNAME, await readSecret(config.tokenFile)];
    const text = authFileText(hosts, username, secret);
    if (text !== written) {
      await mkdir(stateDir, { recursive: true });
      // Written beside and renamed, so Podman never reads half a file.
      const tmp = `${file}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      if (owner) await chown(tmp, owner.uid, owner.gid);
      await rename(tmp, file);
      written = text;
    }
    return { ...base, authFile: file };
  };
}

async function readSecret(path: string): Promise<string> {
  return (await readFile(path, "utf8")).trim();
}

/**
 * The pull options of the agent's config: `[registry]` credentials through an auth file in
 * the state directory (beside the database), else `[podman] auth_file` as given.
 */
export async function pullOptionsFromConfig(
  config: Pick<AgentConfig, "registry" | "podman" | "database">,
): Promise<RegistryOptions | ((image: string) => Promise<RegistryOptions>)> {
  const r = config.registry;
  const auth: RegistryAuthConfig = {
    username: r.username,
    passwordFile: r.password_file,
    tokenFile: r.token_file,
    tlsVerify: r.tls_verify,
    certDir: r.cert_dir,
  };
  if (r.password_file && r.token_file) {
    throw new ConfigError("[registry]: set password_file or token_file, not both");
  }
  if (r.password_file && !r.username) {
    throw new ConfigError("[registry]: password_file needs a username");
  }
  if (!hasRegistryCredentials(auth)) {
    return {
      ...(config.podman.auth_file ? { authFile: config.podman.auth_file } : {}),
      ...(r.tls_verify ? {} : { tlsVerify: false }),
      ...(r.cert_dir ? { certDir: r.cert_dir } : {}),
    };
  }
  const stateDir =
    config.database.path === ":memory:"
      ? await mkdtemp(join(tmpdir(), "mcp-agent-state-"))
      : dirname(config.database.path);
  const owner =
    config.podman.run_as && process.getuid?.() === 0
      ? await lookupUser(config.podman.run_as)
      : undefined;
  return registryPullOptions(auth, stateDir, owner);
}
