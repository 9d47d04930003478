import { describe, expect, it } from "vitest";
import {
  type ExecOptions,
  type FleetNode,
  isChecksumMismatchError,
  RemoteCommandError,
  type Ssh,
  SshNodeOps,
  type SshTarget,
  SystemdServiceManager,
} from "../src/index.ts";

/** Records every command; answers from a script of replies. */
class RecordingSsh implements Ssh {
  calls: { argv: readonly string[]; options: ExecOptions }[] = [];
  constructor(readonly reply: (argv: readonly string[]) => string | Error = () => "") {}
  async exec(_t: SshTarget, argv: readonly string[], options: ExecOptions = {}) {
    this.calls.push({ argv, options });
    const r = this.reply(argv);
    if (r instanceof Error) throw r;
    return { stdout: r, stderr: "" };
  }
}

const node: FleetNode = { name: "rift", arch: "amd64", ssh: { host: "rift" }, dir: "/srv/mcp" };

describe("SshNodeOps and the service managers: what runs on the node", () => {
  it("runs privileged steps through sudo -n when the node says so, uploads without it", async () => {
    const ssh = new RecordingSsh((argv) =>
      argv.includes("sh") && argv.at(-1) === "" ? "v1\n" : "/tmp/mcp-agent-upload.x\n",
    );
    const ops = new SshNodeOps({ ssh, service: new SystemdServiceManager({ ssh }) });
    const sudoNode = { ...node, sudo: true };
    const a = { path: "/a.tar.gz", version: "v2", arch: "amd64" as const, sha256: "f".repeat(64) };
    expect(await ops.upload(sudoNode, a)).toBe("/tmp/mcp-agent-upload.x");
    await ops.install(sudoNode, a, "/tmp/mcp-agent-upload.x");
    await ops.restart(sudoNode);
    const [upload, install, restart] = ssh.calls;
    expect(upload?.argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(upload?.options.inputFile).toBe("/a.tar.gz");
    expect(install?.argv.slice(0, 4)).toEqual(["sudo", "-n", "sh", "-c"]);
    expect(install?.argv.slice(-4)).toEqual([
      "/srv/mcp",
      "v2",
      "/tmp/mcp-agent-upload.x",
      "f".repeat(64),
    ]);
    expect(restart?.argv).toEqual(["sudo", "-n", "systemctl", "restart", "mcp-agent.service"]);
  });

  it("reads the current version from the symlink, and none on a fresh node", async () => {
    let link = "versions/v1.4.0\n";
    const ops = new SshNodeOps({
      ssh: new RecordingSsh(() => link),
      service: { restart: async () => {} },
    });
    expect(await ops.currentVersion(node)).toBe("v1.4.0");
    link = "\n";
    expect(await ops.currentVersion(node)).toBeUndefined();
  });

  it("turns the install script's checksum exit status into ChecksumMismatchError", async () => {
    const ssh = new RecordingSsh(
      () =>
        new RemoteCommandError(
          "rift: remote script failed with exit code 65",
          "rift",
          65,
          "sha256 … is a, expected b",
        ),
    );
    const ops = new SshNodeOps({ ssh, service: { restart: async () => {} } });
    const a = { path: "/a.tar.gz", version: "v2", arch: "amd64" as const, sha256: "f".repeat(64) };
    await expect(ops.install(node, a, "/tmp/u")).rejects.toSatisfy(isChecksumMismatchError);
  });
});
