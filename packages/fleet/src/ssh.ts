import { execa } from "execa";
import {
  FleetInputError,
  RemoteCommandError,
  SshAuthError,
  SshHostKeyError,
  SshTimeoutError,
  SshUnreachableError,
} from "./errors.ts";

/** Where and how to reach a node. `host` may be an alias from the operator's ssh config. */
export interface SshTarget {
  host: string;
  port?: number;
  user?: string;
  /** A private key to offer (and only it); otherwise the operator's agent and default keys. */
  identityFile?: string;
  /** A known_hosts file to trust instead of ~/.ssh/known_hosts and the global one. */
  knownHostsFile?: string;
  /** An ssh_config file (`ssh -F`). */
  configFile?: string;
  /**
   * Accept and remember the key of a host seen for the first time (StrictHostKeyChecking
   * accept-new). Only for provisioning a brand-new node; a key that differs from a known
   * one is still refused.
   */
  acceptNewHostKey?: boolean;
}

export interface ExecOptions {
  /** Sent to the remote command's stdin. */
  input?: string;
  /** A local file streamed to the remote command's stdin. */
  inputFile?: string;
  /** Kill the ssh process after this long. Default 60 s. */
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command on a node. The real one spawns the system `ssh`; unit tests use a fake.
 * Remote argv elements are quoted for the remote shell, so no element is ever re-split.
 * Files travel as `inputFile` on the command's stdin (one connection, no scp/sftp needed).
 */
export interface Ssh {
  exec(target: SshTarget, argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

export interface SystemSshOptions {
  /** The ssh binary. Default `ssh` from PATH. */
  sshPath?: string;
  /** Seconds for the TCP connect and SSH handshake (ssh ConnectTimeout). Default 10. */
  connectTimeoutSeconds?: number;
  /** Default per-call timeout in ms. Default 60 000. */
  timeoutMs?: number;
}

/** POSIX shell single-quoting: the remote shell sees exactly this one word. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

/** `user@host:port` for messages. */
export function describeTarget(t: SshTarget): string {
  return `${t.user ? `${t.user}@` : ""}${t.host}${t.port ? `:${t.port}` : ""}`;
}

// A destination that starts with "-" would be read by ssh as an option.
const HOST_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:%[\]-]*$/;
const USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The ssh(1) arguments before the remote command. Pure; exported for tests. */
export function sshArgs(target: SshTarget, connectTimeoutSeconds: number): string[] {
  if (!HOST_RE.test(target.host)) {
    throw new FleetInputError(
      `ssh host ${JSON.stringify(target.host)} is not a host name or alias`,
    );
  }
  if (target.user !== undefined && !USER_RE.test(target.user)) {
    throw new FleetInputError(`ssh user ${JSON.stringify(target.user)} is not a user name`);
  }
  if (
    target.port !== undefined &&
    !(Number.isInteger(target.port) && target.port > 0 && target.port < 65536)
  ) {
    throw new FleetInputError(`ssh port ${target.port} is not a TCP port`);
  }
  const args: string[] = [];
  if (target.configFile) args.push("-F", target.configFile);
  args.push(
    "-o",
    "BatchMode=yes",
    "-o",
    `StrictHostKeyChecking=${target.acceptNewHostKey ? "accept-new" : "yes"}`,
    "-o",
    `ConnectTimeout=${connectTimeoutSeconds}`,
    // A node that dies mid-upgrade must not hang the call until its timeout.
    "-o",
    "ServerAliveInterval=5",
    "-o",
    "ServerAliveCountMax=3",
    "-o",
    "LogLevel=ERROR",
  );
  if (target.knownHostsFile) {
    args.push(
      "-o",
      `UserKnownHostsFile=${target.knownHostsFile}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
    );
  }
  if (target.identityFile) args.push("-i", target.identityFile, "-o", "IdentitiesOnly=yes");
  if (target.port !== undefined) args.push("-p", String(target.port));
  if (target.user !== undefined) args.push("-l", target.user);
  args.push(target.host);
  return args;
}

function tail(text: string, lines = 8): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Maps a finished ssh process to a typed error. ssh exits 255 for its own failures and
 * with the remote command's status otherwise; its stderr tells the transport failures
 * apart. Pure; exported for tests.
 */
export function classifySshFailure(
  target: SshTarget,
  what: string,
  exitCode: number,
  stderr: string,
): Error {
  const where = describeTarget(target);
  if (exitCode === 255) {
    if (
      /host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(
        stderr,
      )
    ) {
      return new SshHostKeyError(
        `${where}: host key not trusted (does not match known_hosts, or unknown): refused`,
        where,
      );
    }
    if (/Permission denied|Too many authentication failures|no mutual signature/i.test(stderr)) {
      return new SshAuthError(`${where}: SSH authentication failed (no key accepted)`, where);
    }
    if (
      /Connection refused|Connection timed out|No route to host|Could not resolve|Network is unreachable|Connection closed by|Connection reset|kex_exchange_identification|timed out/i.test(
        stderr,
      )
    ) {
      return new SshUnreachableError(`${where}: unreachable (${tail(stderr, 1)})`, where);
    }
  }
  return new RemoteCommandError(
    `${where}: ${what} failed with exit code ${exitCode}${stderr.trim() ? `: ${tail(stderr, 1)}` : ""}`,
    where,
    exitCode,
    tail(stderr),
  );
}

/** Spawns the system OpenSSH client, non-interactively, with a timeout on every call. */
export class SystemSsh implements Ssh {
  readonly #ssh: string;
  readonly #connectTimeout: number;
  readonly #timeoutMs: number;

  constructor(options: SystemSshOptions = {}) {
    this.#ssh = options.sshPath ?? "ssh";
    this.#connectTimeout = options.connectTimeoutSeconds ?? 10;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  async exec(
    target: SshTarget,
    argv: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    return this.#run(target, argv.map(shellQuote).join(" "), argv[0] ?? "command", options);
  }

  async #run(
    target: SshTarget,
    remoteCommand: string,
    what: string,
    options: ExecOptions,
  ): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const args = [...sshArgs(target, this.#connectTimeout), remoteCommand];
    const r = await execa(this.#ssh, args, {
      reject: false,
      timeout: timeoutMs,
      forceKillAfterDelay: 2_000,
      stripFinalNewline: false,
      ...(options.inputFile !== undefined
        ? { inputFile: options.inputFile }
        : options.input !== undefined
          ? { input: options.input }
          : { stdin: "ignore" as const }),
    });
    const where = describeTarget(target);
    if (r.timedOut) {
      throw new SshTimeoutError(
        `${where}: ${what} did not finish within ${timeoutMs} ms`,
        where,
        timeoutMs,
      );
    }
    if (r.failed && r.exitCode === undefined) {
      // ssh itself could not be spawned (not installed, not executable).
      throw new SshUnreachableError(`${where}: cannot run ${this.#ssh}: ${r.shortMessage}`, where, {
        cause: r,
      });
    }
    if (r.exitCode !== 0)
      throw classifySshFailure(target, what, r.exitCode ?? -1, String(r.stderr));
    return { stdout: String(r.stdout), stderr: String(r.stderr) };
  }
}

/**
 * Runs a shell script on the node as `sh -c SCRIPT sh ARGS...` (through `sudo -n` when
 * asked): the script is one quoted argument and its inputs are positional parameters, so
 * no value is ever interpolated into shell text.
 */
export function runScript(
  ssh: Ssh,
  target: SshTarget,
  script: string,
  args: readonly string[],
  options: ExecOptions & { sudo?: boolean } = {},
): Promise<ExecResult> {
  const { sudo, ...rest } = options;
  return ssh.exec(
    target,
    [...(sudo ? ["sudo", "-n"] : []), "sh", "-c", script, "sh", ...args],
    rest,
  );
}
