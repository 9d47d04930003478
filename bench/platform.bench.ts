// mcp-agent platform wiring: what the certificate, route and DNS steps add to a deploy,
// beside the Podman work of the same deploy.
//
// A real agent process (packages/agent/dist/bin.js) deploys to rootless Podman (user mcp)
// and wires each service into the sim's Metacrypt (HTTPS), mc-proxy (gRPC on a unix socket)
// and MCNS (HTTPS), all real servers on loopback. Each step's time is taken from the Deploy
// stream: from its "started" event to its outcome, as the CLI would see it.
//   1. First deploy of an L7 + L4 service: certificate issued (key generation and signing in
//      Metacrypt, files written 0600), two routes added, one DNS record created. Target:
//      certificate + routes + DNS under 200 ms. Baseline: the Podman work of the same deploy
//      (image check, create, start).
//   2. Redeploy of the same definition: certificate reused from disk, routes and record found
//      as they are (one list call each).
// Run as root: . ./env.sh && pnpm turbo run build --filter @mcp/agent... && node bench/platform.bench.ts

import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { StepStatus } from "@mcp/proto/agent/v1";
import { silentLogger, startSim } from "@mcp/sim";
import { setupPodman } from "@mcp/testkit";
import {
  agentClient,
  agentConfig,
  agentCredentials,
  spawnAgent,
  waitHealthy,
} from "./lib/agent.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ZONE = "svc.mcp.metacircular.net";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 100) / 100;

const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-platform-"));
const simDir = path.join(dir, "sim");
const sim = await startSim({ dir: simDir, log: silentLogger });
const podman = await setupPodman();
let agentProc: ChildProcess | undefined;

try {
  const { ca, token, port } = await agentCredentials(dir, simDir);
  const portLow = 45000 + Math.floor(Math.random() * 50) * 100;
  const { metacrypt, mcproxy, mcns } = sim.endpoints;
  const configFile = path.join(dir, "mcp-agent.toml");
  await writeFile(
    configFile,
    agentConfig({
      dir,
      port,
      sim,
      ports: { low: portLow, count: 100 },
      extra: `[metacrypt]
server_url = "${metacrypt?.url}"
ca_cert = "${metacrypt?.caFile}"
token_file = "${metacrypt?.extra?.tokenFile}"
[mcproxy]
socket = "${mcproxy?.socket}"
[mcns]
server_url = "${mcns?.url}"
ca_cert = "${mcns?.caFile}"
token_file = "${mcns?.extra?.tokenFile}"
zone = "${ZONE}"
[certs]
dir = "${dir}/certs"
`,
    }),
  );
  agentProc = spawnAgent(configFile);
  const client = agentClient(port, ca.cert, token);
  await waitHealthy(port, ca.cert);
  // One authenticated call first, so MCIAS's client is warm before anything is timed.
  await client.nodeInfo({});

  const toml = (name: string) => `name = "${name}"
node = "bench"

[[components]]
name = "web"
image = "${podman.image}"
cmd = ["sh", "-c", "exec httpd -f -p $PORT_HTTPS -h /"]

[[components.routes]]
name = "https"
port = 443
mode = "l7"

[[components.routes]]
name = "raw"
port = 9443
mode = "l4"
`;

  /** Deploys and returns each step's time (ms), keyed by step name, summed over components. */
  const deploy = async (name: string) => {
    const started = new Map<string, number>();
    const took: Record<string, number> = {};
    let total = performance.now();
    for await (const r of client.deploy({ spec: { name, node: "bench", toml: toml(name) } })) {
      if (r.event.case !== "step") continue;
      const s = r.event.value;
      const key = `${s.name}\u0000${s.component}`;
      if (s.status === StepStatus.STARTED) {
        started.set(key, performance.now());
      } else if (started.has(key)) {
        took[s.name] = (took[s.name] ?? 0) + performance.now() - (started.get(key) ?? 0);
        started.delete(key);
        if (s.status === StepStatus.FAILED) throw new Error(`${s.name} failed: ${s.message}`);
      }
    }
    total = performance.now() - total;
    return { took, total };
  };
  const undeploy = async (name: string) => {
    for await (const _ of client.undeploy({ service: name })) {
      // drain
    }
  };
  const sum = (t: Record<string, number>, names: string[]) =>
    names.reduce((a, n) => a + (t[n] ?? 0), 0);
  const PLATFORM = ["certificate", "register-routes", "register-dns"];
  const PODMAN = ["pull", "container"];

  const first = { cert: [] as number[], routes: [] as number[], dns: [] as number[] };
  const firstPlatform: number[] = [];
  const firstPodman: number[] = [];
  const firstTotal: number[] = [];
  const againPlatform: number[] = [];
  const againCert: number[] = [];
  // One warm-up round: the first issue pays for the agent's TLS session to Metacrypt/MCNS.
  for (let i = -1; i < ROUNDS; i++) {
    const name = podman.name(`p${i + 1}`);
    const a = await deploy(name);
    const b = await deploy(name);
    await undeploy(name);
    if (i < 0) continue;
    first.cert.push(a.took.certificate ?? 0);
    first.routes.push(a.took["register-routes"] ?? 0);
    first.dns.push(a.took["register-dns"] ?? 0);
    firstPlatform.push(sum(a.took, PLATFORM));
    firstPodman.push(sum(a.took, PODMAN));
    firstTotal.push(a.total);
    againPlatform.push(sum(b.took, PLATFORM));
    againCert.push(b.took.certificate ?? 0);
  }

  const platformMs = median(firstPlatform);
  const podmanMs = median(firstPodman);
  const figures = [
    {
      metric: "first deploy: certificate + routes + DNS steps, median",
      value: round(platformMs),
      unit: "ms",
      target: 200,
      baseline: round(podmanMs),
      ratio: round(platformMs / podmanMs),
      better: "lower",
    },
    {
      metric: "  certificate issued (Metacrypt + 0600 files), median",
      value: round(median(first.cert)),
      unit: "ms",
    },
    {
      metric: "  2 routes added (mc-proxy), median",
      value: round(median(first.routes)),
      unit: "ms",
    },
    { metric: "  DNS record created (MCNS), median", value: round(median(first.dns)), unit: "ms" },
    {
      metric: "first deploy: Podman work (image check, create, start), median",
      value: round(podmanMs),
      unit: "ms",
    },
    {
      metric: "first deploy: whole Deploy RPC, median",
      value: round(median(firstTotal)),
      unit: "ms",
    },
    {
      metric: "redeploy: certificate reused + routes + DNS unchanged, median",
      value: round(median(againPlatform)),
      unit: "ms",
      target: 200,
      better: "lower",
    },
    {
      metric: "  certificate reused from disk, median",
      value: round(median(againCert)),
      unit: "ms",
    },
  ];
  await writeFile(
    path.join(here, "results/platform.json"),
    `${JSON.stringify({ name: "platform", rounds: ROUNDS, figures }, null, 2)}\n`,
  );
  for (const f of figures) {
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${"ratio" in f ? ` (Podman work ${f.baseline} ms, ratio ${f.ratio})` : ""}`,
    );
  }
  // Nothing was left behind on the platform.
  const leftover = JSON.parse(await readFile(path.join(simDir, "mcproxy", "routes.json"), "utf8"));
  if (JSON.stringify(leftover).includes(podman.prefix)) console.warn("warning: routes left behind");
} finally {
  agentProc?.kill("SIGTERM");
  await podman.cleanup().catch(() => {});
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
