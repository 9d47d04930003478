/**
 * The local platform's state directory and the configuration files `mcp-sim up` writes into
 * it. Pure: paths and file texts from facts, no I/O, so the shapes are unit-tested.
 */
import { join, relative } from "node:path";

/** Where everything of one local platform lives, below DIR. */
export interface PlatformLayout {
  dir: string;
  simDir: string;
  registryDir: string;
  registryConfig: string;
  agentDir: string;
  /**
   * The agent's database directory, where it also writes the registry auth file that
   * Podman (another user) reads: DIR/agent, or a directory under /var/tmp when DIR is not
   * reachable by other users.
   */
  agentStateDir: string;
  agentConfig: string;
  agentCert: string;
  agentKey: string;
  certsDir: string;
  registryPassword: string;
  runDir: string;
  logsDir: string;
  servicesDir: string;
  mcpToml: string;
  token: string;
  /** Ports chosen on the first `up`, preferred again on later ones. */
  stateFile: string;
}

export function platformLayout(dir: string): PlatformLayout {
  return {
    dir,
    simDir: join(dir, "sim"),
    registryDir: join(dir, "registry"),
    registryConfig: join(dir, "registry", "config.yml"),
    agentDir: join(dir, "agent"),
    agentStateDir: join(dir, "agent"),
    agentConfig: join(dir, "agent", "mcp-agent.toml"),
    agentCert: join(dir, "agent", "agent.pem"),
    agentKey: join(dir, "agent", "agent.key"),
    certsDir: join(dir, "agent", "certs"),
    registryPassword: join(dir, "registry-password"),
    runDir: join(dir, "run"),
    logsDir: join(dir, "logs"),
    servicesDir: join(dir, "services"),
    mcpToml: join(dir, "mcp.toml"),
    token: join(dir, "token"),
    stateFile: join(dir, "platform.json"),
  };
}

/** The parts `up` starts, in start order (`down` stops them in reverse). */
export const PARTS = ["sim", "registry", "agent"] as const;
export type PartName = (typeof PARTS)[number];

/** DIR/platform.json: the ports of the last run, so a restart keeps every address. */
export interface PlatformState {
  version: 1;
  registryPort: number;
  agentPort: number;
  /** First host port of the agent's route range (100 ports). */
  portLow: number;
  nodeName: string;
  workspace: string;
}

/** The loopback endpoints of the sim that the platform's configuration refers to. */
export interface SimFacts {
  caFile: string;
  mcias: { url: string; caFile: string };
  metacrypt: { url: string; caFile: string; tokenFile: string };
  mcns: { url: string; caFile: string; tokenFile: string; dnsPort: number };
  mcproxy: { socket: string; listeners: Record<string, string> };
  registryAuth: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

export const ZONE = "svc.mcp.metacircular.net";
export const PORT_RANGE_SIZE = 100;

function q(s: string): string {
  return JSON.stringify(s);
}

/** docker-registry's config (JSON is YAML): loopback, token auth through the sim. */
export function registryConfig(
  layout: PlatformLayout,
  port: number,
  auth: SimFacts["registryAuth"],
): string {
  return `${JSON.stringify(
    {
      version: 0.1,
      log: { level: "warn", accesslog: { disabled: true } },
      storage: {
        filesystem: { rootdirectory: join(layout.registryDir, "data") },
        delete: { enabled: true },
      },
      http: { addr: `127.0.0.1:${port}` },
      auth: {
        token: {
          realm: auth.realm,
          service: auth.service,
          issuer: auth.issuer,
          rootcertbundle: auth.rootCertBundle,
        },
      },
    },
    null,
    2,
  )}\n`;
}

/** mcp-agent's config: the sim for MCIAS, Metacrypt, mc-proxy and MCNS; Podman as `mcp`. */
export function agentConfig(
  layout: PlatformLayout,
  state: PlatformState,
  sim: SimFacts,
  podmanUser: string,
): string {
  return `# Written by mcp-sim up; rewritten on every up.
[server]
grpc_addr = ${q(`127.0.0.1:${state.agentPort}`)}
tls_cert = ${q(layout.agentCert)}
tls_key = ${q(layout.agentKey)}

[database]
path = ${q(join(layout.agentStateDir, "mcp.db"))}

[mcias]
server_url = ${q(sim.mcias.url)}
ca_cert = ${q(sim.mcias.caFile)}
service_name = "mcp-agent"

[agent]
node_name = ${q(state.nodeName)}
address = "127.0.0.1"
role = "compute"

[ports]
range = ${q(`${state.portLow}-${state.portLow + PORT_RANGE_SIZE - 1}`)}

[podman]
run_as = ${q(podmanUser)}
stop_timeout = "2s"

[registry]
username = "admin"
password_file = ${q(layout.registryPassword)}
tls_verify = false

[metacrypt]
server_url = ${q(sim.metacrypt.url)}
ca_cert = ${q(sim.metacrypt.caFile)}
token_file = ${q(sim.metacrypt.tokenFile)}

[mcproxy]
socket = ${q(sim.mcproxy.socket)}

[mcns]
server_url = ${q(sim.mcns.url)}
ca_cert = ${q(sim.mcns.caFile)}
token_file = ${q(sim.mcns.tokenFile)}
zone = ${q(ZONE)}

[certs]
dir = ${q(layout.certsDir)}

[log]
level = "info"
`;
}

/** The operator's mcp.toml: one node, paths relative to DIR so the directory can move. */
export function mcpToml(layout: PlatformLayout, state: PlatformState, sim: SimFacts): string {
  const rel = (p: string) => relative(layout.dir, p) || ".";
  return `# Written by mcp-sim up: the local platform in ${layout.dir}.
# Use it with: export MCP_CONFIG=${layout.mcpToml}
services_dir = "services"

[[nodes]]
name = ${q(state.nodeName)}
address = ${q(`127.0.0.1:${state.agentPort}`)}
role = "compute"

[build]
workspace = ${q(state.workspace)}

[mcias]
server_url = ${q(sim.mcias.url)}
ca_cert = ${q(rel(sim.mcias.caFile))}
service_name = "mcp"

[tls]
ca_cert = ${q(rel(sim.caFile))}

[registry]
username = "admin"
password_file = ${q(rel(layout.registryPassword))}
ca_cert = ${q(rel(sim.caFile))}
tls_verify = false
`;
}

/** Picks the first host port of the agent's route range: below Linux's ephemeral ports. */
export function pickPortLow(random: number): number {
  return 20_000 + Math.floor(random * 100) * PORT_RANGE_SIZE;
}

/** Reads SimFacts out of DIR/sim/sim.json's modules, or says which part is missing. */
export function simFacts(info: {
  caFile: string;
  modules: Record<
    string,
    { url?: string; socket?: string; caFile?: string; extra?: Record<string, unknown> }
  >;
}): SimFacts {
  const m = info.modules;
  const need = (name: string) => {
    const ep = m[name];
    if (!ep) throw new Error(`sim.json has no ${name} endpoint: is the sim running all modules?`);
    return ep;
  };
  const s = (v: unknown) => (v === undefined ? "" : String(v));
  const mcias = need("mcias");
  const metacrypt = need("metacrypt");
  const mcns = need("mcns");
  const mcproxy = need("mcproxy");
  const auth = need("registry-auth");
  const listeners: Record<string, string> = {};
  for (const [k, v] of Object.entries(mcproxy.extra ?? {})) {
    if (k.startsWith(":")) listeners[k] = s(v);
  }
  return {
    caFile: info.caFile,
    mcias: { url: s(mcias.url), caFile: s(mcias.caFile) },
    metacrypt: {
      url: s(metacrypt.url),
      caFile: s(metacrypt.caFile),
      tokenFile: s(metacrypt.extra?.tokenFile),
    },
    mcns: {
      url: s(mcns.url),
      caFile: s(mcns.caFile),
      tokenFile: s(mcns.extra?.tokenFile),
      dnsPort: Number(mcns.extra?.dnsPort),
    },
    mcproxy: { socket: s(mcproxy.socket), listeners },
    registryAuth: {
      realm: s(auth.extra?.realm),
      service: s(auth.extra?.service),
      issuer: s(auth.extra?.issuer),
      rootCertBundle: s(auth.extra?.rootCertBundle),
    },
  };
}
