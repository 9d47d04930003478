import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "@mcp/agent";
import { startSshd, type TestSshd } from "@mcp/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FleetNode,
  PidfileServiceManager,
  type ProvisionStep,
  provisionNode,
  SshNodeOps,
  SystemSsh,
} from "../../src/index.ts";
import { buildVersions } from "../helpers/artifacts.ts";

/*
 * The node is this machine, reached over real SSH as root. Files go under a temp `root`
 * prefix; in that mode the system-wide steps (apt, useradd, subordinate ids, linger) only
 * check and report, so the test cannot change the machine it runs on. They still run the
 * real checks against it: this machine has user mcp and Podman, as a provisioned node does.
 */
describe("mcp node provision over real SSH", () => {
  let sshd: TestSshd;
  let work: string;
  let root: string;
  let node: FleetNode;
  const ssh = new SystemSsh({ connectTimeoutSeconds: 5 });
  const ops = new SshNodeOps({ ssh, service: new PidfileServiceManager({ ssh }) });
  let uid: string;

  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), "mcp-fleet-prov-"));
    root = join(work, "root");
    await buildVersions(join(work, "artifacts"), ["v2.0.0"]);
    node = { name: "svc", arch: "amd64", ssh: sshd.target };
    uid = (await execa("id", ["-u", "mcp"])).stdout.trim();
  }, 120_000);
  afterAll(async () => {
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const provision = () =>
    provisionNode({
      node,
      ssh,
      ops,
      artifactsDir: join(work, "artifacts"),
      root,
      config: {
        nodeName: "svc",
        grpcAddr: "127.0.0.1:9444",
        mciasUrl: "https://mcias.example.test:8443",
      },
    });
  const byName = (steps: ProvisionStep[]) =>
    Object.fromEntries(steps.map((s) => [s.name, s.status]));

  it("provisions: directories, containers.conf, config, unit with the uid, the agent", async () => {
    const seen: string[] = [];
    const r = await provisionNode(
      {
        node,
        ssh,
        ops,
        artifactsDir: join(work, "artifacts"),
        root,
        config: {
          nodeName: "svc",
          grpcAddr: "127.0.0.1:9444",
          mciasUrl: "https://mcias.example.test:8443",
        },
      },
      (s) => seen.push(s.name),
    );
    expect(seen).toEqual([
      "packages",
      "user",
      "subids",
      "linger",
      "dirs",
      "containers-conf",
      "config",
      "unit",
      "agent",
    ]);
    const st = byName(r.steps);
    // This machine already has what these steps install.
    expect(st.packages).toBe("unchanged");
    expect(st.user).toBe("unchanged");
    expect(st.subids).toBe("unchanged");
    expect(["unchanged", "would-change"]).toContain(st.linger);
    for (const s of ["dirs", "containers-conf", "config", "unit", "agent"])
      expect(st[s]).toBe("changed");

    const unit = await readFile(join(root, "etc/systemd/system/mcp-agent.service"), "utf8");
    expect(unit).toContain(`Environment=XDG_RUNTIME_DIR=/run/user/${uid}`);
    const cfgPath = join(root, "srv/mcp/mcp-agent.toml");
    const cfg = parseConfig(await readFile(cfgPath, "utf8"), { filename: cfgPath, env: {} });
    expect(cfg.agent.node_name).toBe("svc");
    expect((await stat(cfgPath)).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, "srv/mcp/certs"))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, "srv/mc-proxy/certs"))).uid).toBe(Number(uid));
    const conf = await readFile(join(root, "srv/mcp/.config/containers/containers.conf"), "utf8");
    expect(conf).toContain("keyring = false");
    // cgroups here are hybrid (not cgroup2fs): crun cannot work, so runc is configured.
    const cg = (await execa("stat", ["-fc", "%T", "/sys/fs/cgroup"])).stdout.trim();
    expect(conf.includes('runtime = "runc"')).toBe(cg !== "cgroup2fs");
    const v = await execa(join(root, "srv/mcp/mcp-agent"), ["--version"], {
      env: { MCP_AGENT_NODE: process.execPath },
    });
    expect(v.stdout.trim()).toBe("v2.0.0");
  });

  it("changes nothing the second time", async () => {
    const r = await provision();
    const st = byName(r.steps);
    for (const s of [
      "packages",
      "user",
      "subids",
      "dirs",
      "containers-conf",
      "config",
      "unit",
      "agent",
    ]) {
      expect([s, st[s]]).toEqual([s, "unchanged"]);
    }
  });

  it("never overwrites an edited config: the template goes to .new", async () => {
    const cfgPath = join(root, "srv/mcp/mcp-agent.toml");
    const edited = `${await readFile(cfgPath, "utf8")}\n# edited by the operator\n`;
    await writeFile(cfgPath, edited);
    const r = await provision();
    const step = r.steps.find((s) => s.name === "config");
    expect(step?.status).toBe("kept");
    expect(step?.detail).toContain("mcp-agent.toml.new");
    expect(await readFile(cfgPath, "utf8")).toBe(edited);
    expect(await readFile(`${cfgPath}.new`, "utf8")).toContain('node_name         = "svc"');
  });

  it("refuses bad input before connecting", async () => {
    await expect(
      provisionNode({
        node: { ...node, dir: "relative/dir" },
        ssh,
        ops,
        artifactsDir: join(work, "artifacts"),
        config: { nodeName: "svc", grpcAddr: "127.0.0.1:9444", mciasUrl: "https://m" },
      }),
    ).rejects.toThrow("relative/dir: expected an absolute path");
  });
});
