import { isAbsolute, join as joinPath, resolve as resolvePath } from "node:path";
import { parse as parseToml } from "smol-toml";
import { configError } from "./errors.js";

/** One agent of the fleet, from a `[[nodes]]` table. */
export interface NodeConfig {
  name: string;
  /** `host:port` of the agent's gRPC listener. */
  address: string;
  ssh?: string;
  arch?: string;
  role?: string;
}

/** mcp.toml after parsing, env overrides and path resolution. */
export interface Config {
  /** Absolute path of the file this came from (it need not exist). */
  path: string;
  nodes: NodeConfig[];
  /** Absolute path of the directory of service definitions. */
  servicesDir: string;
  /** Where the token lives: `token` beside mcp.toml. */
  tokenPath: string;
  build: { workspace?: string; podman?: string; runAs?: string };
  /** The registry images are checked in and pushed to (MCR); see registry.ts. */
  registry: RegistryConfig;
  mcias: { serverUrl?: string; caCert?: string; serviceName?: string };
  tls: { caCert?: string };
  /** `[ssh]`: how `mcp agent upgrade` and `mcp node provision` reach nodes (fleet-config.ts). */
  ssh?: SshConfig;
  /** `[fleet]`: where the agent lives on nodes and how it is restarted (fleet-config.ts). */
  fleet?: FleetSettings;
}

/** `[ssh]`: applies to every node; a node's `ssh` may still be an alias of ~/.ssh/config. */
export interface SshConfig {
  /** An ssh_config file (`ssh -F`) instead of ~/.ssh/config. */
  configFile?: string;
  /** A known_hosts file to trust instead of the operator's and the global one. */
  knownHosts?: string;
  /** A private key to offer (and only it); default: the operator's agent and keys. */
  identity?: string;
  user?: string;
  /** The SSH user is not root: privileged steps run through `sudo -n`. */
  sudo?: boolean;
}

/** `[fleet]`: the agent's side of `mcp agent upgrade` and `mcp node provision`. */
export interface FleetSettings {
  /** The agent's home on every node. Default /srv/mcp. */
  agentDir?: string;
  /** `systemd` (default) or `pidfile` (hosts where systemd is not PID 1). */
  service?: string;
  /** The node binary on the nodes, for the `pidfile` service (MCP_AGENT_NODE). */
  agentNode?: string;
  /** Where the release artifacts are. Default dist/artifacts in the working directory. */
  artifacts?: string;
}

/** `[registry]`: where images are checked and pushed, and with which credentials. */
export interface RegistryConfig {
  /** Base URL; default `https://<host of the image reference>`. */
  url?: string;
  username?: string;
  passwordFile?: string;
  /** Present the MCIAS token (from `mcp login`) as the registry password. */
  mciasToken?: boolean;
  caCert?: string;
  tlsVerify?: boolean;
}

type Kind = "string" | "path" | "boolean";
interface Section {
  [key: string]: Kind;
}

// The closed set of keys. A typo must fail loudly: a misspelt ca_cert silently falling back to
// the system roots is exactly the kind of surprise the first deployment taught us to avoid.
const sections: Record<string, Section> = {
  build: { workspace: "path", podman: "string", run_as: "string" },
  registry: {
    url: "string",
    username: "string",
    password_file: "path",
    mcias_token: "boolean",
    ca_cert: "path",
    tls_verify: "boolean",
  },
  mcias: { server_url: "string", ca_cert: "path", service_name: "string" },
  tls: { ca_cert: "path" },
  ssh: {
    config: "path",
    known_hosts: "path",
    identity: "path",
    user: "string",
    sudo: "boolean",
  },
  fleet: { agent_dir: "string", service: "string", agent_node: "string", artifacts: "path" },
};
const topLevel: Section = { services_dir: "path" };
const nodeKeys: Section = {
  name: "string",
  address: "string",
  ssh: "string",
  arch: "string",
  role: "string",
};

const labelRe = /^[a-z][a-z0-9-]{0,62}$/;

export interface ParseConfigOptions {
  /** Absolute path the text came from; relative paths in it resolve against its directory. */
  path: string;
  /** Environment, for `MCP_<SECTION>_<KEY>` overrides. */
  env: Record<string, string | undefined>;
  /** Home directory, for `~/` in paths. */
  home: string;
  /** Working directory, for relative paths given in the environment. */
  cwd: string;
}

function expandPath(value: string, base: string, home: string): string {
  if (value === "~") return home;
  if (value.startsWith("~/")) return joinPath(home, value.slice(2));
  return isAbsolute(value) ? resolvePath(value) : resolvePath(base, value);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "a table";
  return `a ${typeof v}`;
}

/**
 * Parses mcp.toml. Pure: the caller reads the file. Throws a CliError (exit 2) naming the key
 * and the file for anything it does not understand.
 */
export function parseConfig(text: string, opts: ParseConfigOptions): Config {
  const file = opts.path;
  const dir = resolvePath(file, "..");
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    const m = e as { line?: number; column?: number; message?: string };
    const first = (m.message ?? String(e)).split("\n")[0];
    const at = m.line ? `:${m.line}:${m.column ?? 1}` : "";
    throw configError(`${file}${at}: not valid TOML: ${first}`, undefined, e);
  }

  const config: Config = {
    path: file,
    nodes: [],
    servicesDir: joinPath(dir, "services"),
    tokenPath: joinPath(dir, "token"),
    build: {},
    registry: {},
    mcias: {},
    tls: {},
    ssh: {},
    fleet: {},
  };

  const setValue = (
    section: string | undefined,
    key: string,
    kind: Kind,
    value: string,
    base: string,
  ) => {
    const v = kind === "path" ? expandPath(value, base, opts.home) : value;
    const bool = value === "true";
    if (section === undefined) {
      if (key === "services_dir") config.servicesDir = v;
      return;
    }
    if (section === "build" && key === "workspace") config.build.workspace = v;
    else if (section === "build" && key === "podman") config.build.podman = v;
    else if (section === "build" && key === "run_as") config.build.runAs = v;
    else if (section === "registry" && key === "url") config.registry.url = v;
    else if (section === "registry" && key === "username") config.registry.username = v;
    else if (section === "registry" && key === "password_file") config.registry.passwordFile = v;
    else if (section === "registry" && key === "mcias_token") config.registry.mciasToken = bool;
    else if (section === "registry" && key === "ca_cert") config.registry.caCert = v;
    else if (section === "registry" && key === "tls_verify") config.registry.tlsVerify = bool;
    else if (section === "mcias" && key === "server_url") config.mcias.serverUrl = v;
    else if (section === "mcias" && key === "ca_cert") config.mcias.caCert = v;
    else if (section === "mcias" && key === "service_name") config.mcias.serviceName = v;
    else if (section === "tls" && key === "ca_cert") config.tls.caCert = v;
    else if (section === "ssh") setSsh(config.ssh ?? {}, key, v, bool);
    else if (section === "fleet") setFleet(config.fleet ?? {}, key, v);
  };

  const expectString = (where: string, v: unknown): string => {
    if (typeof v !== "string") {
      throw configError(`${file}: ${where} must be a string, not ${typeName(v)}`);
    }
    return v;
  };

  const expectBoolean = (where: string, v: unknown): boolean => {
    if (typeof v !== "boolean") {
      throw configError(`${file}: ${where} must be true or false, not ${typeName(v)}`);
    }
    return v;
  };

  for (const [key, value] of Object.entries(raw)) {
    if (key === "nodes") {
      if (!Array.isArray(value)) {
        throw configError(
          `${file}: nodes must be an array of tables ([[nodes]]), not ${typeName(value)}`,
        );
      }
      config.nodes = value.map((n, i) => parseNode(n, i, file));
      continue;
    }
    const topKind = topLevel[key];
    if (topKind) {
      setValue(undefined, key, topKind, expectString(key, value), dir);
      continue;
    }
    const section = sections[key];
    if (!section) {
      throw configError(`${file}: unknown key "${key}"`, knownKeysHint());
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw configError(`${file}: ${key} must be a table ([${key}]), not ${typeName(value)}`);
    }
    for (const [k, v] of Object.entries(value)) {
      const kind = section[k];
      if (!kind) throw configError(`${file}: unknown key "${key}.${k}"`, knownKeysHint());
      const text =
        kind === "boolean"
          ? String(expectBoolean(`${key}.${k}`, v))
          : expectString(`${key}.${k}`, v);
      setValue(key, k, kind, text, dir);
    }
  }

  const seen = new Set<string>();
  for (const n of config.nodes) {
    if (seen.has(n.name)) throw configError(`${file}: node "${n.name}" is listed twice`);
    seen.add(n.name);
  }

  applyEnv(opts, setValue);
  return config;
}

function setSsh(ssh: SshConfig, key: string, v: string, bool: boolean): void {
  if (key === "config") ssh.configFile = v;
  else if (key === "known_hosts") ssh.knownHosts = v;
  else if (key === "identity") ssh.identity = v;
  else if (key === "user") ssh.user = v;
  else if (key === "sudo") ssh.sudo = bool;
}

function setFleet(fleet: FleetSettings, key: string, v: string): void {
  if (key === "agent_dir") fleet.agentDir = v;
  else if (key === "service") fleet.service = v;
  else if (key === "agent_node") fleet.agentNode = v;
  else if (key === "artifacts") fleet.artifacts = v;
}

function parseNode(n: unknown, i: number, file: string): NodeConfig {
  const where = `nodes[${i}]`;
  if (typeof n !== "object" || n === null || Array.isArray(n)) {
    throw configError(`${file}: ${where} must be a table`);
  }
  const node: Record<string, string> = {};
  for (const [k, v] of Object.entries(n)) {
    if (!nodeKeys[k]) throw configError(`${file}: unknown key "${where}.${k}"`, knownKeysHint());
    if (typeof v !== "string") {
      throw configError(`${file}: ${where}.${k} must be a string, not ${typeName(v)}`);
    }
    node[k] = v;
  }
  const name = node.name;
  if (!name) throw configError(`${file}: ${where} has no name`);
  if (!labelRe.test(name)) {
    throw configError(`${file}: ${where}.name "${name}" is not a DNS label (a-z, 0-9, -)`);
  }
  const address = node.address;
  if (!address) throw configError(`${file}: node "${name}" has no address`);
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw configError(
      `${file}: node "${name}": address "${address}" is not host:port`,
      'write it like "100.95.252.120:9444" or "[::1]:9444"',
    );
  }
  const out: NodeConfig = { name, address };
  if (node.ssh !== undefined) out.ssh = node.ssh;
  if (node.arch !== undefined) out.arch = node.arch;
  if (node.role !== undefined) out.role = node.role;
  return out;
}

function knownKeysHint(): string {
  const keys = [
    ...Object.keys(topLevel),
    ...Object.entries(sections).flatMap(([s, keys]) => Object.keys(keys).map((k) => `${s}.${k}`)),
    ...Object.keys(nodeKeys).map((k) => `nodes[].${k}`),
  ];
  return `known keys: ${keys.join(", ")}`;
}

/** Env vars that belong to mcp but are not config keys. */
const reservedEnv = new Set(["MCP_CONFIG", "MCP_TOKEN"]);

function applyEnv(
  opts: ParseConfigOptions,
  set: (section: string | undefined, key: string, kind: Kind, value: string, base: string) => void,
): void {
  for (const [name, value] of Object.entries(opts.env)) {
    if (!name.startsWith("MCP_") || value === undefined || reservedEnv.has(name)) continue;
    const rest = name.slice(4).toLowerCase();
    for (const [key, kind] of Object.entries(topLevel)) {
      if (rest === key) {
        set(undefined, key, kind, value, opts.cwd);
      }
    }
    for (const [section, keys] of Object.entries(sections)) {
      if (!rest.startsWith(`${section}_`)) continue;
      const key = rest.slice(section.length + 1);
      const kind = keys[key];
      if (!kind) {
        throw configError(
          `environment: ${name} does not name a key of mcp.toml (there is no ${section}.${key})`,
          `unset ${name}, or use one of: ${Object.keys(keys)
            .map((k) => `MCP_${section.toUpperCase()}_${k.toUpperCase()}`)
            .join(", ")}`,
        );
      }
      if (kind === "boolean" && value !== "true" && value !== "false") {
        throw configError(`environment: ${name} must be true or false, not "${value}"`);
      }
      set(section, key, kind, value, opts.cwd);
    }
    // Any other MCP_* variable (MCP_AGENT_… for a daemon on the same machine) is not ours.
  }
}

export interface ConfigLocation {
  /** Absolute path of mcp.toml. */
  path: string;
  /** Whether it came from MCP_CONFIG / --config rather than the default. */
  explicit: boolean;
}

/** Where mcp.toml is: `--config`, else `MCP_CONFIG`, else `~/.config/mcp/mcp.toml`. */
export function locateConfig(opts: {
  flag?: string | undefined;
  env: Record<string, string | undefined>;
  home: string;
  cwd: string;
}): ConfigLocation {
  const given = opts.flag ?? opts.env.MCP_CONFIG;
  if (given) return { path: expandPath(given, opts.cwd, opts.home), explicit: true };
  return { path: joinPath(opts.home, ".config", "mcp", "mcp.toml"), explicit: false };
}
