import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Transport } from "@connectrpc/connect";
import {
  type Artifact,
  artifactFileName,
  type ExecOptions,
  type FleetNode,
  type NodeOps,
  type Ssh,
  type SshTarget,
  sha256File,
} from "@mcp/fleet";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { agentStatus, versionSkew } from "../src/commands/agent-status.ts";
import {
  agentUpgrade,
  formatElapsed,
  parseDeadline,
  progressLine,
  upgradeRows,
} from "../src/commands/agent-upgrade.ts";
import { appendNode, nodeAdd, nodeTable } from "../src/commands/node-add.ts";
import { nodeProvision } from "../src/commands/node-provision.ts";
import { type Config, type NodeConfig, parseConfig } from "../src/config.ts";
import { isCliError } from "../src/errors.ts";
import {
  artifactsDir,
  fleetNode,
  fromFleetError,
  serviceKind,
  sshTarget,
} from "../src/fleet-config.ts";
import { makeStyle } from "../src/output.ts";
import { downAgent, fakeAgent } from "./helpers/fake-agent.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

const plain = makeStyle(false);
const node = (name: string, over: Partial<NodeConfig> = {}): NodeConfig => ({
  name,
  address: `10.0.0.${name.length}:9444`,
  ...over,
});
const versionAgent = (v: string): Transport => fakeAgent({ nodeInfo: () => ({ agentVersion: v }) });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-fleet-unit-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A release artifact as findArtifact sees it: the bytes do not matter, the checksum does. */
async function fakeArtifact(version: string): Promise<void> {
  const name = artifactFileName(version, "amd64");
  await writeFile(join(dir, name), `artifact ${version}`);
  await writeFile(join(dir, `${name}.sha256`), `${await sha256File(join(dir, name))}  ${name}\n`);
}

/** Node operations that change an in-memory "current" and record every call. */
class FakeOps implements NodeOps {
  calls: string[] = [];
  current = new Map<string, string | undefined>();
  failInstall = new Set<string>();
  async currentVersion(n: FleetNode) {
    this.calls.push(`${n.name} current`);
    return this.current.get(n.name);
  }
  async upload(n: FleetNode, a: Artifact) {
    this.calls.push(`${n.name} upload ${a.version}`);
    return "/tmp/upload";
  }
  async install(n: FleetNode, a: Artifact) {
    this.calls.push(`${n.name} install ${a.version}`);
    if (this.failInstall.has(n.name)) throw new Error("sha256 mismatch on the node");
  }
  async activate(n: FleetNode, v: string) {
    this.calls.push(`${n.name} activate ${v}`);
    const before = this.current.get(n.name);
    this.current.set(n.name, v);
    return before;
  }
  async restart(n: FleetNode) {
    this.calls.push(`${n.name} restart`);
  }
  async prune(n: FleetNode) {
    this.calls.push(`${n.name} prune`);
  }
}

const noSsh: Ssh = {
  exec: async () => {
    throw new Error("test: unexpected ssh");
  },
};

describe("parseDeadline and formatElapsed", () => {
  it("reads seconds, minutes and bare numbers", () => {
    expect(parseDeadline("60s")).toBe(60_000);
    expect(parseDeadline("2m")).toBe(120_000);
    expect(parseDeadline("1m30s")).toBe(90_000);
    expect(parseDeadline("45")).toBe(45_000);
    expect(parseDeadline("0.5s")).toBe(500);
  });
  it("refuses anything else with a usage error naming the flag", () => {
    for (const bad of ["", "s", "10h", "-5s", "0s", "ten"]) {
      let err: unknown;
      try {
        parseDeadline(bad);
      } catch (e) {
        err = e;
      }
      expect(isCliError(err) && err.exitCode === 2 && err.message.startsWith("--deadline")).toBe(
        true,
      );
    }
  });
  it("formats durations for the TIME column", () => {
    expect(formatElapsed(1234)).toBe("1.2s");
    expect(formatElapsed(45_000)).toBe("45s");
    expect(formatElapsed(125_000)).toBe("2m05s");
  });
});

describe("versionSkew", () => {
  it("flags the agent that differs from the rest, and the CLI", () => {
    const s = versionSkew(
      [
        { node: "a", version: "v1.2.0" },
        { node: "b", version: "v1.2.0" },
        { node: "c", version: "v1.1.0" },
        { node: "d" },
      ],
      "1.2.0",
    );
    expect(s.fleetVersion).toBe("v1.2.0");
    expect([...s.notes]).toEqual([["c", "differs from the fleet (v1.2.0); differs from the CLI"]]);
    expect(s.warnings).toEqual([
      "version skew among agents: c runs v1.1.0; the others run v1.2.0 (mcp agent upgrade)",
      "version skew with the CLI: mcp is 1.2.0, c does not run it",
    ]);
  });
  it("says nothing when every agent runs the CLI's release (v prefix or not)", () => {
    const s = versionSkew(
      [
        { node: "a", version: "v0.3.0" },
        { node: "b", version: "0.3.0" },
      ],
      "0.3.0",
    );
    expect(s.warnings).toHaveLength(1); // "v0.3.0" and "0.3.0" are different strings among agents
    expect(versionSkew([{ node: "a", version: "v0.3.0" }], "0.3.0").warnings).toEqual([]);
  });
  it("does not compare development builds with the CLI", () => {
    expect(versionSkew([{ node: "a", version: "v1.0.0" }], "0.0.0-dev").warnings).toEqual([]);
    expect(versionSkew([{ node: "a", version: "65a3d85-dirty" }], "1.0.0").warnings).toEqual([]);
    expect(versionSkew([{ node: "a", version: "v0.9.0" }], "1.0.0").warnings).toEqual([
      "version skew with the CLI: mcp is 1.0.0, no agent runs it",
    ]);
  });
});

describe("fleet settings from mcp.toml", () => {
  const cfg = (text: string): Config =>
    parseConfig(text, { path: "/op/mcp.toml", env: {}, home: "/home/op", cwd: "/work" });

  it("maps a node and [ssh] to an SSH target; user@host in ssh wins over [ssh] user", () => {
    const c = cfg(
      '[ssh]\nuser = "deploy"\nidentity = "~/.ssh/mcp"\nknown_hosts = "kh"\nconfig = "/op/ssh_config"\nsudo = true\n\n[fleet]\nagent_dir = "/opt/mcp"\n\n[[nodes]]\nname = "rift"\naddress = "10.0.0.1:9444"\narch = "arm64"\n',
    );
    const n = fleetNode(c.nodes[0] as NodeConfig, c);
    expect(n).toEqual({
      name: "rift",
      arch: "arm64",
      sudo: true,
      dir: "/opt/mcp",
      ssh: {
        host: "rift",
        user: "deploy",
        identityFile: "/home/op/.ssh/mcp",
        knownHostsFile: "/op/kh",
        configFile: "/op/ssh_config",
      },
    });
    expect(sshTarget({ name: "x", address: "a:1", ssh: "root@10.1.1.1" }, c)).toMatchObject({
      host: "10.1.1.1",
      user: "root",
    });
  });

  it("refuses an unknown arch, a relative agent_dir and an unknown service kind", () => {
    const bad = [
      '[[nodes]]\nname = "a"\naddress = "h:1"\narch = "riscv"\n',
      '[fleet]\nagent_dir = "srv/mcp"\n[[nodes]]\nname = "a"\naddress = "h:1"\n',
    ];
    for (const t of bad) {
      const c = cfg(t);
      expect(() => fleetNode(c.nodes[0] as NodeConfig, c)).toThrow(
        /mcp\.toml: (node "a": arch|fleet\.agent_dir)/,
      );
    }
    expect(() => serviceKind(cfg('[fleet]\nservice = "systemv"\n'))).toThrow(
      'fleet.service "systemv" is not systemd or pidfile',
    );
    expect(serviceKind(cfg(""))).toBe("systemd");
  });

  it("finds artifacts: --artifacts, else [fleet] artifacts, else dist/artifacts", () => {
    const c = cfg('[fleet]\nartifacts = "rel"\n');
    expect(artifactsDir("x", c, "/work")).toBe("/work/x");
    expect(artifactsDir(undefined, c, "/work")).toBe("/op/rel");
    expect(artifactsDir(undefined, cfg(""), "/work")).toBe("/work/dist/artifacts");
  });

  it("turns fleet errors into CLI errors with their exit codes", async () => {
    const f = await import("@mcp/fleet");
    const code = (e: unknown) => (fromFleetError(e) as { exitCode?: number }).exitCode;
    expect(code(new f.FleetInputError("bad"))).toBe(2);
    expect(code(new f.ArtifactError("none"))).toBe(1);
    expect(code(new f.SshUnreachableError("x: unreachable", "x"))).toBe(3);
    expect(code(new f.SshAuthError("x: auth", "x"))).toBe(4);
    const plainError = new Error("other");
    expect(fromFleetError(plainError)).toBe(plainError);
  });
});

describe("mcp agent upgrade (fake node operations, in-memory agents)", () => {
  it("upgrades every node, renders progress and the summary table", async () => {
    await fakeArtifact("v2.0.0");
    const ops = new FakeOps();
    ops.current.set("rift", "v1.0.0");
    ops.current.set("orion", "v2.0.0");
    // The agent answers whatever `current` says, as a restarted agent would.
    const live = (name: string) =>
      fakeAgent({ nodeInfo: () => ({ agentVersion: ops.current.get(name) ?? "" }) });
    const ctx = testContext({
      config: testConfig([node("rift"), node("orion")]),
      transports: { rift: live("rift"), orion: live("orion") },
    });
    const code = await agentUpgrade(
      ctx,
      { artifacts: dir, concurrency: 2, deadline: "5s", force: false },
      undefined,
      { ssh: noSsh, ops },
    );
    expect(code).toBe(0);
    const lines = ctx.stdout.text.split("\n");
    expect(lines[0]).toMatch(/^NODE\s+ARCH\s+FROM\s+TO\s+RESULT\s+TIME$/);
    expect(lines[1]).toMatch(/^rift\s+amd64\s+v1\.0\.0\s+v2\.0\.0\s+upgraded\s+\d+\.\ds$/);
    expect(lines[2]).toMatch(/^orion\s+amd64\s+v2\.0\.0\s+v2\.0\.0\s+unchanged\s/);
    expect(ctx.stderr.text).toContain("rift   ✓ verify answers v2.0.0\n");
    expect(ops.calls).not.toContain("orion restart");
  });

  it("one node: a failed node exits 1 and is named; the other is untouched", async () => {
    await fakeArtifact("v2.0.0");
    const ops = new FakeOps();
    ops.failInstall.add("rift");
    const ctx = testContext({
      config: testConfig([node("rift"), node("orion")]),
      transports: { rift: versionAgent("v1.0.0"), orion: versionAgent("v1.0.0") },
      json: true,
    });
    const code = await agentUpgrade(
      ctx,
      { node: "rift", artifacts: dir, concurrency: 4, deadline: "60s", force: false },
      undefined,
      { ssh: noSsh, ops },
    );
    expect(code).toBe(1);
    const out = JSON.parse(ctx.stdout.text) as {
      ok: boolean;
      results: { node: string; phase: string }[];
    };
    expect(out.ok).toBe(false);
    expect(out.results).toMatchObject([
      { node: "rift", status: "failed", phase: "install", rolledBack: false },
    ]);
    expect(ops.calls.some((c) => c.startsWith("orion"))).toBe(false);
    expect(ctx.stderr.text).toContain("error: rift: install failed: sha256 mismatch on the node\n");
    expect(ctx.stderr.text).toContain("error: agent upgrade failed on rift\n");
  });

  it("refuses bad input before any node is touched", async () => {
    const ops = new FakeOps();
    const ctx = testContext({
      config: testConfig([node("rift")]),
      transports: { rift: versionAgent("v1") },
    });
    const args = { artifacts: dir, concurrency: 4, deadline: "60s", force: false };
    await expect(
      agentUpgrade(ctx, { ...args, node: "nope" }, undefined, { ssh: noSsh, ops }),
    ).rejects.toThrow('node "nope" is not in');
    await expect(
      agentUpgrade(ctx, { ...args, concurrency: 0 }, undefined, { ssh: noSsh, ops }),
    ).rejects.toThrow("--concurrency");
    await expect(agentUpgrade(ctx, args, undefined, { ssh: noSsh, ops })).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringContaining("no mcp-agent artifact for linux-amd64"),
    });
    expect(ops.calls).toEqual([]);
  });

  it("renders a rolled-back failure and progress lines", () => {
    const rows = upgradeRows(
      [
        {
          node: "rift",
          arch: "amd64",
          status: "failed",
          from: "v1",
          to: "v2",
          phase: "verify",
          rolledBack: true,
          rollbackVerified: true,
          durationMs: 61_000,
        },
      ],
      plain,
    );
    expect(rows).toEqual([
      ["rift", "amd64", "v1", "v2", "FAILED at verify (rolled back)", "1m01s"],
    ]);
    expect(progressLine({ node: "a", phase: "upload", state: "start" }, 4, plain)).toBe(
      "a     … upload\n",
    );
  });
});

describe("mcp agent status", () => {
  it("shows every version, warns about skew and exits 0; --strict exits 1", async () => {
    const ctx = testContext({
      config: testConfig([node("rift"), node("svc", { arch: "arm64" })]),
      transports: { rift: versionAgent("v1.2.0"), svc: versionAgent("v1.1.0") },
    });
    expect(await agentStatus(ctx, { strict: false }, undefined, "0.0.0-dev")).toBe(0);
    const lines = ctx.stdout.text.split("\n");
    expect(lines[0]).toMatch(/^NODE\s+ARCH\s+VERSION\s+SKEW$/);
    expect(lines[1]).toMatch(/^rift\s+amd64\s+v1\.2\.0\s+-$/);
    expect(lines[2]).toMatch(/^svc\s+arm64\s+v1\.1\.0\s+differs from the fleet \(v1\.2\.0\)$/);
    expect(ctx.stderr.text).toBe(
      "warning: version skew among agents: svc runs v1.1.0; the others run v1.2.0 (mcp agent upgrade)\n",
    );
    expect(await agentStatus(ctx, { strict: true }, undefined, "0.0.0-dev")).toBe(1);
  });

  it("an unreachable agent says so and gives exit 3, through the command line", async () => {
    const ctx = testContext({
      config: testConfig([node("rift"), node("orion")]),
      transports: { rift: versionAgent("v1.2.0"), orion: downAgent() },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["agent", "status", "--json"], io, { context })).toBe(3);
    expect(JSON.parse(ctx.stdout.text)).toMatchObject({
      skew: false,
      nodes: [
        { name: "rift", ok: true, version: "v1.2.0" },
        { name: "orion", ok: false, version: null, error: { exitCode: 3 } },
      ],
    });
  });
});

describe("mcp node add", () => {
  it("appends a table after the file's last byte, whatever the ending", () => {
    const t = nodeTable({ name: "n", address: "h:1", ssh: "n", arch: "amd64" }, "edge");
    expect(t).toBe(
      '[[nodes]]\nname = "n"\naddress = "h:1"\nssh = "n"\narch = "amd64"\nrole = "edge"\n',
    );
    expect(appendNode("", t)).toBe(t);
    expect(appendNode("# c", t)).toBe(`# c\n\n${t}`);
    expect(appendNode("# c\n", t)).toBe(`# c\n\n${t}`);
    expect(appendNode("# c\n\n", t)).toBe(`# c\n\n${t}`);
  });

  async function addCtx(text: string, transports: Record<string, Transport> = {}) {
    const path = join(dir, "mcp.toml");
    await writeFile(path, text);
    const config = parseConfig(text, { path, env: {}, home: dir, cwd: dir });
    return { path, ctx: testContext({ config, transports }) };
  }

  it("writes the entry, keeps comments, and reports the agent's version", async () => {
    const text = '# fleet\n[[nodes]]\nname = "rift"  # main\naddress = "10.0.0.1:9444"\n';
    const { path, ctx } = await addCtx(text, { svc: versionAgent("v1.3.0") });
    const code = await nodeAdd(ctx, {
      name: "svc",
      address: "10.0.0.2:9444",
      arch: "arm64",
      role: "edge",
    });
    expect(code).toBe(0);
    expect(await readFile(path, "utf8")).toBe(
      `${text}\n[[nodes]]\nname = "svc"\naddress = "10.0.0.2:9444"\nssh = "svc"\narch = "arm64"\nrole = "edge"\n`,
    );
    expect(ctx.stdout.text).toContain("svc: agent v1.3.0 answers\n");
  });

  it("refuses a duplicate, a bad address and a bad role, changing nothing", async () => {
    const text = '[[nodes]]\nname = "rift"\naddress = "10.0.0.1:9444"\n';
    const { path, ctx } = await addCtx(text);
    await expect(nodeAdd(ctx, { name: "rift", address: "10.0.0.9:9444" })).rejects.toMatchObject({
      exitCode: 2,
      message: "node rift is already in mcp.toml",
    });
    await expect(nodeAdd(ctx, { name: "svc", address: "10.0.0.9" })).rejects.toThrow(
      /^node svc: address "10\.0\.0\.9": expected host:port/,
    );
    await expect(nodeAdd(ctx, { name: "svc", address: "h:1", role: "db" })).rejects.toThrow(
      'role "db": expected compute or edge',
    );
    expect(await readFile(path, "utf8")).toBe(text);
  });

  it("an agent that does not answer is reported, not an error", async () => {
    const { ctx } = await addCtx("", { svc: downAgent() });
    expect(await nodeAdd(ctx, { name: "svc", address: "10.0.0.2:9444" })).toBe(0);
    expect(ctx.stdout.text).toContain(
      "svc: agent not reachable yet: node svc (10.0.0.2:9444) did not answer",
    );
  });
});

describe("mcp node provision (fake SSH)", () => {
  const STEPS = [
    "packages",
    "user",
    "subids",
    "linger",
    "dirs",
    "containers-conf",
    "config",
    "unit",
  ];
  class ScriptSsh implements Ssh {
    targets: SshTarget[] = [];
    constructor(readonly status: string) {}
    async exec(target: SshTarget, _argv: readonly string[], _o?: ExecOptions) {
      this.targets.push(target);
      return { stdout: STEPS.map((s) => `step ${s} ${this.status} ok`).join("\n"), stderr: "" };
    }
  }
  const config = () =>
    testConfig([node("svc", { role: "edge" })], { mcias: { serverUrl: "https://mcias:8443" } });

  it("prints one line per step; a second run is all unchanged", async () => {
    await fakeArtifact("v2.0.0");
    const ops = new FakeOps();
    const ssh = new ScriptSsh("changed");
    const ctx = testContext({ config: config(), transports: {} });
    const args = { name: "svc", acceptNewHostKey: true, dryRun: false, artifacts: dir };
    expect(await nodeProvision(ctx, args, undefined, { ssh, ops })).toBe(0);
    const lines = ctx.stdout.text.trimEnd().split("\n");
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatch(/^packages\s+changed\s+ok$/);
    expect(lines[8]).toMatch(
      /^agent\s+changed\s+mcp-agent v2\.0\.0 installed at \/srv\/mcp\/mcp-agent$/,
    );
    expect(lines[9]).toBe("svc: provisioned; start the agent once its TLS certificate is in place");
    expect(ssh.targets[0]).toMatchObject({ host: "svc", acceptNewHostKey: true });

    const again = testContext({ config: config(), transports: {} });
    const r2 = await nodeProvision(again, args, undefined, {
      ssh: new ScriptSsh("unchanged"),
      ops,
    });
    expect(r2).toBe(0);
    expect(again.stdout.text).toMatch(/^agent\s+unchanged\s+mcp-agent v2\.0\.0$/m);
    expect(again.stdout.text).toContain("svc: already provisioned, nothing changed\n");
  });

  it("--dry-run connects without accepting a new key, prints the steps, changes nothing", async () => {
    await fakeArtifact("v2.0.0");
    const ops = new FakeOps();
    const ssh = new ScriptSsh("changed");
    const ctx = testContext({ config: config(), transports: {} });
    const args = { name: "svc", acceptNewHostKey: true, dryRun: true, artifacts: dir };
    expect(await nodeProvision(ctx, args, undefined, { ssh, ops })).toBe(0);
    expect(ctx.stdout.text).toContain("svc: dry run, nothing changed. svc is reachable over SSH\n");
    expect(ctx.stdout.text).toMatch(/^ {2}unit\s+\/etc\/systemd\/system\/mcp-agent\.service/m);
    expect(ssh.targets).toEqual([{ host: "svc" }]);
    expect(ops.calls).toEqual([]);
  });

  it("needs [mcias] server_url for the agent's config", async () => {
    const ctx = testContext({ config: testConfig([node("svc")]), transports: {} });
    await expect(
      nodeProvision(ctx, { name: "svc", acceptNewHostKey: false, dryRun: false }, undefined, {
        ssh: noSsh,
        ops: new FakeOps(),
      }),
    ).rejects.toThrow("[mcias] server_url is not set");
  });
});
