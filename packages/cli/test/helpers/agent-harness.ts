// A real mcp-agent process for integration tests: TLS with a sim CA, tokens checked by the
// sim's MCIAS, rootless Podman as `mcp` (TEST-ENVIRONMENT.md), and an operator directory
// with mcp.toml and a token. Stopped and removed by stop(), also after a failed start.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ensureLocalCa,
  issueServerCert,
  MciasStore,
  type SimInstance,
  silentLogger,
  startSim,
} from "@mcp/sim";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { execa, type ResultPromise } from "execa";

const cliBin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const agentBin = join(
  dirname(createRequire(import.meta.url).resolve("@mcp/agent/package.json")),
  "dist",
  "bin.js",
);

export interface AgentHarness {
  dir: string;
  /** The operator's services directory. */
  services: string;
  podman: PodmanHarness;
  port: number;
  /** Runs the bundled `mcp` with this operator's config; never throws on a non-zero exit. */
  mcp(args: string[], timeout?: number): ReturnType<typeof execa>;
  agentOutput(): string;
  stop(): Promise<void>;
}

export async function startAgentHarness(prefix: string): Promise<AgentHarness> {
  const podman = await setupPodman();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  let sim: SimInstance | undefined;
  let agent: ResultPromise | undefined;
  let exited: string | undefined;
  let output = "";
  const stop = async () => {
    if (agent && exited === undefined) {
      agent.kill("SIGTERM");
      await agent;
    }
    await sim?.stop();
    await podman.cleanup();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const simDir = join(dir, "sim");
    sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
    const ca = await ensureLocalCa(simDir);
    const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    await writeFile(join(dir, "agent.pem"), leaf.cert, { mode: 0o600 });
    await writeFile(join(dir, "agent.key"), leaf.key, { mode: 0o600 });
    const token = (await new MciasStore(join(simDir, "mcias")).issueToken("admin", 3_600_000))
      .token;
    const mcias = sim.endpoints.mcias;
    const port = await freePort();
    await writeFile(
      join(dir, "mcp-agent.toml"),
      `[server]\ngrpc_addr = "127.0.0.1:${port}"\ntls_cert = "${join(dir, "agent.pem")}"\ntls_key = "${join(dir, "agent.key")}"\n\n[database]\npath = "${join(dir, "mcp.db")}"\n\n[mcias]\nserver_url = "${mcias?.url}"\nca_cert = "${mcias?.caFile}"\nservice_name = "mcp-agent"\n\n[agent]\nnode_name = "rift"\naddress = "127.0.0.1"\n\n[podman]\nrun_as = "mcp"\nstop_timeout = "1s"\n\n[log]\nlevel = "warn"\n`,
    );
    agent = execa(process.execPath, [agentBin, "server", "--config", join(dir, "mcp-agent.toml")], {
      reject: false,
      all: true,
    });
    agent.all?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    agent.then((r) => {
      exited = String(r.exitCode ?? r.signal ?? "?");
    });
    const services = join(dir, "op", "services");
    await mkdir(services, { recursive: true });
    await writeFile(
      join(dir, "op", "mcp.toml"),
      `[[nodes]]\nname = "rift"\naddress = "127.0.0.1:${port}"\n\n[tls]\nca_cert = "${ca.caFile}"\n`,
    );
    await writeFile(join(dir, "op", "token"), `${token}\n`, { mode: 0o600 });
    const mcp = (args: string[], timeout = 60_000) =>
      execa(process.execPath, [cliBin, ...args], {
        env: {
          MCP_CONFIG: join(dir, "op", "mcp.toml"),
          NO_COLOR: "1",
          PATH: process.env.PATH ?? "",
        },
        extendEnv: false,
        reject: false,
        timeout,
      });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited !== undefined) throw new Error(`mcp-agent exited (${exited}): ${output}`);
      const r = await mcp(["node", "list", "--json"]);
      if (String(r.stdout).includes('"ok": true')) break;
      if (Date.now() > deadline) throw new Error(`mcp-agent did not come up: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { dir, services, podman, port, mcp, agentOutput: () => output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
