// `mcp node add`, `mcp agent upgrade` and `mcp agent status` as the bundled binary in a
// subprocess, against a node reached over a real OpenSSH server on loopback that runs the real
// agent from real release artifacts (restarted by the pidfile service manager: systemd is not
// PID 1 here), answering NodeInfo over real TLS with tokens checked by the sim's MCIAS.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { artifactFileName, buildAgentArtifact, sha256File } from "@mcp/fleet";
import {
  ensureLocalCa,
  issueServerCert,
  MciasStore,
  type SimInstance,
  silentLogger,
  startSim,
} from "@mcp/sim";
import { freePort, startSshd, type TestSshd } from "@mcp/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cliBin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const agentDir = dirname(createRequire(import.meta.url).resolve("@mcp/agent/package.json"));

let sshd: TestSshd | undefined;
let sim: SimInstance | undefined;
let work: string;
let nodeDir: string;
let config: string;
let port: number;

/** The real artifact with its entry replaced by one that exits at once: a release that crashes. */
async function brokenArtifact(from: string, outDir: string, version: string): Promise<void> {
  const stage = await mkdtemp(join(tmpdir(), "mcp-cli-broken-"));
  try {
    await execa("tar", ["-xzf", from, "-C", stage]);
    await writeFile(
      join(stage, "lib", "entry.mjs"),
      'process.stderr.write("mcp-agent: broken on purpose\\n");\nprocess.exit(1);\n',
    );
    const name = artifactFileName(version, "amd64");
    await execa("tar", ["-C", stage, "-czf", join(outDir, name), "."]);
    await writeFile(
      join(outDir, `${name}.sha256`),
      `${await sha256File(join(outDir, name))}  ${name}\n`,
    );
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

function mcp(args: string[], timeout = 90_000) {
  return execa(process.execPath, [cliBin, ...args], {
    env: { MCP_CONFIG: config, NO_COLOR: "1", PATH: process.env.PATH ?? "" },
    extendEnv: false,
    reject: false,
    timeout,
  });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "mcp-cli-fleet-"));
  sshd = await startSshd();
  const artifacts = join(work, "artifacts");
  await mkdir(artifacts, { recursive: true });
  for (const version of ["v1.0.0", "v1.1.0"]) {
    await buildAgentArtifact({
      agentDir,
      arch: "amd64",
      version,
      outDir: artifacts,
      smokeTestNode: false,
    });
  }
  await brokenArtifact(
    join(artifacts, artifactFileName("v1.1.0", "amd64")),
    artifacts,
    "v1.2.0-broken",
  );

  const simDir = join(work, "sim");
  sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
  const ca = await ensureLocalCa(simDir);
  const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  const token = (await new MciasStore(join(simDir, "mcias")).issueToken("admin", 3_600_000)).token;

  // The node: an agent home with its certificate and config, as provisioning leaves it.
  nodeDir = join(work, "node", "srv", "mcp");
  await mkdir(join(nodeDir, "certs"), { recursive: true });
  await writeFile(join(nodeDir, "certs", "agent.pem"), leaf.cert, { mode: 0o600 });
  await writeFile(join(nodeDir, "certs", "agent.key"), leaf.key, { mode: 0o600 });
  port = await freePort();
  await writeFile(
    join(nodeDir, "mcp-agent.toml"),
    `[server]
grpc_addr = "127.0.0.1:${port}"
tls_cert = "${join(nodeDir, "certs", "agent.pem")}"
tls_key = "${join(nodeDir, "certs", "agent.key")}"

[database]
path = "${join(nodeDir, "mcp.db")}"

[mcias]
server_url = "${sim.endpoints.mcias?.url}"
ca_cert = "${sim.endpoints.mcias?.caFile}"
service_name = "mcp-agent"

[agent]
node_name = "n1"
address = "127.0.0.1"

[podman]
run_as = "mcp"
stop_timeout = "1s"

[log]
level = "warn"
`,
  );

  // The operator: an ssh config naming the node, mcp.toml with comments that must survive.
  const op = join(work, "op");
  await mkdir(op, { recursive: true });
  await writeFile(
    join(op, "ssh_config"),
    `Host n1\n  HostName ${sshd.host}\n  Port ${sshd.port}\n`,
  );
  config = join(op, "mcp.toml");
  await writeFile(
    config,
    `# The operator's fleet. This comment must survive \`mcp node add\`.
[tls]
ca_cert = "${ca.caFile}"   # the CA that signed the agents

[ssh]
config = "${join(op, "ssh_config")}"
known_hosts = "${sshd.target.knownHostsFile}"
identity = "${sshd.target.identityFile}"
user = "root"

[fleet]
service = "pidfile"
agent_dir = "${nodeDir}"
agent_node = "${process.execPath}"
artifacts = "${artifacts}"
`,
  );
  await writeFile(join(op, "token"), `${token}\n`, { mode: 0o600 });
}, 240_000);

afterAll(async () => {
  try {
    const pid = Number((await readFile(join(nodeDir, "mcp-agent.pid"), "utf8")).trim());
    if (pid > 0) process.kill(pid, "SIGTERM");
  } catch {
    // No agent was started.
  }
  await sshd?.stop();
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("mcp node add, agent upgrade and agent status against a node over real SSH", () => {
  it("node add appends the node, keeps the rest of mcp.toml, and reports the agent unreachable", async () => {
    const before = await readFile(config, "utf8");
    const r = await mcp(["node", "add", "n1", `127.0.0.1:${port}`, "--role", "compute"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`added node n1 (127.0.0.1:${port}, ssh n1, amd64) to ${config}`);
    expect(r.stdout).toMatch(/n1: agent not reachable yet: .*ECONNREFUSED/);
    const after = await readFile(config, "utf8");
    expect(after.startsWith(before)).toBe(true);
    expect(after.slice(before.length)).toBe(
      `\n[[nodes]]\nname = "n1"\naddress = "127.0.0.1:${port}"\nssh = "n1"\narch = "amd64"\nrole = "compute"\n`,
    );

    const dup = await mcp(["node", "add", "n1", "127.0.0.1:9"]);
    expect(dup.exitCode).toBe(2);
    expect(dup.stderr).toBe("error: node n1 is already in mcp.toml");
    expect(await readFile(config, "utf8")).toBe(after);
  }, 120_000);

  it("agent upgrade installs the first release over SSH and it answers NodeInfo", async () => {
    const t0 = Date.now();
    const r = await mcp(["agent", "upgrade", "--release", "v1.0.0"]);
    expect(r.exitCode, r.stderr).toBe(0);
    // The process ends when the work does, not when the 60 s verify deadline would have run out.
    expect(Date.now() - t0).toBeLessThan(40_000);
    expect(r.stdout).toMatch(/^NODE\s+ARCH\s+FROM\s+TO\s+RESULT\s+TIME\n/);
    expect(r.stdout).toMatch(/\nn1\s+amd64\s+-\s+v1\.0\.0\s+upgraded\s+\d/);
    // Progress for people goes to stderr, one line per phase.
    for (const phase of ["check", "upload", "install", "swap", "restart", "verify"]) {
      expect(r.stderr).toMatch(new RegExp(`^n1  ✓ ${phase}`, "m"));
    }
  }, 120_000);

  it("agent upgrade n1 moves it to the new release; agent status shows it", async () => {
    const r = await mcp(["agent", "upgrade", "n1", "--release", "v1.1.0", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      results: [
        { node: "n1", status: "upgraded", from: "v1.0.0", to: "v1.1.0", rolledBack: false },
      ],
    });
    const s = await mcp(["agent", "status"]);
    expect(s.exitCode, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^NODE\s+ARCH\s+VERSION\s+SKEW\n/);
    expect(s.stdout).toMatch(/\nn1\s+amd64\s+v1\.1\.0\s/);
    // The CLI is 0.1.0 and the agent v1.1.0: skew with the CLI is a warning, not a failure…
    expect(s.stderr).toMatch(/^warning: version skew with the CLI: mcp is \d/m);
    // …unless --strict.
    expect((await mcp(["agent", "status", "--strict"])).exitCode).toBe(1);
    const l = await mcp(["node", "list"]);
    expect(l.stdout).toMatch(new RegExp(`\\nn1\\s+127\\.0\\.0\\.1:${port}\\s+v1\\.1\\.0\\s`));
  }, 120_000);

  it("a release that crashes on start is rolled back and the command fails naming the node", async () => {
    const r = await mcp(["agent", "upgrade", "--release", "v1.2.0-broken", "--deadline", "5s"]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /\nn1\s+amd64\s+v1\.1\.0\s+v1\.2\.0-broken\s+FAILED at verify \(rolled back\)/,
    );
    expect(r.stderr).toMatch(
      /^error: n1: the new agent v1\.2\.0-broken did not answer with its version within 5000 ms .*; rolled back to v1\.1\.0$/m,
    );
    expect(r.stderr).toMatch(/^error: agent upgrade failed on n1$/m);
    const s = await mcp(["agent", "status", "--json"]);
    expect(JSON.parse(s.stdout)).toMatchObject({
      nodes: [{ name: "n1", ok: true, version: "v1.1.0" }],
    });
  }, 120_000);
});
