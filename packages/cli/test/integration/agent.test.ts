// The CLI, as the bundled binary in a subprocess, against a real mcp-agent process over real
// TLS, with tokens checked by the sim's MCIAS. The agent talks to the machine's rootless
// Podman as the `mcp` user, as in production (TEST-ENVIRONMENT.md).
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cliBin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
// The agent's published bin, found through its package.json like any installed command.
const agentBin = join(
  dirname(createRequire(import.meta.url).resolve("@mcp/agent/package.json")),
  "dist",
  "bin.js",
);

let dir: string;
let sim: SimInstance | undefined;
let agent: ResultPromise | undefined;
let agentOutput = "";
let agentExit: Promise<number | string> | undefined;
let port: number;
let podman: PodmanHarness | undefined;

beforeAll(async () => {
  // Rootless Podman as `mcp` with the locally built test image (nothing is pulled).
  podman = await setupPodman();
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-it-"));
  const simDir = join(dir, "sim");
  sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
  const ca = await ensureLocalCa(simDir);
  const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  await writeFile(join(dir, "agent.pem"), leaf.cert, { mode: 0o600 });
  await writeFile(join(dir, "agent.key"), leaf.key, { mode: 0o600 });
  const token = (await new MciasStore(join(simDir, "mcias")).issueToken("admin", 3_600_000)).token;
  const mcias = sim.endpoints.mcias;
  port = await freePort();
  await writeFile(
    join(dir, "mcp-agent.toml"),
    `[server]
grpc_addr = "127.0.0.1:${port}"
tls_cert = "${join(dir, "agent.pem")}"
tls_key = "${join(dir, "agent.key")}"

[database]
path = "${join(dir, "mcp.db")}"

[mcias]
server_url = "${mcias?.url}"
ca_cert = "${mcias?.caFile}"
service_name = "mcp-agent"

[agent]
node_name = "rift"
address = "127.0.0.1"

[podman]
run_as = "mcp"
stop_timeout = "1s"

[log]
level = "warn"
`,
  );
  agent = execa(process.execPath, [agentBin, "server", "--config", join(dir, "mcp-agent.toml")], {
    reject: false,
    all: true,
  });
  agent.all?.on("data", (d: Buffer) => {
    agentOutput += d.toString();
  });
  agent.then((r) => {
    agentExit = Promise.resolve(r.exitCode ?? r.signal ?? "?");
  });

  // The operator's side: mcp.toml with the agent and a dead node, the CA, a token file that
  // ends in a newline.
  await mkdir(join(dir, "op", "services"), { recursive: true });
  await writeFile(
    join(dir, "op", "mcp.toml"),
    `[[nodes]]\nname = "rift"\naddress = "127.0.0.1:${port}"\n\n[[nodes]]\nname = "orion"\naddress = "127.0.0.1:1"\n\n[tls]\nca_cert = "${ca.caFile}"\n`,
  );
  await writeFile(join(dir, "op", "token"), `${token}\n`, { mode: 0o600 });

  // Wait until the agent answers (or has died).
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (agentExit) throw new Error(`mcp-agent exited (${await agentExit}): ${agentOutput}`);
    const r = await mcp(["node", "list", "--json"]);
    if (r.stdout.includes('"ok": true')) break;
    if (Date.now() > deadline)
      throw new Error(`mcp-agent did not come up: ${agentOutput}\n${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 180_000);

afterAll(async () => {
  if (agent && !agentExit) {
    agent.kill("SIGTERM");
    await agent;
  }
  await sim?.stop();
  await podman?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function mcp(args: string[], env: Record<string, string> = {}, timeout = 30_000) {
  return execa(process.execPath, [cliBin, ...args], {
    env: {
      MCP_CONFIG: join(dir, "op", "mcp.toml"),
      NO_COLOR: "1",
      PATH: process.env.PATH ?? "",
      ...env,
    },
    extendEnv: false,
    reject: false,
    timeout,
  });
}

/** Waits (at most 30 s) until no `podman run` process has `name` among its arguments. */
async function untilNoPodmanRun(name: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    let found = false;
    for (const pid of await readdir("/proc").catch(() => [] as string[])) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
      const argv = cmd.split("\0");
      if (argv[0]?.endsWith("podman") && argv.includes("run") && argv.includes(name)) {
        found = true;
      }
    }
    if (!found) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("mcp against a real mcp-agent", () => {
  it("node list shows the agent's version and the dead node as unreachable", async () => {
    const version = (
      JSON.parse(await readFile(join(dirname(agentBin), "..", "package.json"), "utf8")) as {
        version: string;
      }
    ).version;
    const r = await mcp(["node", "list"]);
    expect(r.exitCode).toBe(3);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ADDRESS\s+VERSION/);
    expect(lines[1]).toMatch(
      new RegExp(`^rift\\s+127\\.0\\.0\\.1:${port}\\s+${version.replaceAll(".", "\\.")}\\s`),
    );
    expect(lines[2]).toMatch(/^orion\s+127\.0\.0\.1:1\s+unreachable: ECONNREFUSED/);
  });

  it("ps lists what the agent reports, and still reports the dead node on its own line", async () => {
    const r = await mcp(["ps"]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(
      /^NODE\s+SERVICE\s+COMPONENT\s+STATE\s+IMAGE\/VERSION\s+PORTS\s+UPTIME\n/,
    );
    expect(r.stderr).toContain("error: node orion (127.0.0.1:1) did not answer: ECONNREFUSED");
    const j = await mcp(["ps", "--json", "--node", "rift"]);
    expect(j.exitCode).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({
      nodes: [{ node: "rift", ok: true, containers: expect.any(Array) }],
    });
  });

  it("a token the agent's MCIAS does not know exits 4 with the login hint", async () => {
    const r = await mcp(["ps", "--node", "rift"], { MCP_TOKEN: "not-a-real-token" });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/^error: node rift \(127\.0\.0\.1:\d+\) rejected the token: /);
    expect(r.stderr).toContain("hint: run `mcp login` for a fresh token");
  });

  it("deploy --dry-run sends the definition and prints the agent's plan, changing nothing", async () => {
    await writeFile(
      join(dir, "op", "services", "planned.toml"),
      'name = "planned"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "127.0.0.1:5999/planned:v1.0.0"\n\n[[components.routes]]\nname = "rest"\nport = 8443\nmode = "l4"\n',
    );
    const r = await mcp(["deploy", "planned", "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("Plan for planned on rift (dry run, nothing changed):\n");
    expect(r.stdout).toMatch(/\nSteps:\n {2}1\. /);
    const st = await mcp(["status"]);
    expect(st.stdout).not.toContain("planned");
  });

  it("status of a service nobody deployed exits 5", async () => {
    const r = await mcp(["status", "ghost"]);
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toContain('no node knows service "ghost"');
  });

  it("deploys, shows, stops, starts, restarts and undeploys a real service with real Podman", async () => {
    const h = podman as PodmanHarness;
    const service = h.name("web");
    await writeFile(
      join(dir, "op", "services", `${service}.toml`),
      `name = "${service}"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "${h.image}"\nnetwork = "slirp4netns"\n\n[[components.routes]]\nport = 8443\nmode = "l4"\n`,
    );
    const deployed = await mcp(["deploy", service, "--json"], {}, 120_000);
    expect(deployed.stderr).toBe("");
    expect(deployed.exitCode).toBe(0);
    const events = deployed.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.at(-1)).toMatchObject({ type: "result", node: "rift", service, changed: true });
    expect(events.some((e) => e.type === "step" && e.status === "done")).toBe(true);
    // One unnamed route: the agent sets $PORT, which the test image's httpd listens on.
    const hostPort = Object.values(events.at(-1)?.ports as Record<string, number>)[0] ?? 0;
    expect(hostPort).toBeGreaterThan(0);

    // The container answers on the port the agent assigned (httpd may need a moment).
    let body = "";
    for (let i = 0; i < 50 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${hostPort}/`).then(
        (r) => r.text(),
        () => new Promise<string>((r) => setTimeout(() => r(""), 100)),
      );
    }
    expect(body).toContain("mcp-test");

    const ps = await mcp(["ps", "--node", "rift"]);
    expect(ps.exitCode).toBe(0);
    expect(ps.stdout).toMatch(
      new RegExp(`rift\\s+${service}\\s+api\\s+running\\s+v1\\.0\\.0\\s+${hostPort}->`),
    );

    const status = await mcp(["status", service, "--json"]);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      service,
      desired: "running",
      drift: false,
      components: [{ name: "api", desired: "running", observed: "running" }],
    });

    // Deploying the same definition again changes nothing.
    const again = await mcp(["deploy", service]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain(`= ${service} on rift: nothing to change`);

    const stopped = await mcp(["stop", service]);
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stdout).toContain(`✔ stopped ${service}`);
    expect((await mcp(["ps", "--node", "rift"])).stdout).not.toMatch(
      new RegExp(`${service}\\s+api\\s+running`),
    );

    const started = await mcp(["start", service]);
    expect(started.exitCode).toBe(0);
    const restarted = await mcp(["restart", service, "api"]);
    expect(restarted.exitCode).toBe(0);
    expect((await mcp(["ps", "--node", "rift"])).stdout).toMatch(
      new RegExp(`${service}\\s+api\\s+running`),
    );

    const logs = await mcp(["logs", service, "--tail", "5"]);
    expect(logs.exitCode).toBe(0);

    const gone = await mcp(["undeploy", service]);
    expect(gone.exitCode).toBe(0);
    expect((await mcp(["ps", "--node", "rift"])).stdout).not.toContain(service);
  }, 240_000);

  // Last: it kills the agent.
  it("reports a deploy as broken (exit 3) when the agent dies under it", async () => {
    const h = podman as PodmanHarness;
    const service = h.name("crash");
    await writeFile(
      join(dir, "op", "services", `${service}.toml`),
      `name = "${service}"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "${h.image}"\nnetwork = "slirp4netns"\n`,
    );
    const proc = execa(process.execPath, [cliBin, "deploy", service, "--json"], {
      env: { MCP_CONFIG: join(dir, "op", "mcp.toml"), PATH: process.env.PATH ?? "" },
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });
    let killed = false;
    proc.stdout?.on("data", (d: Buffer) => {
      // The moment the store-spec step starts, the agent goes away (as in a crash or restart).
      // That step lists the node and, on a first deploy, starts the container (decision
      // 0210): the Podman calls take long enough for the kill to land mid-deploy, where the
      // container step of a first deploy only reports what store-spec started.
      if (
        !killed &&
        /"name":"store-spec","status":"started"/.test(d.toString().replaceAll(" ", ""))
      ) {
        killed = true;
        agent?.kill("SIGKILL");
      }
    });
    const r = await proc;
    expect(killed).toBe(true);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(
      /^error: the connection to node rift \(127\.0\.0\.1:\d+\) broke during the deploy of /,
    );
    expect(r.stderr).toContain("hint: the agent may have restarted; check `mcp status`");
    // The agent's `podman run` is a process of its own and outlives the SIGKILL: wait until
    // it is done, so the container it makes exists before the harness sweeps this run.
    await untilNoPodmanRun(`${service}-api`);
  }, 120_000);
});
