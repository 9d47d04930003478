import { existsSync } from "node:fs";
import { mkdtemp, open, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BuiltArtifact,
  buildAgentArtifact,
  findArtifact,
  stampVersion,
} from "../src/index.ts";
import { AGENT_DIR } from "./helpers/artifacts.ts";

async function elfMachine(path: string): Promise<number> {
  const f = await open(path, "r");
  try {
    const b = Buffer.alloc(20);
    await f.read(b, 0, 20, 0);
    expect(b.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    return b.readUInt16LE(18);
  } finally {
    await f.close();
  }
}

describe("the mcp-agent release artifact", () => {
  let out: string;
  let run: string;
  let amd64: BuiltArtifact;
  let arm64: BuiltArtifact;
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), "mcp-fleet-art-"));
    run = await mkdtemp(join(tmpdir(), "mcp-fleet-run-"));
    amd64 = await buildAgentArtifact({
      agentDir: AGENT_DIR,
      arch: "amd64",
      version: "v9.8.7-test",
      outDir: out,
    });
    arm64 = await buildAgentArtifact({
      agentDir: AGENT_DIR,
      arch: "arm64",
      version: "v9.8.7-test",
      outDir: out,
    });
    await execa("tar", ["-xzf", amd64.path, "-C", run]);
  }, 120_000);
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
    await rm(run, { recursive: true, force: true });
  });

  it("is named by version and arch, with a sha256 file that findArtifact reads", async () => {
    expect(amd64.path).toBe(join(out, "mcp-agent-v9.8.7-test-linux-amd64.tar.gz"));
    expect(await findArtifact(out, "arm64")).toEqual({
      path: arm64.path,
      version: "v9.8.7-test",
      arch: "arm64",
      sha256: arm64.sha256,
    });
    // The build machine is amd64: the self-test ran there with this Node.
    expect(amd64.selftest).toMatchObject({
      version: "v9.8.7-test",
      node: process.version,
      arch: "x64",
    });
    expect(arm64.selftest).toBeUndefined();
  });

  it("runs from a directory with no node_modules anywhere above it, on Node 24, loading SQLite", async () => {
    for (let d = run; d !== "/"; d = dirname(d))
      expect(existsSync(join(d, "node_modules"))).toBe(false);
    const env = { PATH: "/usr/bin:/bin", MCP_AGENT_NODE: process.execPath };
    const st = await execa(join(run, "mcp-agent"), ["artifact-selftest"], {
      env,
      cwd: "/",
      extendEnv: false,
    });
    const self = JSON.parse(st.stdout) as { version: string; node: string; sqlite: string };
    expect(self.version).toBe("v9.8.7-test");
    expect(self.node).toBe(process.version);
    expect(self.sqlite).toMatch(/^3\.\d+\.\d+$/);
    const v = await execa(join(run, "mcp-agent"), ["--version"], {
      env,
      cwd: "/",
      extendEnv: false,
    });
    expect(v.stdout.trim()).toBe("v9.8.7-test");
    const help = await execa(join(run, "mcp-agent"), ["--help"], {
      env,
      cwd: "/",
      extendEnv: false,
    });
    expect(help.stdout).toContain("mcp-agent server");
  });

  it("works through the /srv/mcp/mcp-agent → current/mcp-agent symlinks", async () => {
    const link = join(out, "linked-agent");
    await symlink(join(run, "mcp-agent"), link);
    const v = await execa(link, ["--version"], { env: { MCP_AGENT_NODE: process.execPath } });
    expect(v.stdout.trim()).toBe("v9.8.7-test");
  });

  it("carries the prebuilt binding for its own arch only (glibc and musl)", async () => {
    const list = async (a: BuiltArtifact) =>
      (await execa("tar", ["-tzf", a.path])).stdout
        .split("\n")
        .filter((l) => l.includes("prebuilds/") && l.endsWith(".node"));
    expect((await list(amd64)).sort()).toEqual([
      "./lib/node_modules/better-sqlite3/prebuilds/linux-x64.node",
      "./lib/node_modules/better-sqlite3/prebuilds/linuxmusl-x64.node",
    ]);
    expect((await list(arm64)).sort()).toEqual([
      "./lib/node_modules/better-sqlite3/prebuilds/linux-arm64.node",
      "./lib/node_modules/better-sqlite3/prebuilds/linuxmusl-arm64.node",
    ]);
    const armRun = await mkdtemp(join(tmpdir(), "mcp-fleet-arm-"));
    try {
      await execa("tar", ["-xzf", arm64.path, "-C", armRun]);
      const EM_AARCH64 = 183;
      const EM_X86_64 = 62;
      expect(
        await elfMachine(
          join(armRun, "lib/node_modules/better-sqlite3/prebuilds/linux-arm64.node"),
        ),
      ).toBe(EM_AARCH64);
      expect(
        await elfMachine(join(run, "lib/node_modules/better-sqlite3/prebuilds/linux-x64.node")),
      ).toBe(EM_X86_64);
    } finally {
      await rm(armRun, { recursive: true, force: true });
    }
  });

  it("tells an operator with an old Node what is wrong", async () => {
    // The machine's own Node 20 stands in for a node with an outdated Node.js.
    const old = "/usr/bin/node";
    const v = await execa(old, ["--version"], { reject: false });
    expect(v.stdout).toMatch(/^v(1\d|2[01])\./);
    const r = await execa(join(run, "mcp-agent"), ["--version"], {
      env: { MCP_AGENT_NODE: old },
      reject: false,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/mcp-agent: needs Node.js 22 or newer; \/usr\/bin\/node is v\d+/);
  });

  it("gives the same bytes for the same inputs", async () => {
    const again = await buildAgentArtifact({
      agentDir: AGENT_DIR,
      arch: "arm64",
      version: "v9.8.7-test",
      outDir: join(out, "again"),
    });
    expect(again.sha256).toBe(arm64.sha256);
  });
});

describe("stampVersion", () => {
  const bundle =
    '// package.json\nvar package_default = {\n  name: "@mcp/agent",\n  version: "0.1.0",\n};\n';
  it("writes the release version into the inlined package.json", () => {
    expect(stampVersion(bundle, "v1.2.3-4-gabc")).toContain('version: "v1.2.3-4-gabc"');
  });
  it("fails loudly when the bundle layout is not the one it knows", () => {
    expect(() => stampVersion("var x = 1;", "v1")).toThrow(
      /found the inlined @mcp\/agent package.json 0 times/,
    );
    expect(() => stampVersion(bundle, "../../etc")).toThrow(/not usable as a directory name/);
  });
});
