/*
 * Files provisioning writes. The unit is the same text as deploy/systemd/mcp-agent.service
 * (a test keeps them equal); @MCP_UID@ is replaced with the mcp user's uid on the node.
 */

export const SYSTEMD_UNIT = `# mcp-agent: the MCP node daemon. Installed by \`mcp node provision\`.
# The sandbox settings carry the lessons of the first deployment (bootstrap.md):
#  - ProtectHome=true and ProtectSystem=strict both hide /run/user/<uid>, which rootless
#    Podman needs; use ProtectHome=false and ProtectSystem=full.
#  - systemd's default PATH lacks podman on NixOS (/run/current-system/sw/bin).
#  - XDG_RUNTIME_DIR is pinned to the mcp user's uid (linger keeps /run/user/<uid> alive).
[Unit]
Description=MCP agent (mcp-agent)
Documentation=https://metacircular.net/mcp
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=mcp
Group=mcp
WorkingDirectory=/srv/mcp
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/run/current-system/sw/bin:/run/wrappers/bin
Environment=XDG_RUNTIME_DIR=/run/user/@MCP_UID@
Environment=HOME=/srv/mcp
ExecStart=/srv/mcp/mcp-agent server --config /srv/mcp/mcp-agent.toml
Restart=on-failure
RestartSec=2s
TimeoutStopSec=30s
ProtectHome=false
ProtectSystem=full
# newuidmap/newgidmap are setuid: rootless Podman breaks under NoNewPrivileges=true.
NoNewPrivileges=false
LimitNOFILE=20000

[Install]
WantedBy=multi-user.target
`;

export function renderUnit(uid: number): string {
  return SYSTEMD_UNIT.replaceAll("@MCP_UID@", String(uid));
}

export interface AgentConfigInput {
  /** `[agent] node_name`: a DNS label. */
  nodeName: string;
  /** `[server] grpc_addr`, e.g. `100.95.252.120:9444`. */
  grpcAddr: string;
  /** `[agent] address`: where mc-proxy reaches this node's ports. Default: host of grpcAddr. */
  address?: string;
  mciasUrl: string;
  role?: "compute" | "edge";
  /** The agent's home. Default /srv/mcp. */
  dir?: string;
}

const LABEL_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Quotes a TOML basic string. */
function q(s: string): string {
  return JSON.stringify(s);
}

/** /srv/mcp/mcp-agent.toml in the shape of bootstrap step 3. */
export function renderAgentConfig(c: AgentConfigInput): string {
  if (!LABEL_RE.test(c.nodeName)) throw new Error(`node name ${q(c.nodeName)} is not a DNS label`);
  const dir = c.dir ?? "/srv/mcp";
  const host = c.address ?? c.grpcAddr.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  return `# Written by \`mcp node provision\`; edits are kept (a later provision writes .new beside it).
[server]
grpc_addr = ${q(c.grpcAddr)}
tls_cert  = ${q(`${dir}/certs/cert.pem`)}
tls_key   = ${q(`${dir}/certs/key.pem`)}

[database]
path = ${q(`${dir}/mcp.db`)}

[mcias]
server_url   = ${q(c.mciasUrl)}
service_name = "mcp-agent"

[agent]
node_name         = ${q(c.nodeName)}
container_runtime = "podman"
role              = ${q(c.role ?? "compute")}
address           = ${q(host)}

[monitor]
interval       = "60s"
alert_command  = []
cooldown       = "15m"
flap_threshold = 3
flap_window    = "10m"
retention      = "30d"

[log]
level = "info"
`;
}

/**
 * The mcp user's containers.conf. runc where crun cannot work (cgroups v1/hybrid);
 * keyring=false because runc's per-container session keyrings exhaust kernel.keys.maxkeys
 * (200) at about 196 containers; ulimits within the hard nofile limit nodes commonly have.
 */
export function renderContainersConf(opts: { runc: boolean }): string {
  return `# Written by \`mcp node provision\`.
[containers]
keyring = false
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
${opts.runc ? '\n[engine]\nruntime = "runc"\n' : ""}`;
}
