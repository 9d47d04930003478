// One real mcp-agent process for a benchmark: its TLS certificate from the sim CA, an admin
// token from the sim MCIAS, its config, the process, and a client. Every agent benchmark
// starts its agent the same way; what differs is passed in (extra config sections, Node
// arguments), so the figures of different benchmarks measure the same agent.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import http2 from "node:http2";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AgentService } from "@mcp/proto/agent/v1";
import { ensureLocalCa, issueServerCert, MciasStore, type startSim } from "@mcp/sim";
import { freePort } from "@mcp/testkit";

export const AGENT_BIN = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../packages/agent/dist/bin.js",
);

type Sim = Awaited<ReturnType<typeof startSim>>;

export interface AgentCredentials {
  /** The sim's local CA (the agent's certificate is signed by it; clients trust it). */
  ca: Awaited<ReturnType<typeof ensureLocalCa>>;
  /** An admin token from the sim MCIAS, valid for an hour. */
  token: string;
  /** A free loopback port for the agent. */
  port: number;
}

/** Writes `<dir>/agent.pem` and `.key` (0600) and gets an admin token. */
export async function agentCredentials(dir: string, simDir: string): Promise<AgentCredentials> {
  const ca = await ensureLocalCa(simDir);
  const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  await writeFile(path.join(dir, "agent.pem"), leaf.cert, { mode: 0o600 });
  await writeFile(path.join(dir, "agent.key"), leaf.key, { mode: 0o600 });
  const token = (await new MciasStore(path.join(simDir, "mcias")).issueToken("admin", 3_600_000))
    .token;
  return { ca, token, port: await freePort() };
}

/**
 * The agent's config: node "bench" on 127.0.0.1:`port`, the sim MCIAS, Podman as `mcp`
 * with a 1 s stop timeout, warnings only; `ports` when the benchmark publishes ports,
 * `extra` sections appended as they are.
 */
export function agentConfig(o: {
  dir: string;
  port: number;
  sim: Sim;
  ports?: { low: number; count: number };
  dbPath?: string;
  extra?: string;
}): string {
  const mcias = o.sim.endpoints.mcias;
  return `[server]
grpc_addr = "127.0.0.1:${o.port}"
tls_cert = "${o.dir}/agent.pem"
tls_key = "${o.dir}/agent.key"
[database]
path = "${o.dbPath ?? `${o.dir}/mcp.db`}"
[mcias]
server_url = "${mcias?.url}"
ca_cert = "${mcias?.caFile}"
[agent]
node_name = "bench"
${o.ports ? `[ports]\nrange = "${o.ports.low}-${o.ports.low + o.ports.count - 1}"\n` : ""}[podman]
run_as = "mcp"
stop_timeout = "1s"
[log]
level = "warn"
${o.extra ?? ""}`;
}

/** `node [nodeArgs] dist/bin.js server --config FILE`, stderr passed through. */
export function spawnAgent(
  configFile: string,
  o: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; bin?: string } = {},
): ChildProcess {
  return spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), o.bin ?? AGENT_BIN, "server", "--config", configFile],
    { stdio: ["ignore", "ignore", "inherit"], env: o.env ?? process.env },
  );
}

/** Waits until the agent's /healthz (no token) answers 200; throws after `timeoutMs`. */
export async function waitHealthy(port: number, caCert: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = http2.connect(`https://127.0.0.1:${port}`, { ca: caCert });
      s.on("error", () => resolve(false));
      const r = s.request({ ":path": "/healthz" });
      r.on("response", (h) => {
        resolve(h[":status"] === 200);
        s.close();
      });
      r.on("error", () => resolve(false));
      r.end();
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error("agent did not come up");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An AgentService client over gRPC with the token; optionally hanging up when idle. */
export function agentClient(
  port: number,
  caCert: string,
  token: string,
  idleConnectionTimeoutMs?: number,
) {
  return createClient(
    AgentService,
    createGrpcTransport({
      ...(idleConnectionTimeoutMs ? { idleConnectionTimeoutMs } : {}),
      baseUrl: `https://127.0.0.1:${port}`,
      nodeOptions: { ca: caCert },
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    }),
  );
}
