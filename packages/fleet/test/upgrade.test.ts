import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type Artifact,
  agentStatus,
  ChecksumMismatchError,
  checkNodes,
  type FleetNode,
  isArtifactError,
  isChecksumMismatchError,
  isFleetInputError,
  type NodeOps,
  selectNodes,
  type UpgradeProgress,
  upgradeAgents,
  upgradeNode,
  waitForVersion,
} from "../src/index.ts";

/** One simulated node: installed versions, the `current` link, the running process. */
interface FakeNodeState {
  current?: string;
  versions: Set<string>;
  running?: string;
  /** Versions whose agent crashes on start. */
  broken: Set<string>;
  corruptUpload?: boolean;
  restartFails?: boolean;
  calls: string[];
}

class FakeOps implements NodeOps {
  nodes = new Map<string, FakeNodeState>();
  inFlight = 0;
  maxInFlight = 0;
  state(n: FleetNode): FakeNodeState {
    let s = this.nodes.get(n.name);
    if (!s) {
      s = { versions: new Set(), broken: new Set(), calls: [] };
      this.nodes.set(n.name, s);
    }
    return s;
  }
  async currentVersion(n: FleetNode) {
    this.state(n).calls.push("current");
    return this.state(n).current;
  }
  async upload(n: FleetNode, a: Artifact) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 20));
    this.inFlight--;
    this.state(n).calls.push(`upload ${a.version}`);
    return `/tmp/upload-${a.version}`;
  }
  async install(n: FleetNode, a: Artifact) {
    const s = this.state(n);
    s.calls.push(`install ${a.version}`);
    if (s.corruptUpload)
      throw new ChecksumMismatchError(`${n.name}: the artifact arrived corrupted`, n.name);
    s.versions.add(a.version);
  }
  async activate(n: FleetNode, v: string, mode?: "rollback") {
    const s = this.state(n);
    s.calls.push(`activate ${v}${mode ? ` ${mode}` : ""}`);
    const prev = s.current;
    s.current = v;
    return prev;
  }
  async restart(n: FleetNode) {
    const s = this.state(n);
    s.calls.push("restart");
    if (s.restartFails) throw new Error("systemctl: unit failed");
    s.running = s.current && !s.broken.has(s.current) ? s.current : undefined;
  }
  async prune(n: FleetNode) {
    this.state(n).calls.push("prune");
  }
  verify = async (n: FleetNode) => {
    const r = this.state(n).running;
    if (!r) throw new Error("connect ECONNREFUSED");
    return r;
  };
}

const node = (name: string, arch: "amd64" | "arm64" = "amd64"): FleetNode => ({
  name,
  arch,
  ssh: { host: name },
});
const art = (version: string, arch: "amd64" | "arm64" = "amd64"): Artifact => ({
  path: `/a/mcp-agent-${version}-linux-${arch}.tar.gz`,
  version,
  arch,
  sha256: "0".repeat(64),
});

describe("upgradeNode", () => {
  it("uploads, installs, swaps, restarts and sees the new version answer", async () => {
    const ops = new FakeOps();
    const n = node("rift");
    Object.assign(ops.state(n), { current: "v1", running: "v1", versions: new Set(["v1"]) });
    const progress: UpgradeProgress[] = [];
    const r = await upgradeNode(n, art("v2"), { ops, verify: ops.verify, pollMs: 5 }, (p) =>
      progress.push(p),
    );
    expect(r).toMatchObject({
      node: "rift",
      status: "upgraded",
      from: "v1",
      to: "v2",
      rolledBack: false,
    });
    expect(ops.state(n).calls).toEqual([
      "current",
      "upload v2",
      "install v2",
      "activate v2",
      "restart",
      "prune",
    ]);
    expect(progress.filter((p) => p.state === "done").map((p) => p.phase)).toEqual([
      "check",
      "upload",
      "install",
      "swap",
      "restart",
      "verify",
      "prune",
    ]);
  });

  it("leaves a node already on the version alone", async () => {
    const ops = new FakeOps();
    const n = node("rift");
    Object.assign(ops.state(n), { current: "v2", running: "v2" });
    const r = await upgradeNode(n, art("v2"), { ops, verify: ops.verify });
    expect(r.status).toBe("unchanged");
    expect(ops.state(n).calls).toEqual(["current"]);
  });

  it("puts the previous version back when the new agent never answers, and names the node", async () => {
    const ops = new FakeOps();
    const n = node("rift");
    Object.assign(ops.state(n), { current: "v1", running: "v1", broken: new Set(["v2"]) });
    const r = await upgradeNode(n, art("v2"), {
      ops,
      verify: ops.verify,
      deadlineMs: 150,
      pollMs: 10,
    });
    expect(r).toMatchObject({
      status: "failed",
      phase: "verify",
      rolledBack: true,
      rollbackVerified: true,
      from: "v1",
    });
    expect(r.error).toMatch(
      /^rift: the new agent v2 did not answer .*ECONNREFUSED.*rolled back to v1$/,
    );
    expect(ops.state(n).calls.slice(-3)).toEqual(["restart", "activate v1 rollback", "restart"]);
    expect(ops.state(n).running).toBe("v1");
  });

  it("rolls back when the restart itself fails", async () => {
    const ops = new FakeOps();
    const n = node("rift");
    Object.assign(ops.state(n), { current: "v1", running: "v1" });
    let restarts = 0;
    const restart = ops.restart.bind(ops);
    ops.restart = async (x: FleetNode) => {
      if (restarts++ === 0) throw new Error("systemctl: unit failed");
      return restart(x);
    };
    const r = await upgradeNode(n, art("v2"), {
      ops,
      verify: ops.verify,
      deadlineMs: 100,
      pollMs: 5,
    });
    expect(r).toMatchObject({
      status: "failed",
      phase: "restart",
      rolledBack: true,
      rollbackVerified: true,
    });
    expect(r.error).toContain("rift: restart failed: systemctl: unit failed");
  });

  it("changes nothing live when the upload arrives corrupted", async () => {
    const ops = new FakeOps();
    const n = node("rift");
    Object.assign(ops.state(n), { current: "v1", running: "v1", corruptUpload: true });
    const r = await upgradeNode(n, art("v2"), { ops, verify: ops.verify });
    expect(r).toMatchObject({ status: "failed", phase: "install", rolledBack: false });
    expect(r.error).toContain("corrupted");
    expect(ops.state(n).calls).not.toContain("activate v2");
    expect(ops.state(n).current).toBe("v1");
  });

  it("says there is nothing to restore on a first install that fails", async () => {
    const ops = new FakeOps();
    const n = node("fresh");
    ops.state(n).broken.add("v1");
    const r = await upgradeNode(n, art("v1"), {
      ops,
      verify: ops.verify,
      deadlineMs: 50,
      pollMs: 5,
    });
    expect(r).toMatchObject({ status: "failed", rolledBack: false });
    expect(r.error).toMatch(/no previous version to restore$/);
  });
});

describe("upgradeAgents", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "mcp-fleet-unit-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function publish(version: string, arch: "amd64" | "arm64") {
    const name = `mcp-agent-${version}-linux-${arch}.tar.gz`;
    await writeFile(join(dir, name), `tarball ${arch}`);
    const { createHash } = await import("node:crypto");
    const sum = createHash("sha256").update(`tarball ${arch}`).digest("hex");
    await writeFile(join(dir, `${name}.sha256`), `${sum}  ${name}\n`);
  }

  it("upgrades every node with its arch's artifact, at most `concurrency` at once", async () => {
    await publish("v2", "amd64");
    await publish("v2", "arm64");
    const ops = new FakeOps();
    const nodes = [node("a"), node("b", "arm64"), node("c"), node("d"), node("e", "arm64")];
    const s = await upgradeAgents({
      nodes,
      artifactsDir: dir,
      ops,
      verify: ops.verify,
      concurrency: 2,
      pollMs: 5,
    });
    expect(s.ok).toBe(true);
    expect(s.results.map((r) => [r.node, r.status, r.arch])).toEqual([
      ["a", "upgraded", "amd64"],
      ["b", "upgraded", "arm64"],
      ["c", "upgraded", "amd64"],
      ["d", "upgraded", "amd64"],
      ["e", "upgraded", "arm64"],
    ]);
    expect(ops.maxInFlight).toBe(2);
  });

  it("reports one node's failure without stopping the others", async () => {
    await publish("v2", "amd64");
    const ops = new FakeOps();
    ops.state(node("b")).broken.add("v2");
    Object.assign(ops.state(node("b")), { current: "v1", running: "v1" });
    const s = await upgradeAgents({
      nodes: [node("a"), node("b")],
      artifactsDir: dir,
      ops,
      verify: ops.verify,
      deadlineMs: 100,
      pollMs: 5,
    });
    expect(s.ok).toBe(false);
    expect(s.results.map((r) => r.status)).toEqual(["upgraded", "failed"]);
  });

  it("refuses before touching any node: missing artifact, tampered artifact, bad node list", async () => {
    const ops = new FakeOps();
    const run = (nodes: FleetNode[]) =>
      upgradeAgents({ nodes, artifactsDir: dir, ops, verify: ops.verify });
    await expect(run([node("a")])).rejects.toSatisfy(isArtifactError);
    await publish("v2", "amd64");
    await writeFile(join(dir, "mcp-agent-v2-linux-amd64.tar.gz"), "tampered");
    await expect(run([node("a")])).rejects.toSatisfy(isChecksumMismatchError);
    await expect(run([node("a"), node("a")])).rejects.toThrow("node a is listed twice");
    await expect(run([])).rejects.toSatisfy(isFleetInputError);
    expect(ops.nodes.size).toBe(0);
  });

  it("asks for a version when several are published", async () => {
    await publish("v2", "amd64");
    await publish("v3", "amd64");
    const ops = new FakeOps();
    await expect(
      upgradeAgents({ nodes: [node("a")], artifactsDir: dir, ops, verify: ops.verify }),
    ).rejects.toThrow(/several mcp-agent versions .*v2, v3|v3, v2/);
    const s = await upgradeAgents({
      nodes: [node("a")],
      artifactsDir: dir,
      ops,
      verify: ops.verify,
      version: "v3",
      pollMs: 5,
    });
    expect(s.results[0]?.to).toBe("v3");
  });
});

describe("node selection and status", () => {
  const all = [node("rift"), node("hyperborea", "arm64")];
  it("selects named nodes or all, and names an unknown one", () => {
    expect(selectNodes(all, []).map((n) => n.name)).toEqual(["rift", "hyperborea"]);
    expect(selectNodes(all, ["hyperborea"]).map((n) => n.name)).toEqual(["hyperborea"]);
    expect(() => selectNodes(all, ["orion"])).toThrow(
      "node orion is not in mcp.toml (known: rift, hyperborea)",
    );
    expect(() => checkNodes([{ ...node("x"), arch: "riscv" as "amd64" }])).toThrow(
      'node x: arch "riscv"',
    );
  });

  it("reports each node's version or why it did not answer", async () => {
    const rows = await agentStatus({
      nodes: all,
      verify: async (n) => {
        if (n.name === "rift") return "v2";
        throw new Error("connect ECONNREFUSED 100.1.1.1:9444");
      },
    });
    expect(rows).toEqual([
      { node: "rift", arch: "amd64", version: "v2" },
      { node: "hyperborea", arch: "arm64", error: "connect ECONNREFUSED 100.1.1.1:9444" },
    ]);
  });

  it("waitForVersion stops at the deadline with the last answer", async () => {
    const r = await waitForVersion(async () => "v1", "v2", 60, 10);
    expect(r).toEqual({ ok: false, last: "answers version v1" });
  });
});
