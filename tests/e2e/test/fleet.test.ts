// A fleet of two nodes on one machine: beside the platform of `mcp-sim up`, two more real
// mcp-agent processes on 127.0.0.2 (node "compute") and 127.0.0.3 (node "edge"), sharing the
// sim services, each with its own database, certificate and port range. `mcp` places each
// service on the node its definition names, and a fleet-wide `ps` still reports the node
// that answers when the other is down.
//
// Both agents drive the same rootless Podman (user `mcp`), so each one's `ps` also lists the
// other's containers; placement is therefore asserted through `status`, which reads each
// agent's own registry.
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureLocalCa, issueServerCert } from "@mcp/sim";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, REPO, runNode, SIM, simUp, type UpInfo } from "./helpers.ts";

const AGENT = `${REPO}packages/agent/dist/bin.js`;

interface Node {
  name: string;
  address: string;
  port: number;
  proc?: ChildProcess;
  output: string;
}

let h: PodmanHarness;
let up: UpInfo;
let image: string;
let fleetToml: string;
const nodes: Node[] = [
  { name: "compute", address: "127.0.0.2", port: 0, output: "" },
  { name: "edge", address: "127.0.0.3", port: 0, output: "" },
];
const services: Record<string, string> = {};

const mcp = (...args: string[]) => runNode(CLI, args, { MCP_CONFIG: fleetToml });

/** The platform agent's config with this node's address, port, database, certs and ports. */
function nodeConfig(base: string, n: Node, i: number, dir: string): string {
  const low = 30_000 + i * 100 + Math.floor(Math.random() * 20) * 200;
  return base
    .replace(/^grpc_addr = .*$/m, `grpc_addr = "${n.address}:${n.port}"`)
    .replace(/^tls_cert = .*$/m, `tls_cert = "${join(dir, "agent.pem")}"`)
    .replace(/^tls_key = .*$/m, `tls_key = "${join(dir, "agent.key")}"`)
    .replace(/^path = .*$/m, `path = "${join(dir, "mcp.db")}"`)
    .replace(/^node_name = .*$/m, `node_name = "${n.name}"`)
    .replace(/^address = .*$/m, `address = "${n.address}"`)
    .replace(/^role = .*$/m, `role = "${n.name === "edge" ? "edge" : "compute"}"`)
    .replace(/^range = .*$/m, `range = "${low}-${low + 99}"`)
    .replace(/^dir = .*$/m, `dir = "${join(dir, "certs")}"`);
}

function startAgent(n: Node, config: string): void {
  n.proc = spawn(process.execPath, [AGENT, "server", "--config", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  n.proc.stdout?.on("data", (d: Buffer) => {
    n.output += d.toString();
  });
  n.proc.stderr?.on("data", (d: Buffer) => {
    n.output += d.toString();
  });
}

async function stopAgent(n: Node): Promise<void> {
  const p = n.proc;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await exited;
}

beforeAll(async () => {
  h = await setupPodman();
  image = h.image;
  const dir = await mkdtemp(join(tmpdir(), `mcp-e2e-fleet-${h.runId}-`));
  h.defer(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o711);
  const platformDir = join(dir, "platform");
  h.defer(() => runNode(SIM, ["down", "--dir", platformDir]).then(() => {}));
  up = await simUp(platformDir, join(dir, "src"));
  h.defer(async () => {
    for (const n of nodes) await stopAgent(n);
  });

  const ca = await ensureLocalCa(join(platformDir, "sim"));
  const base = await readFile(join(platformDir, "agent", "mcp-agent.toml"), "utf8");
  for (const [i, n] of nodes.entries()) {
    const nodeDir = join(dir, n.name);
    await mkdir(nodeDir, { recursive: true, mode: 0o711 });
    const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: [n.address] });
    await writeFile(join(nodeDir, "agent.pem"), leaf.cert, { mode: 0o600 });
    await writeFile(join(nodeDir, "agent.key"), leaf.key, { mode: 0o600 });
    n.port = await freePort(n.address);
    const config = join(nodeDir, "mcp-agent.toml");
    await writeFile(config, nodeConfig(base, n, i, nodeDir));
    startAgent(n, config);
  }

  // The operator's view of this fleet: the platform's mcp.toml with these two nodes.
  const platformToml = await readFile(up.mcpToml, "utf8");
  fleetToml = join(platformDir, "fleet.toml");
  await mkdir(join(platformDir, "fleet-services"), { recursive: true });
  await writeFile(
    fleetToml,
    platformToml
      .replace('services_dir = "services"', 'services_dir = "fleet-services"')
      .replace(
        /\[\[nodes\]\][^[]*/,
        nodes
          .map(
            (n, i) =>
              `[[nodes]]\nname = "${n.name}"\naddress = "${n.address}:${n.port}"\nrole = "${i === 0 ? "compute" : "edge"}"\n\n`,
          )
          .join(""),
      ),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await mcp("node", "list", "--json");
    if (r.code === 0) break;
    if (Date.now() > deadline) {
      throw new Error(
        `agents did not come up: ${r.stderr}\n${nodes.map((n) => n.output).join("\n")}`,
      );
    }
    await new Promise((res) => setTimeout(res, 200));
  }

  for (const n of nodes) {
    const svc = h.name(`on-${n.name}`);
    services[n.name] = svc;
    await writeFile(
      join(platformDir, "fleet-services", `${svc}.toml`),
      `name = "${svc}"\nnode = "${n.name}"\n\n[[components]]\nname = "api"\nimage = "${image}"\ncmd = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]\n`,
    );
  }
}, 180_000);

afterAll(async () => {
  for (const svc of Object.values(services)) await mcp("undeploy", svc);
  await h?.cleanup();
}, 120_000);

interface StatusJson {
  nodes: { node: string; ok: boolean; services?: { name: string; running: number }[] }[];
}
interface PsJson {
  nodes: {
    node: string;
    ok: boolean;
    containers?: { service: string; state: string }[];
    error?: { message: string; exitCode: number };
  }[];
}

describe("two agents, placement by node", () => {
  it("node list shows both roles", async () => {
    const r = await mcp("node", "list");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/compute\s+127\.0\.0\.2:\d+\s+\S+\s+compute/);
    expect(r.stdout).toMatch(/edge\s+127\.0\.0\.3:\d+\s+\S+\s+edge/);
  });

  it("mcp sync deploys each service to the node its definition names", async () => {
    const r = await mcp("sync");
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    for (const n of nodes) {
      expect(r.stdout).toMatch(new RegExp(`${n.name}\\s+${services[n.name]}\\s+deployed`));
    }
    const s = await mcp("status", "--json");
    expect(s.code, s.stderr).toBe(0);
    const byNode = Object.fromEntries(
      (JSON.parse(s.stdout) as StatusJson).nodes.map((n) => [
        n.node,
        (n.services ?? [])
          .filter((x) => x.name.startsWith(h.prefix))
          .map((x) => [x.name, x.running]),
      ]),
    );
    expect(byNode).toEqual({
      compute: [[services.compute, 1]],
      edge: [[services.edge, 1]],
    });
  });

  it("fleet-wide ps with one agent down reports the other node and exits 3", async () => {
    await stopAgent(nodes[1] as Node);
    const j = await mcp("ps", "--json");
    expect(j.code).toBe(3);
    const doc = JSON.parse(j.stdout) as PsJson;
    const compute = doc.nodes.find((n) => n.node === "compute");
    const edge = doc.nodes.find((n) => n.node === "edge");
    expect(compute?.ok).toBe(true);
    expect(compute?.containers?.filter((c) => c.service === services.compute)).toEqual([
      expect.objectContaining({ state: "running" }),
    ]);
    expect(edge).toMatchObject({ ok: false, error: { exitCode: 3 } });

    const t = await mcp("ps");
    expect(t.code).toBe(3);
    expect(t.stdout).toMatch(new RegExp(`compute\\s+${services.compute}\\s+api\\s+running`));
    expect(t.stderr).toMatch(/^error: node edge \(127\.0\.0\.3:\d+\)/m);
  });
});
