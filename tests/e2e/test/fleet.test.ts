// A fleet of two nodes on one machine: beside the platform of `mcp-sim up`, two more real
// mcp-agent processes on 127.0.0.2 (node "compute") and 127.0.0.3 (node "edge"), sharing the
// sim services, each with its own database, certificate and port range. `mcp` places each
// service on the node its definition names, and a fleet-wide `ps` still reports the node
// that answers when the other is down.
//
// Both agents drive the same rootless Podman (user `mcp`), so each one's `ps` also lists the
// other's containers; placement is therefore asserted through `status`, which reads each
// agent's own registry.
//
// The edge node runs no containers: a service with containers is refused there, and
// `mcp deploy` of a compute service with a public route puts that route on the edge's
// mc-proxy (the sim's), backend = the compute node's address. The compute agent gets no
// mc-proxy of its own here, so a request through the sim's listener that reaches the
// container can only have taken the edge's route.
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import { ensureLocalCa, issueServerCert } from "@mcp/sim";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, httpsUntilOk, REPO, runNode, SIM, simUp, type UpInfo } from "./helpers.ts";

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
let proxyPort = 0;
let edgeCerts = "";
let fleetDir = "";

/** The first bytes a TLS client sends for `servername`: a ClientHello carrying the SNI. */
function clientHello(servername: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        resolve(Buffer.from(chunk));
        cb();
        queueMicrotask(() => t.destroy());
      },
    });
    const t = tlsConnect({ socket, servername, rejectUnauthorized: false });
    t.on("error", () => {});
  });
}

/** Sends `data` to 127.0.0.1:`port` and closes after a moment. */
function sendTo(port: number, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, "127.0.0.1", () => {
      s.write(data);
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 500);
    });
    s.on("error", reject);
  });
}

const mcp = (...args: string[]) => runNode(CLI, args, { MCP_CONFIG: fleetToml });

/** The platform agent's config with this node's address, port, database, certs and ports. */
function nodeConfig(base: string, n: Node, i: number, dir: string): string {
  const low = 30_000 + i * 100 + Math.floor(Math.random() * 20) * 200;
  const own = n.name === "edge" ? base : base.replace(/^\[mcproxy\]\nsocket = .*\n/m, "");
  return own
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
  edgeCerts = join(dir, "edge", "certs");
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
  fleetDir = join(platformDir, "fleet-services");
  await mkdir(fleetDir, { recursive: true });
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

  proxyPort = Number(up.sim.mcproxy.listeners[":443"]?.split(":").pop());
  for (const n of nodes) {
    const svc = h.name(`on-${n.name}`);
    services[n.name] = svc;
    // The compute service appends what each connection sends to /tmp/got.
    await writeFile(
      join(platformDir, "fleet-services", `${svc}.toml`),
      `name = "${svc}"\nnode = "${n.name}"\n\n[[components]]\nname = "api"\nimage = "${image}"\ncmd = ["sh", "-c", "trap 'exit 0' TERM; while :; do nc -l -p $PORT >> /tmp/got; done & wait"]\n\n[[components.routes]]\nport = 443\nmode = "l4"\nhostname = "${svc}.public.example"\n` +
        // busybox httpd speaks HTTP only: the edge terminates TLS for this public name.
        `\n[[components]]\nname = "web"\nimage = "${image}"\ncmd = ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /www && echo served-by-${svc} > /www/index.html && httpd -f -p $PORT -h /www & wait"]\n\n[[components.routes]]\nport = 443\nmode = "l7"\nhostname = "web-${svc}.public.example"\n`,
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

  it("mcp sync deploys each service to the node its definition names; the edge refuses containers", async () => {
    const r = await mcp("sync");
    expect(r.code, `${r.stdout}\n${r.stderr}`).not.toBe(0);
    expect(r.stdout).toMatch(new RegExp(`compute\\s+${services.compute}\\s+deployed`));
    expect(r.stdout).toMatch(new RegExp(`edge\\s+${services.edge}\\s+failed`));
    expect(`${r.stdout}${r.stderr}`).toContain('node "edge" is an edge node');
    // The compute service's public route went on the edge. Not "(unchanged)": nothing but
    // the edge agent puts routes on the sim's mc-proxy here.
    const host = `${services.compute}.public.example`.replace(/\./g, "\\.");
    expect(r.stdout).toMatch(new RegExp(`edge edge: l4 ${host} on :443 → 127\\.0\\.0\\.2:\\d+\n`));
    // The L7 one got the edge's own certificate.
    expect(r.stdout).toMatch(
      new RegExp(`edge edge: l7 web-${host} on :443 → 127\\.0\\.0\\.2:\\d+, certificate issued\n`),
    );
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
      compute: [[services.compute, 2]],
      edge: [],
    });
  });

  it("mcp deploy to the edge is refused: it runs no containers", async () => {
    const r = await mcp("deploy", services.edge as string);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('node "edge" is an edge node: it runs no containers');
  });

  it("mcp deploy keeps the public route on the edge; a request through the edge's mc-proxy reaches the container on the compute node", async () => {
    const svc = services.compute as string;
    const host = `${svc}.public.example`;
    const r = await mcp("deploy", svc);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Already there since the sync.
    expect(r.stdout).toMatch(
      new RegExp(
        `edge edge: l4 ${host.replace(/\./g, "\\.")} on :443 → 127\\.0\\.0\\.2:\\d+ \\(unchanged\\)\n`,
      ),
    );
    await sendTo(proxyPort, await clientHello(host));
    let got = "";
    const deadline = Date.now() + 15_000;
    while (!got.includes(host) && Date.now() < deadline) {
      const e = await h.client.execContainer(`${svc}-api`, ["cat", "/tmp/got"]);
      got = e.stdout;
      if (!got.includes(host)) await new Promise((res) => setTimeout(res, 250));
    }
    expect(got, nodes.map((n) => n.output).join("\n")).toContain(host);
  });

  it("mcp undeploy takes the route off the edge; deploying again puts it back", async () => {
    const svc = services.compute as string;
    const host = `${svc}.public.example`;
    const u = await mcp("undeploy", svc);
    expect(u.code, `${u.stdout}\n${u.stderr}`).toBe(0);
    expect(u.stdout).toContain(`edge edge: ${host} removed from :443`);
    expect(u.stdout).toContain(`edge edge: web-${host} removed from :443`);
    // The edge's certificate for the L7 name went with its route.
    await expect(stat(join(edgeCerts, `edge_web-${host}.pem`))).rejects.toThrow(/ENOENT/);
    const d = await mcp("deploy", svc);
    expect(d.code, `${d.stdout}\n${d.stderr}`).toBe(0);
    // Not "(unchanged)": the undeploy had removed it.
    expect(d.stdout).toMatch(
      new RegExp(`edge edge: l4 ${host.replace(/\./g, "\\.")} on :443 → 127\\.0\\.0\\.2:\\d+\n`),
    );
  });

  it("an L7 public route is terminated on the edge with its own Metacrypt certificate and reaches httpd on the compute node", async () => {
    const svc = services.compute as string;
    const web = `web-${svc}.public.example`;
    const ca = await readFile(up.sim.metacrypt.caFile, "utf8");
    const res = await httpsUntilOk("127.0.0.1", proxyPort, web, ca);
    expect(res, nodes.map((n) => n.output).join("\n")).toEqual({
      status: 200,
      body: `served-by-${svc}\n`,
    });
    // The edge lists what it carries, naming the compute node; --json says the same.
    const t = await mcp("route", "list", "-n", "edge");
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(
      new RegExp(
        `l7\\s+${web.replace(/\./g, "\\.")}\\s+→ 127\\.0\\.0\\.2:\\d+\\s+\\(${svc} on compute\\)`,
      ),
    );
    const j = await mcp("route", "list", "-n", "edge", "--json");
    const routes = (
      JSON.parse(j.stdout) as {
        nodes: {
          listeners: { routes: { hostname: string; mode: string; computeNode: string }[] }[];
        }[];
      }
    ).nodes[0]?.listeners.flatMap((l) => l.routes);
    expect(routes?.find((r) => r.hostname === web)).toMatchObject({
      mode: "l7",
      computeNode: "compute",
    });
    // deploy --json reports the edge's part as lines of their own.
    const d = await mcp("deploy", svc, "--json");
    expect(d.code, d.stderr).toBe(0);
    const edgeLines = d.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; hostname?: string; certificate?: string })
      .filter((l) => l.type === "edge-route");
    expect(edgeLines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          hostname: web,
          mode: "l7",
          changed: false,
          certificate: "reused",
        }),
        expect.objectContaining({ hostname: `${svc}.public.example`, mode: "l4", changed: false }),
      ]),
    );
  });

  it("stop takes the public routes off the edge and start puts them back; a hostname dropped from the definition leaves the edge on the next deploy", async () => {
    const svc = services.compute as string;
    const host = `${svc}.public.example`;
    const carried = async () => {
      const j = await mcp("route", "list", "-n", "edge", "--json");
      const doc = JSON.parse(j.stdout) as {
        nodes: { listeners: { routes: { hostname: string; service: string }[] }[] }[];
      };
      return (doc.nodes[0]?.listeners ?? [])
        .flatMap((l) => l.routes)
        .filter((r) => r.service === svc)
        .map((r) => r.hostname)
        .sort();
    };
    expect(await carried()).toEqual([host, `web-${host}`]);
    const stopped = await mcp("stop", svc);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`edge edge: web-${host} removed from :443`);
    expect(await carried()).toEqual([]);
    const started = await mcp("start", svc);
    expect(started.code, started.stderr).toBe(0);
    expect(await carried()).toEqual([host, `web-${host}`]);

    // The web component's public name goes away from the definition.
    const file = join(fleetDir, `${svc}.toml`);
    const before = await readFile(file, "utf8");
    await writeFile(file, before.replace(`hostname = "web-${host}"\n`, ""));
    try {
      const d = await mcp("deploy", svc);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toContain(`edge edge: web-${host} removed from :443`);
      expect(await carried()).toEqual([host]);
    } finally {
      await writeFile(file, before);
    }
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
      expect.objectContaining({ state: "running" }),
    ]);
    expect(edge).toMatchObject({ ok: false, error: { exitCode: 3 } });

    const t = await mcp("ps");
    expect(t.code).toBe(3);
    expect(t.stdout).toMatch(new RegExp(`compute\\s+${services.compute}\\s+api\\s+running`));
    expect(t.stderr).toMatch(/^error: node edge \(127\.0\.0\.3:\d+\)/m);
  });
});
