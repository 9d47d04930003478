import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createMcnsClient, type McnsClient } from "@mcp/mcns-client";
import { createMcProxyClient, type McProxyClient } from "@mcp/mcproxy-client";
import { AgentService } from "@mcp/proto/agent/v1";
import {
  ensureLocalCa,
  issueServerCert,
  MciasStore,
  type SimInstance,
  silentLogger,
  startSim,
} from "@mcp/sim";
import { execa, type ResultPromise } from "execa";

export const BIN = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));

export interface TestEnv {
  dir: string;
  sim: SimInstance;
  ca: string;
  certFile: string;
  keyFile: string;
  tokens: { admin: string; operator: string; expired: string };
  close(): Promise<void>;
}

/**
 * A temp dir, the sim (MCIAS only, or `platform: true` for every sim service), a server
 * certificate for the agent from the sim's CA, tokens. `close()` stops the sim and removes
 * the dir; on failure here both are cleaned up before the error is rethrown.
 */
export async function setupEnv(o: { prefix?: string; platform?: boolean } = {}): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), o.prefix ?? "mcp-agent-it-"));
  const simDir = join(dir, "sim");
  let sim: SimInstance;
  try {
    sim = await startSim({
      dir: simDir,
      ...(o.platform ? {} : { only: ["mcias"] }),
      log: silentLogger,
    });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  try {
    const ca = await ensureLocalCa(simDir);
    const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    const certFile = join(dir, "agent.pem");
    const keyFile = join(dir, "agent.key");
    await writeFile(certFile, leaf.cert, { mode: 0o600 });
    await writeFile(keyFile, leaf.key, { mode: 0o600 });
    const store = new MciasStore(join(simDir, "mcias"));
    const admin = (await store.issueToken("admin", 3_600_000)).token;
    const operator = (await store.issueToken("operator", 3_600_000)).token;
    const expired = (await store.issueToken("admin", 1_000, Date.now() - 60_000)).token;
    return {
      dir,
      sim,
      ca: ca.cert,
      certFile,
      keyFile,
      tokens: { admin, operator, expired },
      async close() {
        await sim.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * The config sections wiring an agent into the sim's Metacrypt, mc-proxy and MCNS; each
 * endpoint can be replaced (to point the agent at something broken).
 */
export function platformConfig(
  sim: SimInstance,
  o: { zone: string; certsDir: string; mcnsUrl?: string; metacryptUrl?: string; socket?: string },
): string {
  const mc = sim.endpoints.metacrypt;
  const ns = sim.endpoints.mcns;
  return `
[metacrypt]
server_url = "${o.metacryptUrl ?? mc?.url}"
ca_cert = "${mc?.caFile}"
token_file = "${mc?.extra?.tokenFile}"

[mcproxy]
socket = "${o.socket ?? sim.endpoints.mcproxy?.socket}"

[mcns]
server_url = "${o.mcnsUrl ?? ns?.url}"
ca_cert = "${ns?.caFile}"
token_file = "${ns?.extra?.tokenFile}"
zone = "${o.zone}"

[certs]
dir = "${o.certsDir}"
`;
}

export function agentConfig(
  env: TestEnv,
  o: { port: number; portLow: number; extra?: string; certFile?: string },
): string {
  const mcias = env.sim.endpoints.mcias;
  return `[server]
grpc_addr = "127.0.0.1:${o.port}"
tls_cert = "${o.certFile ?? env.certFile}"
tls_key = "${env.keyFile}"

[database]
path = "${env.dir}/mcp.db"

[mcias]
server_url = "${mcias?.url}"
ca_cert = "${mcias?.caFile}"
service_name = "mcp-agent"

[agent]
node_name = "rift"
address = "127.0.0.1"

[ports]
range = "${o.portLow}-${o.portLow + 99}"

[podman]
run_as = "mcp"
stop_timeout = "1s"

[log]
level = "warn"
${o.extra ?? ""}`;
}

export interface AgentProcess {
  proc: ResultPromise;
  port: number;
  stderr(): string;
  stop(): Promise<void>;
}

/** Spawns `node dist/bin.js server --config FILE` and waits until /healthz answers. */
export async function spawnAgent(
  configFile: string,
  port: number,
  ca: string,
): Promise<AgentProcess> {
  const proc = execa(process.execPath, [BIN, "server", "--config", configFile], {
    reject: false,
    all: true,
    buffer: true,
  });
  let output = "";
  let exited = false;
  void proc.then(() => {
    exited = true;
  });
  proc.all?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const stop = async () => {
    if (!exited) proc.kill("SIGTERM");
    await proc;
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) {
      const r = await proc;
      throw new Error(`agent exited early (${r.exitCode}): ${output}${r.all ?? ""}`);
    }
    try {
      const r = await healthz(port, ca);
      if (r.status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`agent did not come up: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, port, stderr: () => output, stop };
}

export async function healthz(port: number, ca: string): Promise<{ status: number; body: string }> {
  const { connect } = await import("node:http2");
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error("healthz timed out"));
    }, 2000);
    session.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const req = session.request({ ":path": "/healthz", ":method": "GET" });
    let body = "";
    let status = 0;
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, body });
    });
    req.on("error", reject);
    req.end();
  });
}

export function agentClient(port: number, ca: string, token?: string) {
  const transport = createGrpcTransport({
    baseUrl: `https://127.0.0.1:${port}`,
    nodeOptions: { ca },
    interceptors: [
      (next) => (req) => {
        if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
  return createClient(AgentService, transport);
}

/** Clients of the sim's mc-proxy (admin socket) and MCNS, to look at what the agent wired. */
export async function platformClients(
  sim: SimInstance,
): Promise<{ proxy: McProxyClient; mcns: McnsClient }> {
  const ns = sim.endpoints.mcns;
  const proxy = createMcProxyClient({ socketPath: sim.endpoints.mcproxy?.socket ?? "" });
  const mcns = createMcnsClient({
    url: ns?.url ?? "",
    token: (await readFile(String(ns?.extra?.tokenFile), "utf8")).trim(),
    ca: await readFile(ns?.caFile ?? ""),
  });
  return { proxy, mcns };
}
