// A real OpenSSH server for tests that stand a node in (fleet upgrades and provisioning, the
// CLI's agent commands); here so both suites share one copy.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { freePort } from "./podman.ts";

export const SSHD = "/usr/sbin/sshd";

async function waitForPort(
  host: string,
  port: number,
  proc: ResultPromise,
  exited: () => boolean,
  ms = 10_000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (exited()) throw new Error(`sshd exited early: ${(await proc).stderr}`);
    const ok = await new Promise<boolean>((r) => {
      const c = createConnection({ host, port }, () => {
        c.destroy();
        r(true);
      });
      c.on("error", () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`sshd did not listen on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What @mcp/fleet's SshTarget needs to reach this server (structurally the same). */
export interface SshdTarget {
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHostsFile: string;
}

export interface TestSshd {
  dir: string;
  host: string;
  port: number;
  /** A target that trusts this server's key and logs in as root with the test key. */
  target: SshdTarget;
  hostPublicKey: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A real OpenSSH server on loopback standing in for a node: its own host key, config,
 * authorized_keys and pidfile in a temp dir; root logs in with a generated key only.
 */
export async function startSshd(host = "127.0.0.1"): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), "mcp-testkit-sshd-"));
  try {
    // Debian's sshd refuses to start without its privilege separation directory.
    await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    for (const k of ["host_key", "client_key"]) {
      await execa("ssh-keygen", [
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        `mcp-testkit-${k}`,
        "-f",
        join(dir, k),
      ]);
    }
    await writeFile(join(dir, "authorized_keys"), await readFile(join(dir, "client_key.pub")), {
      mode: 0o600,
    });
    const port = await freePort(host);
    await writeFile(
      join(dir, "sshd_config"),
      [
        `Port ${port}`,
        `ListenAddress ${host}`,
        `HostKey ${join(dir, "host_key")}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "MaxStartups 100:30:200",
        "MaxSessions 50",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
    const hostPublicKey = (await readFile(join(dir, "host_key.pub"), "utf8"))
      .trim()
      .split(" ")
      .slice(0, 2)
      .join(" ");
    await writeFile(join(dir, "known_hosts"), `[${host}]:${port} ${hostPublicKey}\n`);
    const proc = execa(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], {
      reject: false,
      buffer: true,
    });
    let exited = false;
    void proc.finally(() => {
      exited = true;
    });
    await waitForPort(host, port, proc, () => exited);
    const pid = proc.pid as number;
    return {
      dir,
      host,
      port,
      pid,
      hostPublicKey,
      target: {
        host,
        port,
        user: "root",
        identityFile: join(dir, "client_key"),
        knownHostsFile: join(dir, "known_hosts"),
      },
      async stop() {
        if (!exited) process.kill(pid, "SIGTERM");
        await proc;
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
