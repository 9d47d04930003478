import { upPlatform } from "../platform/up.ts";

export interface UpCommandOptions {
  dir: string;
  workspace: string | undefined;
  agentBin: string | undefined;
  json: boolean;
}

/** Starts (or finds) every part, then prints where each one is and how to use it. */
export async function upCommand(opts: UpCommandOptions): Promise<void> {
  const r = await upPlatform({
    dir: opts.dir,
    ...(opts.workspace ? { workspace: opts.workspace } : {}),
    ...(opts.agentBin ? { agentBin: opts.agentBin } : {}),
    log: opts.json ? () => {} : (line) => process.stderr.write(`${line}\n`),
  });
  const L = r.layout;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        dir: L.dir,
        mcpToml: L.mcpToml,
        token: L.token,
        servicesDir: L.servicesDir,
        logsDir: L.logsDir,
        agentStateDir: L.agentStateDir,
        registry: r.registryHost,
        node: r.state.nodeName,
        agent: `127.0.0.1:${r.state.agentPort}`,
        portRange: `${r.state.portLow}-${r.state.portLow + 99}`,
        workspace: r.state.workspace,
        sim: r.sim,
        parts: r.parts,
      })}\n`,
    );
    return;
  }
  const s = r.sim;
  const lines = [
    ["mcias", s.mcias.url],
    ["metacrypt", s.metacrypt.url],
    ["mcns", `${s.mcns.url}  DNS 127.0.0.1:${s.mcns.dnsPort} (zone svc.mcp.metacircular.net)`],
    [
      "mcproxy",
      `${Object.entries(s.mcproxy.listeners)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ")}  admin ${s.mcproxy.socket}`,
    ],
    ["reg-auth", s.registryAuth.realm],
    ["registry", `http://${r.registryHost} (token auth through reg-auth)`],
    [
      "agent",
      `https://127.0.0.1:${r.state.agentPort}  node ${r.state.nodeName}, Podman rootless as ${r.podmanUser}, ports ${r.state.portLow}-${r.state.portLow + 99}`,
    ],
    ["config", L.mcpToml],
    ["token", L.token],
    ["services", L.servicesDir],
    ["workspace", r.state.workspace],
    ["logs", L.logsDir],
    ...(L.agentStateDir !== L.agentDir ? [["agent-db", L.agentStateDir]] : []),
  ];
  for (const [k, v] of lines) process.stdout.write(`${(k ?? "").padEnd(10)} ${v}\n`);
  process.stdout.write(`\nready: export MCP_CONFIG=${L.mcpToml}; pnpm mcp ps\n`);
}
