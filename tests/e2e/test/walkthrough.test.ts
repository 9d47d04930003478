// The spec's §9 "Complete Walkthrough", end to end on a local platform brought up by
// `mcp-sim up` (sim MCIAS/Metacrypt/mc-proxy/MCNS, a real docker-registry with token auth, a
// real mcp-agent process whose Podman runs rootless as `mcp`), driven by the bundled `mcp`
// in a subprocess exactly as an operator runs it. The source tree and definition are
// written here; the service is reached by name over TLS through the proxy, trusting only
// the Metacrypt CA, with the name resolved by the sim's DNS server.
//
// Everything this suite creates is named with a prefix unique to the run (testkit), so it
// never meets the Quick start's demo (service `demo` in .mcp-demo/), which may be running.
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PodmanClient } from "@mcp/podman-client";
import { ensureTestImage, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  followLogs,
  httpsGet,
  httpsUntilOk,
  resolve4,
  resolver,
  runNode,
  SIM,
  simUp,
  type UpInfo,
  ZONE,
} from "./helpers.ts";

let h: PodmanHarness;
let base: string;
let platformDir: string;
let workspace: string;
let up: UpInfo;
let svc: string;
let host: string;
let proxyPort: number;
let metacryptCa: string;
let srvDir: string;
const builtImages: string[] = [];
const root = new PodmanClient();

const env = () => ({ MCP_CONFIG: up.mcpToml });
const mcp = (...args: string[]) => runNode(CLI, args, env());

interface PsJson {
  nodes: {
    node: string;
    ok: boolean;
    containers?: { name: string; service: string; state: string; version: string }[];
  }[];
}
interface StatusJson {
  nodes: {
    node: string;
    ok: boolean;
    services?: {
      name: string;
      desired: string;
      running: number;
      drift: boolean;
      version: string;
    }[];
  }[];
}

async function ps() {
  const r = await mcp("ps", "--json");
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as PsJson;
  return j.nodes.flatMap((n) => (n.containers ?? []).filter((c) => c.service === svc));
}

async function status() {
  const r = await mcp("status", "--json");
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as StatusJson;
  return j.nodes.flatMap((n) => (n.services ?? []).filter((s) => s.name === svc));
}

function definition(version: string): string {
  // Spec §9 step 3, adapted to the local platform: node "local", the volume under the
  // test's directory, and an L7 route on :443 (busybox httpd speaks no TLS, so the
  // proxy terminates it) beside the spec's L4 route "rest" on :8443.
  return `name = "${svc}"
node = "local"

[build.images]
${svc} = "Dockerfile.api"

[[components]]
name = "api"
image = "${up.registry}/${svc}:${version}"
volumes = ["${srvDir}:/srv/myservice"]

[[components.routes]]
name = "https"
port = 443
mode = "l7"

[[components.routes]]
name = "rest"
port = 8443
mode = "l4"
`;
}

/** Running (a zombie awaiting its reaper has an empty command line). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").length > 0;
  } catch {
    return false;
  }
}

const get = (path = "/") => httpsUntilOk("127.0.0.1", proxyPort, host, metacryptCa, path);

beforeAll(async () => {
  h = await setupPodman({ image: false });
  base = await ensureTestImage(root);
  const dir = await mkdtemp(join(tmpdir(), `mcp-e2e-${h.runId}-`));
  h.defer(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o711);
  platformDir = join(dir, "platform");
  workspace = join(dir, "src");
  // The platform goes down even when a later step fails; then the harness sweeps containers.
  h.defer(async () => {
    if (existsSync(platformDir)) await runNode(SIM, ["down", "--dir", platformDir]);
  });
  h.defer(async () => {
    for (const img of builtImages) await root.removeImage(img, { force: true }).catch(() => {});
  });
  up = await simUp(platformDir, workspace);
  svc = h.name("myservice");
  host = `${svc}.${ZONE}`;
  proxyPort = Number(up.sim.mcproxy.listeners[":443"]?.split(":").pop());
  metacryptCa = await readFile(up.sim.metacrypt.caFile, "utf8");

  // Step 1 of the walkthrough: the service's directory on the node, owned by `mcp`.
  srvDir = join(dir, "srv", "myservice");
  await mkdir(srvDir, { recursive: true });
  await writeFile(join(srvDir, "motd.txt"), "from the node's /srv/myservice\n");
  await chown(join(dir, "srv"), h.user.uid, h.user.gid);
  await chown(srvDir, h.user.uid, h.user.gid);
  await chown(join(srvDir, "motd.txt"), h.user.uid, h.user.gid);

  // Step 2 (the release) is the source tree, with a Dockerfile that serves its version
  // and writes a line to the log every 200 ms (for `mcp logs -f`); sh as PID 1 traps
  // SIGTERM, which busybox httpd would ignore (every stop would wait out the timeout). It
  // listens on both routes' ports, as the spec's service does: the default health check
  // (no [components.health]) is a TCP connect to every route's port.
  await mkdir(join(workspace, svc), { recursive: true });
  await writeFile(
    join(workspace, svc, "Dockerfile.api"),
    `FROM ${base}
ARG VERSION
RUN echo "${svc} $VERSION" > /www/index.html
CMD ["sh", "-c", "trap 'exit 0' TERM; cp /srv/myservice/motd.txt /www/; (while true; do echo tick; sleep 0.2; done) & httpd -f -p \${PORT_REST} -h /www & httpd -f -p \${PORT_HTTPS} -h /www & wait"]
`,
  );
}, 180_000);

afterAll(async () => {
  if (up && svc) await mcp("undeploy", svc);
  await h?.cleanup();
}, 120_000);

describe("the §9 walkthrough on the local platform", () => {
  it("mcp-sim up run again reuses every running part", async () => {
    const again = await simUp(platformDir, workspace);
    expect(again.parts.map((p) => [p.name, p.started])).toEqual([
      ["sim", false],
      ["registry", false],
      ["agent", false],
    ]);
    expect(again.parts.map((p) => p.pid)).toEqual(up.parts.map((p) => p.pid));
    expect(again.agent).toBe(up.agent);
    const nodes = await mcp("node", "list", "--json");
    expect(nodes.code, nodes.stderr).toBe(0);
    expect(nodes.stdout).toContain('"ok": true');
  });

  it("writes the definition, mcp build builds and pushes the image", async () => {
    await writeFile(join(up.servicesDir, `${svc}.toml`), definition("v1.0.0"));
    builtImages.push(`${up.registry}/${svc}:v1.0.0`);
    const r = await mcp("build", svc);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`built and pushed: ${up.registry}/${svc}:v1.0.0`);
  });

  it("mcp deploy runs it; status and ps show v1.0.0 running", async () => {
    const r = await mcp("deploy", svc);
    expect(r.code, r.stderr).toBe(0);
    for (const step of ["pull api", "container api", "register routes", "register dns"]) {
      expect(r.stdout).toMatch(new RegExp(`✔ ${step}`));
    }
    expect(await status()).toEqual([
      expect.objectContaining({
        name: svc,
        desired: "running",
        running: 1,
        drift: false,
        version: "v1.0.0",
      }),
    ]);
    expect((await ps()).map((c) => [c.name, c.state, c.version])).toEqual([
      [`${svc}-api`, "running", "v1.0.0"],
    ]);
    const table = await mcp("status");
    expect(table.stdout).toMatch(
      new RegExp(`local\\s+${svc}\\s+running\\s+running\\s+no drift\\s+v1\\.0\\.0`),
    );
  });

  it("is reachable by name over TLS through the proxy, and DNS answers", async () => {
    const dns = resolver(up.sim.mcns.dnsPort);
    expect(await resolve4(dns, host)).toEqual(["127.0.0.1"]);
    expect(await get()).toEqual({ status: 200, body: `${svc} v1.0.0\n` });
    // The volume of step 1 is mounted: the container serves a file from it.
    expect(await get("/motd.txt")).toEqual({
      status: 200,
      body: "from the node's /srv/myservice\n",
    });
    // Both routes got a port; mcp status <service> shows them.
    const one = await mcp("status", svc, "--json");
    const ports = (JSON.parse(one.stdout) as { components: { ports: Record<string, number> }[] })
      .components[0]?.ports;
    expect(Object.keys(ports ?? {}).sort()).toEqual(["https", "rest"]);
    // Only the Metacrypt CA is trusted, and the certificate names the service.
    await expect(httpsGet("127.0.0.1", proxyPort, host, "")).rejects.toThrow();
  });

  it("mcp route list shows both routes on their listeners, for people and as JSON", async () => {
    const json = await mcp("route", "list", "--json");
    expect(json.code, json.stderr).toBe(0);
    const nodes = (
      JSON.parse(json.stdout) as {
        nodes: {
          node: string;
          listeners: {
            address: string;
            routes: { hostname: string; backend: string; mode: string; service: string }[];
          }[];
        }[];
      }
    ).nodes;
    const ours = nodes
      .flatMap((n) => n.listeners.map((l) => ({ node: n.node, ...l })))
      .flatMap((l) =>
        l.routes
          .filter((r) => r.service === svc)
          .map((r) => ({ node: l.node, listener: l.address, ...r })),
      )
      .sort((a, b) => a.listener.localeCompare(b.listener));
    expect(ours).toEqual([
      expect.objectContaining({ node: "local", listener: ":443", hostname: host, mode: "l7" }),
      expect.objectContaining({ node: "local", listener: ":8443", hostname: host, mode: "l4" }),
    ]);
    for (const r of ours) expect(r.backend).toMatch(/^127\.0\.0\.1:\d+$/);
    const table = await mcp("route", "list");
    expect(table.code, table.stderr).toBe(0);
    const line = (mode: string, backend = "") =>
      new RegExp(
        `\\n\\s+${mode}\\s+${host.replaceAll(".", "\\.")} → ${backend.replaceAll(".", "\\.")}\\s`,
      );
    expect(table.stdout).toMatch(/:443\s+1 route/);
    expect(table.stdout).toMatch(line("l7", ours[0]?.backend));
    expect(table.stdout).toMatch(line("l4", ours[1]?.backend));
  });

  it("mcp logs -f follows until interrupted", async () => {
    const r = await followLogs(
      ["logs", svc, "-f", "--tail", "1"],
      env(),
      (lines) => lines.filter((l) => l.includes("tick")).length >= 3,
    );
    expect(r.lines.filter((l) => l.includes("tick")).length).toBeGreaterThanOrEqual(3);
    expect(r.code).toBe(0);
  });

  it("mcp stop unwires and stops it; mcp start brings it back", async () => {
    const dns = resolver(up.sim.mcns.dnsPort);
    const stop = await mcp("stop", svc);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await resolve4(dns, host)).toBe("ENOTFOUND");
    expect((await ps()).map((c) => c.state)).not.toContain("running");
    expect(await status()).toEqual([expect.objectContaining({ desired: "stopped", running: 0 })]);

    const start = await mcp("start", svc);
    expect(start.code, start.stderr).toBe(0);
    expect(await resolve4(dns, host)).toEqual(["127.0.0.1"]);
    expect(await get()).toEqual({ status: 200, body: `${svc} v1.0.0\n` });
  });

  it("mcp restart restarts it in place", async () => {
    const before = await mcp("status", svc, "--json");
    const startedAt = (JSON.parse(before.stdout) as { components: { startedAt: string }[] })
      .components[0]?.startedAt;
    await new Promise((r) => setTimeout(r, 1100));
    const r = await mcp("restart", svc);
    expect(r.code, r.stderr).toBe(0);
    const after = await mcp("status", svc, "--json");
    const j = JSON.parse(after.stdout) as {
      components: { startedAt: string; observed: string }[];
    };
    expect(j.components[0]?.observed).toBe("running");
    expect(j.components[0]?.startedAt).not.toBe(startedAt);
    expect(await get()).toEqual({ status: 200, body: `${svc} v1.0.0\n` });
  });

  it("a new version: build v1.1.0, deploy, and the proxy serves it", async () => {
    await writeFile(join(up.servicesDir, `${svc}.toml`), definition("v1.1.0"));
    builtImages.push(`${up.registry}/${svc}:v1.1.0`);
    const sync = await mcp("sync");
    expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(0);
    expect(sync.stdout).toContain(`push ${up.registry}/${svc}:v1.1.0`);
    expect(sync.stdout).toMatch(new RegExp(`local\\s+${svc}\\s+deployed\\s+v1\\.1\\.0`));
    // Once (1 run in 4, machine loaded by other suites) status read right after the
    // replacement showed the component not running; it must settle within seconds.
    // Under investigation (closing note); the bound keeps the test strict about the end state.
    const until = Date.now() + 5000;
    let now = await status();
    while (now[0]?.running !== 1 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      now = await status();
    }
    if (now[0]?.running !== 1) {
      // Say what Podman itself holds, so a failure here can be told apart from a stale view.
      const names = (await h.client.listContainers({ all: true }))
        .filter((c) => c.name.startsWith(svc))
        .map((c) => `${c.name} ${c.state} ${c.id.slice(0, 12)}`);
      expect(now, `podman: ${names.join("; ")}`).toEqual([
        expect.objectContaining({ version: "v1.1.0", running: 1 }),
      ]);
    }
    expect(await get()).toEqual({ status: 200, body: `${svc} v1.1.0\n` });
  });

  it("mcp undeploy removes it everywhere", async () => {
    const r = await mcp("undeploy", svc);
    expect(r.code, r.stderr).toBe(0);
    expect(await ps()).toEqual([]);
    expect(await status()).toEqual([]);
    expect(await resolve4(resolver(up.sim.mcns.dnsPort), host)).toBe("ENOTFOUND");
    const res = await httpsGet("127.0.0.1", proxyPort, host, metacryptCa).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    expect(res.status).not.toBe(200);
  });

  it("mcp-sim down stops exactly the processes up started, and keeps the state", async () => {
    const r = await runNode(SIM, ["down", "--dir", platformDir]);
    expect(r.code, r.stderr).toBe(0);
    for (const p of up.parts) {
      expect(r.stdout).toContain(`stopped (pid ${p.pid})`);
      expect(alive(p.pid)).toBe(false);
    }
    expect(existsSync(join(platformDir, "mcp.toml"))).toBe(true);
    expect(existsSync(join(platformDir, "sim", "sim.json"))).toBe(true);
    const again = await runNode(SIM, ["down", "--dir", platformDir]);
    expect(again.stdout).toContain("agent     was not running");
    const unreachable = await mcp("ps");
    expect(unreachable.code).toBe(3);
  });
});

describe("mcp-sim up in a directory closed to other users", () => {
  it("keeps the agent's state where Podman (as mcp) can read it, and deploys through the registry", async () => {
    const closed = await mkdtemp(join(tmpdir(), "mcp-e2e-closed-"));
    const dir = join(closed, "platform");
    const name = h.name("closed");
    let stateDir = "";
    try {
      await chmod(closed, 0o700);
      const src = join(closed, "src");
      await mkdir(join(src, name), { recursive: true });
      await writeFile(join(src, name, "Dockerfile"), `FROM ${base}\n`);
      const info = (await simUp(dir, src)) as UpInfo & { agentStateDir: string };
      stateDir = info.agentStateDir;
      expect(stateDir).toMatch(/^\/var\/tmp\/mcp-sim-[0-9a-f]{12}\/agent$/);
      const image = `${info.registry}/${name}:v1.0.0`;
      builtImages.push(image);
      await writeFile(
        join(info.servicesDir, `${name}.toml`),
        `name = "${name}"\nnode = "local"\n\n[build.images]\n${name} = "Dockerfile"\n\n[[components]]\nname = "api"\nimage = "${image}"\ncmd = ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]\n`,
      );
      // The agent pulls with the auth file it wrote beside its database: Podman read it.
      const r = await runNode(CLI, ["sync"], { MCP_CONFIG: info.mcpToml });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`local\\s+${name}\\s+deployed\\s+v1\\.0\\.0`));
      expect(existsSync(join(stateDir, "registry-auth.json"))).toBe(true);
      await runNode(CLI, ["undeploy", name], { MCP_CONFIG: info.mcpToml });
    } finally {
      await runNode(SIM, ["down", "--dir", dir]);
      await rm(closed, { recursive: true, force: true });
      if (stateDir) await rm(dirname(stateDir), { recursive: true, force: true });
    }
  });
});
