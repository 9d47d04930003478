import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startSshd, type TestSshd } from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Artifact,
  type ExecOptions,
  type FleetNode,
  PidfileServiceManager,
  type Ssh,
  SshNodeOps,
  type SshTarget,
  SystemSsh,
  upgradeAgents,
} from "../../src/index.ts";
import { healthVersion, selfSignedCert, writeAgentConfig } from "../helpers/agent.ts";
import { brokenArtifact, buildVersions } from "../helpers/artifacts.ts";

/** Flips one byte of every file sent over SSH: a transfer corrupted on the way. */
class CorruptingSsh implements Ssh {
  /** Where the uploads landed on the node. */
  readonly uploaded: string[] = [];
  constructor(
    readonly inner: Ssh,
    readonly scratch: string,
  ) {}
  async exec(target: SshTarget, argv: readonly string[], options: ExecOptions = {}) {
    if (options.inputFile === undefined) return this.inner.exec(target, argv, options);
    const copy = join(this.scratch, "corrupted.tar.gz");
    await copyFile(options.inputFile, copy);
    const f = await open(copy, "r+");
    const b = Buffer.alloc(1);
    await f.read(b, 0, 1, 1000);
    b[0] = (b[0] as number) ^ 0xff;
    await f.write(b, 0, 1, 1000);
    await f.close();
    const r = await this.inner.exec(target, argv, { ...options, inputFile: copy });
    this.uploaded.push(r.stdout.trim());
    return r;
  }
}

describe("mcp agent upgrade against a node reached over real SSH, running the real agent", () => {
  let sshd: TestSshd;
  let work: string;
  let artifacts: string;
  let node: FleetNode;
  let port: number;
  let ca: string;
  const ssh = new SystemSsh({ connectTimeoutSeconds: 5, timeoutMs: 60_000 });
  // systemd is not PID 1 here: the stand-in restarts the agent and keeps its pid in a file.
  const service = new PidfileServiceManager({ ssh, env: { MCP_AGENT_NODE: process.execPath } });
  const ops = new SshNodeOps({ ssh, service });
  const verify = () => healthVersion(port, ca);
  let v: Artifact[];

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), "mcp-fleet-up-"));
    artifacts = join(work, "artifacts");
    const dir = join(work, "node", "srv", "mcp");
    await mkdir(dir, { recursive: true });
    v = await buildVersions(artifacts, ["v1.0.0", "v1.1.0"]);
    await brokenArtifact(v[1] as Artifact, artifacts, "v1.2.0-broken");
    const cert = await selfSignedCert(join(dir, "certs"));
    ca = cert.certPem;
    port = await freePort();
    await writeAgentConfig({ dir, port, cert: cert.cert, key: cert.key, nodeName: "n1" });
    node = { name: "n1", arch: "amd64", ssh: sshd.target, dir };
  }, 120_000);

  afterAll(async () => {
    if (node) await service.stop(node).catch(() => {});
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const pid = async () =>
    (await readFile(join(node.dir as string, "mcp-agent.pid"), "utf8")).trim();

  it("installs the first version on a node that has none, and it answers", async () => {
    const s = await upgradeAgents({
      nodes: [node],
      artifactsDir: artifacts,
      version: "v1.0.0",
      ops,
      verify,
    });
    expect(s.results[0]).toMatchObject({
      node: "n1",
      status: "upgraded",
      to: "v1.0.0",
      rolledBack: false,
    });
    expect(s.results[0]?.from).toBeUndefined();
    expect(await verify()).toBe("v1.0.0");
    expect(await readlink(join(node.dir as string, "mcp-agent"))).toBe("current/mcp-agent");
  });

  it("upgrades to the new version: swapped, restarted, answering, previous kept", async () => {
    const before = await pid();
    const phases: string[] = [];
    const s = await upgradeAgents(
      { nodes: [node], artifactsDir: artifacts, version: "v1.1.0", ops, verify },
      (p) => {
        if (p.state === "done") phases.push(p.phase);
      },
    );
    expect(s.ok).toBe(true);
    expect(s.results[0]).toMatchObject({ status: "upgraded", from: "v1.0.0", to: "v1.1.0" });
    expect(phases).toEqual(["check", "upload", "install", "swap", "restart", "verify", "prune"]);
    expect(await verify()).toBe("v1.1.0");
    expect(await pid()).not.toBe(before);
    const dir = node.dir as string;
    expect(await readlink(join(dir, "current"))).toBe("versions/v1.1.0");
    expect(await readlink(join(dir, "previous"))).toBe("versions/v1.0.0");
    expect((await readdir(join(dir, "versions"))).sort()).toEqual(["v1.0.0", "v1.1.0"]);
  });

  it("leaves a node on the same version alone", async () => {
    const before = await pid();
    const s = await upgradeAgents({
      nodes: [node],
      artifactsDir: artifacts,
      version: "v1.1.0",
      ops,
      verify,
    });
    expect(s.results[0]?.status).toBe("unchanged");
    expect(await pid()).toBe(before);
  });

  it("rolls back an artifact that crashes on start and names the node", async () => {
    const s = await upgradeAgents({
      nodes: [node],
      artifactsDir: artifacts,
      version: "v1.2.0-broken",
      ops,
      verify,
      deadlineMs: 5_000,
    });
    const r = s.results[0];
    expect(s.ok).toBe(false);
    expect(r).toMatchObject({
      status: "failed",
      phase: "verify",
      rolledBack: true,
      rollbackVerified: true,
      from: "v1.1.0",
    });
    expect(r?.error).toMatch(
      /^n1: the new agent v1.2.0-broken did not answer with its version within 5000 ms \(.*\); rolled back to v1.1.0$/,
    );
    expect(await verify()).toBe("v1.1.0");
    expect(await readlink(join(node.dir as string, "current"))).toBe("versions/v1.1.0");
    const log = await readFile(join(node.dir as string, "mcp-agent.log"), "utf8");
    expect(log).toContain("mcp-agent: broken on purpose");
  });

  it("refuses an artifact corrupted in transit: sha256 checked on the node, nothing swapped", async () => {
    const before = await pid();
    const corrupting = new CorruptingSsh(ssh, work);
    const s = await upgradeAgents({
      nodes: [node],
      artifactsDir: artifacts,
      version: "v1.0.0",
      ops: new SshNodeOps({ ssh: corrupting, service }),
      verify,
    });
    expect(s.results[0]).toMatchObject({ status: "failed", phase: "install", rolledBack: false });
    expect(s.results[0]?.error).toMatch(
      /^n1: install failed: n1: the artifact arrived corrupted \(sha256 of the uploaded artifact is [0-9a-f]{64}, expected [0-9a-f]{64}\)/,
    );
    expect(await verify()).toBe("v1.1.0");
    expect(await pid()).toBe(before);
    expect(await readlink(join(node.dir as string, "current"))).toBe("versions/v1.1.0");
    // The upload's temp file is removed on the node either way.
    expect(corrupting.uploaded).toHaveLength(1);
    expect(corrupting.uploaded[0]).toMatch(/mcp-agent-upload\./);
    expect(existsSync(corrupting.uploaded[0] as string)).toBe(false);
  });

  it("refuses a node whose host key does not match known_hosts before touching it", async () => {
    const { writeFile } = await import("node:fs/promises");
    const kh = join(work, "wrong_known_hosts");
    const { execa } = await import("execa");
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "impostor")]);
    const key = (await readFile(join(work, "impostor.pub"), "utf8"))
      .split(" ")
      .slice(0, 2)
      .join(" ");
    await writeFile(kh, `[${sshd.host}]:${sshd.port} ${key}\n`);
    const s = await upgradeAgents({
      nodes: [{ ...node, ssh: { ...node.ssh, knownHostsFile: kh } }],
      artifactsDir: artifacts,
      version: "v1.0.0",
      ops,
      verify,
    });
    expect(s.results[0]).toMatchObject({ status: "failed", phase: "check", rolledBack: false });
    expect(s.results[0]?.error).toContain("host key not trusted");
    expect(await verify()).toBe("v1.1.0");
  });
});
