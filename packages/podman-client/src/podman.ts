/** The Podman implementation of ContainerRuntime, through the podman CLI. */
import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";
import {
  buildArgs,
  createContainerArgs,
  createNetworkArgs,
  eventsArgs,
  listContainersArgs,
  logsArgs,
  pullArgs,
  pushArgs,
  removeContainerArgs,
  stopArgs,
} from "./args.ts";
import {
  InvalidOptionError,
  PodmanAbortedError,
  PodmanEnvironmentError,
  PodmanMissingError,
  PodmanOutputError,
} from "./errors.ts";
import { type Runner, run, streamLines } from "./exec.ts";
import { followLogFile, sinceToNs } from "./logfile.ts";
import {
  parseContainerInspect,
  parseContainerList,
  parseEvent,
  parseImageInspect,
  parseImageList,
  parseInfo,
  parseJson,
  parseNetworkList,
  parseVersion,
} from "./parse.ts";
import type {
  BuildOptions,
  CallOptions,
  ContainerDetails,
  ContainerRuntime,
  ContainerSummary,
  CreateContainerOptions,
  CreateNetworkOptions,
  EventsOptions,
  ExecResult,
  FollowLogsOptions,
  ImageDetails,
  ImageSummary,
  ListContainersOptions,
  LogsOptions,
  NetworkSummary,
  RegistryOptions,
  RuntimeEvent,
  RuntimeInfo,
  VersionInfo,
} from "./types.ts";

export interface RunAsUser {
  uid: number;
  gid: number;
  /** Home directory; default from /etc/passwd. */
  home?: string;
  /** User name, for USER/LOGNAME; default from /etc/passwd. */
  name?: string;
}

export interface PodmanClientOptions {
  /** The podman binary: a path, or a name looked up on the environment's PATH. Default "podman". */
  podmanPath?: string;
  /**
   * Podman's environment, used as given (nothing else is inherited). Default: this
   * process's environment; with `runAs`, the user's own (HOME, USER, LOGNAME, PATH,
   * XDG_RUNTIME_DIR=/run/user/<uid>) overlaid with this (a key set to undefined removes it).
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Run podman as this user (a name from /etc/passwd, or ids) instead of as this process.
   * Needs root; meant for tests and tools that run as root while the containers belong
   * to the unprivileged user, as in production where the agent itself runs as that user.
   */
  runAs?: string | RunAsUser;
  /** Timeout of short calls (inspect, ps, create, start, …). Default 30 s. */
  timeoutMs?: number;
  /** Timeout of long calls (pull, push, build, save, load). Default 10 min. */
  longTimeoutMs?: number;
  /** Working directory of podman; default the runAs user's home, else this process's. */
  cwd?: string;
}

// Podman exits 125 (and 255 for a container that is not running, in 4.3) for its own
// failures; a program exiting 255 is reported as an error too, which a caller treats alike.
const EXEC_OK_CODES: readonly number[] = Array.from({ length: 254 }, (_, i) => i + 1).filter(
  (c) => c !== 125,
);

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Looks a user up in /etc/passwd (system users, as created by useradd). */
export async function lookupUser(name: string, passwdFile = "/etc/passwd"): Promise<RunAsUser> {
  const text = await readFile(passwdFile, "utf8");
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 7) {
      return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? "/" };
    }
  }
  throw new InvalidOptionError(`runAs: no user "${name}" in ${passwdFile}`);
}

async function findOnPath(name: string, path: string | undefined): Promise<string | undefined> {
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here; next directory
    }
  }
  return undefined;
}

function cleanEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * Rootless Podman without XDG_RUNTIME_DIR does not fail: it silently falls back to another
 * runtime directory (/tmp/podman-run-<uid>) and then sees none of the containers the
 * agent started under /run/user/<uid>. Checking up front turns that split brain into one
 * clear error naming the variable.
 */
async function checkRootlessEnv(env: Record<string, string>, uid: number): Promise<void> {
  const dir = env.XDG_RUNTIME_DIR;
  if (dir === undefined || dir === "") {
    throw new PodmanEnvironmentError(
      "XDG_RUNTIME_DIR",
      `XDG_RUNTIME_DIR is not set: rootless Podman (uid ${uid}) needs it, normally /run/user/${uid}`,
    );
  }
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(dir);
  } catch (e) {
    throw new PodmanEnvironmentError(
      "XDG_RUNTIME_DIR",
      `XDG_RUNTIME_DIR=${dir} does not exist: create it owned by uid ${uid}, mode 0700`,
      { cause: e },
    );
  }
  if (!st.isDirectory() || st.uid !== uid) {
    throw new PodmanEnvironmentError(
      "XDG_RUNTIME_DIR",
      `XDG_RUNTIME_DIR=${dir} is not a directory owned by uid ${uid}`,
    );
  }
  // Podman only logs "mkdir …: permission denied" here and carries on without its state.
  if ((st.mode & 0o700) !== 0o700) {
    throw new PodmanEnvironmentError(
      "XDG_RUNTIME_DIR",
      `XDG_RUNTIME_DIR=${dir} is not writable by its owner (mode ${(st.mode & 0o777).toString(8)}; want 0700)`,
    );
  }
  if (!env.HOME) {
    throw new PodmanEnvironmentError(
      "HOME",
      `HOME is not set: rootless Podman (uid ${uid}) keeps its storage under it`,
    );
  }
}

export class PodmanClient implements ContainerRuntime {
  readonly #options: PodmanClientOptions;
  readonly #timeoutMs: number;
  readonly #longTimeoutMs: number;
  #runner: Promise<Runner> | undefined;

  constructor(options: PodmanClientOptions = {}) {
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#longTimeoutMs = options.longTimeoutMs ?? 600_000;
  }

  /** Resolves the user, environment and binary once; checks what rootless Podman needs. */
  runner(): Promise<Runner> {
    this.#runner ??= this.#prepare();
    // A failed preflight is retried on the next call (the operator may fix it meanwhile).
    this.#runner.catch(() => {
      this.#runner = undefined;
    });
    return this.#runner;
  }

  async #prepare(): Promise<Runner> {
    const o = this.#options;
    let user: RunAsUser | undefined;
    if (typeof o.runAs === "string") user = await lookupUser(o.runAs);
    else if (o.runAs) user = o.runAs;
    if (user && !user.home && user.name) user = { ...user, ...(await lookupUser(user.name)) };

    let env: Record<string, string>;
    if (user) {
      const home = user.home ?? "/";
      const base: Record<string, string | undefined> = {
        PATH: process.env.PATH ?? DEFAULT_PATH,
        HOME: home,
        USER: user.name,
        LOGNAME: user.name,
        XDG_RUNTIME_DIR: `/run/user/${user.uid}`,
        LANG: "C.UTF-8",
      };
      env = cleanEnv({ ...base, ...(o.env ?? {}) });
    } else {
      env = cleanEnv(o.env ?? process.env);
    }

    const uid = user?.uid ?? process.getuid?.() ?? 0;
    if (uid !== 0) await checkRootlessEnv(env, uid);

    const name = o.podmanPath ?? "podman";
    let file: string | undefined;
    if (name.includes("/")) {
      file = name;
      try {
        await access(file, constants.X_OK);
      } catch (e) {
        throw new PodmanMissingError(`podman not found at ${file} (podmanPath)`, { cause: e });
      }
    } else {
      if (!env.PATH) {
        throw new PodmanEnvironmentError("PATH", `PATH is not set: cannot find ${name}`);
      }
      file = await findOnPath(name, env.PATH);
      if (!file) {
        throw new PodmanMissingError(
          `${name} not found on PATH=${env.PATH}: install Podman or set PATH / podmanPath`,
        );
      }
    }
    return {
      file,
      env,
      uid: user?.uid,
      gid: user?.gid,
      cwd: o.cwd ?? (user ? (user.home ?? "/") : process.cwd()),
    };
  }

  async #run(
    args: readonly string[],
    call: CallOptions | undefined,
    extra: { long?: boolean; subject?: string; okExitCodes?: readonly number[] } = {},
  ) {
    const r = await this.runner();
    return run(r, args, {
      timeoutMs: call?.timeoutMs ?? (extra.long ? this.#longTimeoutMs : this.#timeoutMs),
      signal: call?.signal,
      ...(extra.subject === undefined ? {} : { subject: extra.subject }),
      ...(extra.okExitCodes === undefined ? {} : { okExitCodes: extra.okExitCodes }),
    });
  }

  async #json(
    args: readonly string[],
    call: CallOptions | undefined,
    what: string,
    subject?: string,
  ) {
    const { stdout } = await this.#run(args, call, subject === undefined ? {} : { subject });
    return parseJson(stdout, what);
  }

  async #exists(args: readonly string[], call: CallOptions | undefined): Promise<boolean> {
    const { exitCode } = await this.#run(args, call, { okExitCodes: [1] });
    return exitCode === 0;
  }

  async version(call?: CallOptions): Promise<VersionInfo> {
    return parseVersion(await this.#json(["version", "--format", "json"], call, "version"));
  }

  async info(call?: CallOptions): Promise<RuntimeInfo> {
    return parseInfo(await this.#json(["info", "--format", "json"], call, "info"));
  }

  // Images

  imageExists(ref: string, call?: CallOptions): Promise<boolean> {
    return this.#exists(["image", "exists", ref], call);
  }

  async pullImage(ref: string, opts: RegistryOptions & CallOptions = {}): Promise<string> {
    const { stdout } = await this.#run(pullArgs(ref, opts), opts, {
      long: true,
      subject: `image "${ref}"`,
    });
    return lastLine(stdout);
  }

  async pushImage(
    ref: string,
    opts: RegistryOptions & CallOptions & { destination?: string } = {},
  ): Promise<void> {
    await this.#run(pushArgs(ref, opts), opts, { long: true, subject: `image "${ref}"` });
  }

  async buildImage(opts: BuildOptions): Promise<string> {
    const r = await this.runner();
    let last = "";
    for await (const { line } of streamLines(r, buildArgs(opts), {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? this.#longTimeoutMs,
      subject: `build of ${opts.tags.join(", ")}`,
      holdStderrErrors: true,
    })) {
      if (line.trim() !== "") last = line.trim();
      opts.onOutput?.(line);
    }
    if (opts.signal?.aborted) {
      throw new PodmanAbortedError("podman build: aborted by the caller", { command: ["build"] });
    }
    // The last line podman build prints is the new image's id.
    if (!/^[0-9a-f]{12,64}$/.test(last)) {
      throw new PodmanOutputError(
        "(image id)",
        `podman build: expected the image id last, got "${last}"`,
      );
    }
    return last;
  }

  async tagImage(ref: string, newRef: string, call?: CallOptions): Promise<void> {
    await this.#run(["tag", ref, newRef], call, { subject: `image "${ref}"` });
  }

  async saveImage(
    ref: string | readonly string[],
    file: string,
    call?: CallOptions,
  ): Promise<void> {
    const refs = typeof ref === "string" ? [ref] : [...ref];
    const multi = refs.length > 1 ? ["--multi-image-archive"] : [];
    await this.#run(["save", "--quiet", "--output", file, ...multi, ...refs], call, {
      long: true,
      subject: `image "${refs.join(", ")}"`,
    });
  }

  async loadImage(file: string, call?: CallOptions): Promise<string[]> {
    const { stdout } = await this.#run(["load", "--input", file], call, { long: true });
    // "Loaded image: a" (one) or "Loaded image(s): a,b" (several), one or more lines.
    const names: string[] = [];
    for (const line of stdout.split("\n")) {
      const m = /^Loaded image(?:\(s\))?:\s*(.+)$/.exec(line.trim());
      if (m)
        names.push(
          ...m[1]!
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
        );
    }
    return names;
  }

  async removeImage(ref: string, opts: CallOptions & { force?: boolean } = {}): Promise<void> {
    await this.#run(["rmi", ...(opts.force ? ["--force"] : []), ref], opts, {
      subject: `image "${ref}"`,
    });
  }

  async listImages(call?: CallOptions): Promise<ImageSummary[]> {
    return parseImageList(await this.#json(["images", "--format", "json"], call, "images"));
  }

  async inspectImage(ref: string, call?: CallOptions): Promise<ImageDetails> {
    const list = parseImageInspect(
      await this.#json(["image", "inspect", ref], call, "image inspect", `image "${ref}"`),
    );
    if (!list[0]) throw new PodmanOutputError("[0]", `podman image inspect ${ref}: empty answer`);
    return list[0];
  }

  // Containers

  async createContainer(opts: CreateContainerOptions, call?: CallOptions): Promise<string> {
    const { stdout } = await this.#run(createContainerArgs(opts, false), call, {
      subject: `container "${opts.name}"`,
    });
    return lastLine(stdout);
  }

  async runContainer(opts: CreateContainerOptions, call?: CallOptions): Promise<string> {
    const { stdout } = await this.#run(createContainerArgs(opts, true), call, {
      subject: `container "${opts.name}"`,
    });
    return lastLine(stdout);
  }

  async startContainer(nameOrId: string, call?: CallOptions): Promise<void> {
    await this.#run(["start", nameOrId], call, { subject: `container "${nameOrId}"` });
  }

  async stopContainer(
    nameOrId: string,
    opts: CallOptions & { timeoutSeconds?: number } = {},
  ): Promise<void> {
    await this.#run(stopArgs("stop", nameOrId, opts.timeoutSeconds), this.#stopCall(opts), {
      subject: `container "${nameOrId}"`,
    });
  }

  async restartContainer(
    nameOrId: string,
    opts: CallOptions & { timeoutSeconds?: number } = {},
  ): Promise<void> {
    await this.#run(stopArgs("restart", nameOrId, opts.timeoutSeconds), this.#stopCall(opts), {
      subject: `container "${nameOrId}"`,
    });
  }

  async removeContainer(
    nameOrId: string,
    opts: CallOptions & { force?: boolean; timeoutSeconds?: number } = {},
  ): Promise<void> {
    await this.#run(removeContainerArgs(nameOrId, opts), this.#stopCall(opts), {
      subject: `container "${nameOrId}"`,
    });
  }

  /** A stop may legitimately take its stop timeout; the call's own limit allows for it. */
  #stopCall(opts: CallOptions & { timeoutSeconds?: number }): CallOptions {
    const grace = (opts.timeoutSeconds ?? 10) * 1000 + this.#timeoutMs;
    return { ...opts, timeoutMs: opts.timeoutMs ?? grace };
  }

  async renameContainer(nameOrId: string, newName: string, call?: CallOptions): Promise<void> {
    if (!newName || newName.startsWith("-")) {
      throw new InvalidOptionError(`rename: invalid new name "${newName}"`);
    }
    await this.#run(["rename", nameOrId, newName], call, { subject: `container "${nameOrId}"` });
  }

  async execContainer(
    nameOrId: string,
    cmd: readonly string[],
    call?: CallOptions,
  ): Promise<ExecResult> {
    if (cmd.length === 0) throw new InvalidOptionError("exec: empty command");
    // Every code but Podman's own (see EXEC_OK_CODES), including 126/127 (cannot run,
    // not found), is the program's answer.
    const { stdout, stderr, exitCode } = await this.#run(["exec", nameOrId, ...cmd], call, {
      subject: `container "${nameOrId}"`,
      okExitCodes: EXEC_OK_CODES,
    });
    return { exitCode, stdout, stderr };
  }

  containerExists(nameOrId: string, call?: CallOptions): Promise<boolean> {
    return this.#exists(["container", "exists", nameOrId], call);
  }

  async inspectContainer(nameOrId: string, call?: CallOptions): Promise<ContainerDetails> {
    const list = parseContainerInspect(
      await this.#json(
        ["container", "inspect", nameOrId],
        call,
        "container inspect",
        `container "${nameOrId}"`,
      ),
    );
    if (!list[0]) throw new PodmanOutputError("[0]", `podman inspect ${nameOrId}: empty answer`);
    return list[0];
  }

  async listContainers(
    opts: ListContainersOptions & CallOptions = {},
  ): Promise<ContainerSummary[]> {
    return parseContainerList(await this.#json(listContainersArgs(opts), opts, "ps"));
  }

  async logs(nameOrId: string, opts: LogsOptions & CallOptions = {}): Promise<string[]> {
    const r = await this.runner();
    const lines: string[] = [];
    for await (const { line } of streamLines(r, logsArgs(nameOrId, opts, false), {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? this.#timeoutMs,
      subject: `container "${nameOrId}"`,
      holdStderrErrors: true,
    })) {
      lines.push(line);
    }
    return lines;
  }

  async *followLogs(nameOrId: string, opts: FollowLogsOptions): AsyncGenerator<string> {
    const r = await this.runner();
    const subject = `container "${nameOrId}"`;
    // One inspect: running?, log driver and file. It also reports a missing container
    // before any line.
    const { stdout } = await this.#run(
      [
        "container",
        "inspect",
        "--format",
        "{{.State.Running}}\t{{.HostConfig.LogConfig.Type}}\t{{.HostConfig.LogConfig.Path}}",
        nameOrId,
      ],
      { signal: opts.signal },
      { subject },
    );
    const [running, driver, path] = stdout.trim().split("\t");
    const podmanLogs = (follow: boolean) =>
      streamLines(r, logsArgs(nameOrId, opts, follow), {
        signal: opts.signal,
        subject,
        holdStderrErrors: true,
      });

    // Not running: `podman logs` without --follow reads the log whole (with --follow it
    // can stop early, podman#21914).
    if (running !== "true") {
      for await (const { line } of podmanLogs(false)) yield line;
      return;
    }
    const readable =
      driver === "k8s-file" && path
        ? await access(path, constants.R_OK).then(
            () => true,
            () => false,
          )
        : false;
    if (!readable) {
      // journald and others: Podman's own follow, the only way there.
      for await (const { line } of podmanLogs(true)) yield line;
      return;
    }

    // Running, k8s-file: read the file (see logfile.ts for why), until `podman wait`
    // says the container exited.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    opts.signal.addEventListener("abort", onAbort, { once: true });
    let exited = false;
    const waiting = run(r, ["wait", nameOrId], { timeoutMs: 0, signal: stop.signal, subject }).then(
      () => {
        exited = true;
      },
      () => {
        exited = true; // removed, or aborted: either way nothing more will be written
      },
    );
    try {
      const sinceNs = opts.since === undefined ? undefined : sinceToNs(opts.since);
      if (opts.since !== undefined && sinceNs === undefined) {
        throw new InvalidOptionError(
          `since: cannot read "${String(opts.since)}" as a time or duration`,
        );
      }
      yield* followLogFile(path!, {
        tail: opts.tail,
        sinceNs,
        timestamps: opts.timestamps,
        signal: opts.signal,
        finished: () => exited,
      });
    } finally {
      opts.signal.removeEventListener("abort", onAbort);
      stop.abort();
      await waiting;
    }
  }

  // Networks

  async createNetwork(name: string, opts: CreateNetworkOptions & CallOptions = {}): Promise<void> {
    await this.#run(createNetworkArgs(name, opts), opts, { subject: `network "${name}"` });
  }

  networkExists(name: string, call?: CallOptions): Promise<boolean> {
    return this.#exists(["network", "exists", name], call);
  }

  async listNetworks(call?: CallOptions): Promise<NetworkSummary[]> {
    return parseNetworkList(
      await this.#json(["network", "ls", "--format", "json"], call, "network ls"),
    );
  }

  async removeNetwork(name: string, opts: CallOptions & { force?: boolean } = {}): Promise<void> {
    await this.#run(["network", "rm", ...(opts.force ? ["--force"] : []), name], opts, {
      subject: `network "${name}"`,
    });
  }

  // Events

  async *events(opts: EventsOptions): AsyncGenerator<RuntimeEvent> {
    const r = await this.runner();
    for await (const { stream, line } of streamLines(r, eventsArgs(opts), {
      signal: opts.signal,
      holdStderrErrors: true,
    })) {
      // stderr carries only Podman's warnings here; events are on stdout.
      if (stream !== "stdout" || line.trim() === "") continue;
      yield parseEvent(parseJson(line, "events"));
    }
  }
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n");
  return (lines[lines.length - 1] ?? "").trim();
}
