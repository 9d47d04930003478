import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, startSshd, type TestSshd } from "@mcp/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isRemoteCommandError,
  isSshAuthError,
  isSshHostKeyError,
  isSshTimeoutError,
  isSshUnreachableError,
  type RemoteCommandError,
  SystemSsh,
} from "../../src/index.ts";

describe("SystemSsh against a real OpenSSH server", () => {
  let sshd: TestSshd;
  const ssh = new SystemSsh({ connectTimeoutSeconds: 3, timeoutMs: 15_000 });
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it("runs a command with its arguments intact and streams a file to stdin", async () => {
    const r = await ssh.exec(sshd.target, ["printf", "%s|", "a b", "it's", "$(id)", ""]);
    expect(r.stdout).toBe("a b|it's|$(id)||");
    const f = join(sshd.dir, "payload");
    await writeFile(f, "hello over ssh\n");
    const c = await ssh.exec(sshd.target, ["sha256sum"], { inputFile: f });
    const want = (await execa("sha256sum", [f])).stdout.split(" ")[0];
    expect(c.stdout.split(" ")[0]).toBe(want);
  });

  it("reports a remote failure with its exit code and stderr tail", async () => {
    const e = (await ssh
      .exec(sshd.target, ["sh", "-c", "echo first >&2; echo oops >&2; exit 3"])
      .catch((x) => x)) as RemoteCommandError;
    expect(e).toSatisfy(isRemoteCommandError);
    expect(e.exitCode).toBe(3);
    expect(e.stderrTail).toBe("first\noops");
  });

  it("refuses a host key that does not match known_hosts, even with accept-new", async () => {
    const other = join(sshd.dir, "other_known_hosts");
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(sshd.dir, "impostor")]);
    const { readFile } = await import("node:fs/promises");
    const impostor = (await readFile(join(sshd.dir, "impostor.pub"), "utf8"))
      .split(" ")
      .slice(0, 2)
      .join(" ");
    await writeFile(other, `[${sshd.host}]:${sshd.port} ${impostor}\n`);
    for (const acceptNewHostKey of [false, true]) {
      const e = await ssh
        .exec({ ...sshd.target, knownHostsFile: other, acceptNewHostKey }, ["true"])
        .catch((x) => x);
      expect(e).toSatisfy(isSshHostKeyError);
      expect((e as Error).message).toContain("host key not trusted");
    }
  });

  it("refuses an unknown host unless told to accept a new key (provisioning), then remembers it", async () => {
    const fresh = join(sshd.dir, "fresh_known_hosts");
    await writeFile(fresh, "");
    const e = await ssh.exec({ ...sshd.target, knownHostsFile: fresh }, ["true"]).catch((x) => x);
    expect(e).toSatisfy(isSshHostKeyError);
    await ssh.exec({ ...sshd.target, knownHostsFile: fresh, acceptNewHostKey: true }, ["true"]);
    // Now known: the strict mode accepts it.
    await ssh.exec({ ...sshd.target, knownHostsFile: fresh }, ["true"]);
  });

  it("names authentication and reachability failures", async () => {
    await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(sshd.dir, "stranger")]);
    const auth = await ssh
      .exec({ ...sshd.target, identityFile: join(sshd.dir, "stranger") }, ["true"])
      .catch((x) => x);
    expect(auth).toSatisfy(isSshAuthError);
    const closed = await freePort();
    const down = await ssh.exec({ ...sshd.target, port: closed }, ["true"]).catch((x) => x);
    expect(down).toSatisfy(isSshUnreachableError);
  });

  it("kills a call that runs past its timeout", async () => {
    const t0 = Date.now();
    const e = await ssh.exec(sshd.target, ["sleep", "10"], { timeoutMs: 500 }).catch((x) => x);
    expect(e).toSatisfy(isSshTimeoutError);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
