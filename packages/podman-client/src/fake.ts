/**
 * An in-memory ContainerRuntime for other packages' unit tests (`@mcp/podman-client/fake`).
 * It keeps the rules a caller relies on: names are unique, a published host port is held
 * by one running container, unknown images and containers throw the same error classes as
 * the Podman implementation, and every change is reported as an event.
 */
import { createHash } from "node:crypto";
import { createContainerArgs, createNetworkArgs } from "./args.ts";
import {
  ContainerNotFoundError,
  ImageNotFoundError,
  InvalidOptionError,
  NameInUseError,
  NetworkNotFoundError,
  PodmanCommandError,
  PortInUseError,
} from "./errors.ts";
import type {
  BuildOptions,
  ContainerDetails,
  ContainerRuntime,
  ContainerState,
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
  PortMapping,
  RuntimeEvent,
  RuntimeInfo,
  VersionInfo,
} from "./types.ts";

interface FakeImage {
  id: string;
  names: Set<string>;
  labels: Record<string, string>;
  created: number;
}

interface FakeContainer {
  id: string;
  name: string;
  opts: CreateContainerOptions;
  imageId: string;
  state: ContainerState;
  created: number;
  startedAt: number | undefined;
  exitedAt: number | undefined;
  exitCode: number;
  restartCount: number;
  logs: { time: number; line: string }[];
}

/** Podman's short names: "x:v1" is "localhost/x:v1" when built locally. */
function normalizeRef(ref: string): string {
  const first = ref.split("/")[0] ?? "";
  const hasRegistry =
    ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  return hasRegistry ? ref : `localhost/${ref}`;
}

function idFor(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

export interface FakeRuntimeOptions {
  /** Images present from the start. */
  images?: readonly string[];
  /** Images the fake "registry" can pull. */
  remoteImages?: readonly string[];
  /** Clock, for deterministic tests (unix seconds). */
  now?: () => number;
}

export class FakeContainerRuntime implements ContainerRuntime {
  readonly images = new Map<string, FakeImage>();
  readonly containers = new Map<string, FakeContainer>();
  readonly networks = new Map<string, NetworkSummary>();
  /** Refs a pull succeeds for; push adds to it. */
  readonly remote = new Set<string>();
  /** Every call made, in order, as [method, first argument]; for assertions. */
  readonly calls: [string, unknown][] = [];
  readonly #listeners = new Set<(e: RuntimeEvent) => void>();
  readonly #logWaiters = new Set<() => void>();
  readonly #now: () => number;
  #seq = 0;
  /** When set, the next call of that method throws it (then it is cleared). */
  readonly failNext = new Map<string, Error>();

  constructor(options: FakeRuntimeOptions = {}) {
    this.#now = options.now ?? (() => Math.floor(Date.now() / 1000));
    for (const ref of options.images ?? []) this.#addImage(ref, {});
    for (const ref of options.remoteImages ?? []) this.remote.add(normalizeRef(ref));
    this.networks.set("podman", {
      name: "podman",
      id: idFor("network:podman"),
      driver: "bridge",
      dnsEnabled: false,
      internal: false,
      subnets: [{ subnet: "10.88.0.0/16", gateway: "10.88.0.1" }],
      labels: {},
    });
  }

  /** Appends lines to a container's log, as if it printed them. */
  appendLogs(nameOrId: string, lines: readonly string[]): void {
    const c = this.#container(nameOrId);
    for (const line of lines) c.logs.push({ time: this.#now(), line });
    for (const w of this.#logWaiters) w();
  }

  /** Makes a running container exit, as if its process ended. */
  exitContainer(nameOrId: string, exitCode = 0): void {
    const c = this.#container(nameOrId);
    c.state = "exited";
    c.exitCode = exitCode;
    c.exitedAt = this.#now();
    this.#emit("container", "died", c, { exitCode });
    for (const w of this.#logWaiters) w();
  }

  #record(method: string, arg: unknown) {
    this.calls.push([method, arg]);
    const err = this.failNext.get(method);
    if (err) {
      this.failNext.delete(method);
      throw err;
    }
  }

  #emit(
    type: string,
    action: string,
    c: { id: string; name: string; image?: string },
    extra: { exitCode?: number; attributes?: Record<string, string> } = {},
  ) {
    const e: RuntimeEvent = {
      type,
      action,
      id: c.id,
      name: c.name,
      image: c.image ?? "",
      time: new Date(this.#now() * 1000),
      exitCode: extra.exitCode,
      attributes: extra.attributes ?? {},
    };
    for (const l of this.#listeners) l(e);
  }

  #addImage(ref: string, labels: Record<string, string>): FakeImage {
    const name = normalizeRef(ref);
    const existing = this.#findImage(name);
    if (existing) return existing;
    const img: FakeImage = {
      id: idFor(`image:${name}:${this.#seq++}`),
      names: new Set([name]),
      labels,
      created: this.#now(),
    };
    this.images.set(img.id, img);
    return img;
  }

  #findImage(ref: string): FakeImage | undefined {
    const name = normalizeRef(ref);
    for (const img of this.images.values()) {
      if (img.names.has(name) || img.id === ref || (ref.length >= 12 && img.id.startsWith(ref))) {
        return img;
      }
    }
    return undefined;
  }

  #image(ref: string): FakeImage {
    const img = this.#findImage(ref);
    if (!img) {
      throw new ImageNotFoundError(`image "${ref}": image not found: ${ref}: image not known`, {
        detail: `${ref}: image not known`,
      });
    }
    return img;
  }

  #findContainer(nameOrId: string): FakeContainer | undefined {
    for (const c of this.containers.values()) {
      if (
        c.name === nameOrId ||
        c.id === nameOrId ||
        (nameOrId.length >= 12 && c.id.startsWith(nameOrId))
      ) {
        return c;
      }
    }
    return undefined;
  }

  #container(nameOrId: string): FakeContainer {
    const c = this.#findContainer(nameOrId);
    if (!c) {
      const detail = `no container with name or ID "${nameOrId}" found: no such container`;
      throw new ContainerNotFoundError(`container "${nameOrId}": container not found: ${detail}`, {
        detail,
      });
    }
    return c;
  }

  async version(): Promise<VersionInfo> {
    this.#record("version", undefined);
    return {
      version: "4.3.1-fake",
      apiVersion: "4.3.1",
      goVersion: "go1.19",
      osArch: "linux/amd64",
    };
  }

  async info(): Promise<RuntimeInfo> {
    this.#record("info", undefined);
    return {
      version: "4.3.1-fake",
      rootless: true,
      ociRuntime: "fake",
      cgroupVersion: "v2",
      cgroupManager: "cgroupfs",
      networkBackend: "netavark",
      graphDriver: "memory",
      graphRoot: "",
      runRoot: "",
      eventLogger: "memory",
      hostname: "fake",
      kernel: "",
      os: "linux",
      arch: "amd64",
    };
  }

  async imageExists(ref: string): Promise<boolean> {
    this.#record("imageExists", ref);
    return this.#findImage(ref) !== undefined;
  }

  async pullImage(ref: string): Promise<string> {
    this.#record("pullImage", ref);
    if (!this.remote.has(normalizeRef(ref))) {
      const detail = `initializing source docker://${ref}: reading manifest: manifest unknown`;
      throw new ImageNotFoundError(`image "${ref}": image not found: ${detail}`, { detail });
    }
    const img = this.#addImage(ref, {});
    this.#emit("image", "pull", { id: img.id, name: normalizeRef(ref) });
    return img.id;
  }

  async pushImage(ref: string, opts: { destination?: string } = {}): Promise<void> {
    this.#record("pushImage", ref);
    this.#image(ref);
    this.remote.add(normalizeRef(opts.destination ?? ref));
  }

  async buildImage(opts: BuildOptions): Promise<string> {
    this.#record("buildImage", opts);
    opts.onOutput?.(`STEP 1/1: FROM scratch`);
    const img = this.#addImage(opts.tags[0]!, { ...(opts.labels ?? {}) });
    for (const t of opts.tags.slice(1)) img.names.add(normalizeRef(t));
    opts.onOutput?.(img.id);
    this.#emit("image", "build", { id: img.id, name: normalizeRef(opts.tags[0]!) });
    return img.id;
  }

  async tagImage(ref: string, newRef: string): Promise<void> {
    this.#record("tagImage", ref);
    this.#image(ref).names.add(normalizeRef(newRef));
  }

  async saveImage(ref: string | readonly string[]): Promise<void> {
    this.#record("saveImage", ref);
    for (const r of typeof ref === "string" ? [ref] : ref) this.#image(r);
  }

  async loadImage(file: string): Promise<string[]> {
    this.#record("loadImage", file);
    return [];
  }

  async removeImage(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    this.#record("removeImage", ref);
    const img = this.#image(ref);
    const users = [...this.containers.values()].filter((c) => c.imageId === img.id);
    if (users.length > 0 && !opts.force) {
      throw new PodmanCommandError(`image "${ref}" is in use by container ${users[0]!.name}`);
    }
    for (const c of users) this.containers.delete(c.id);
    this.images.delete(img.id);
  }

  async listImages(): Promise<ImageSummary[]> {
    this.#record("listImages", undefined);
    return [...this.images.values()].map((i) => ({
      id: i.id,
      names: [...i.names],
      digest: `sha256:${i.id}`,
      repoDigests: [],
      created: i.created,
      size: 0,
      labels: { ...i.labels },
    }));
  }

  async inspectImage(ref: string): Promise<ImageDetails> {
    this.#record("inspectImage", ref);
    const i = this.#image(ref);
    return {
      id: i.id,
      repoTags: [...i.names],
      repoDigests: [],
      digest: `sha256:${i.id}`,
      created: new Date(i.created * 1000),
      size: 0,
      architecture: "amd64",
      os: "linux",
      labels: { ...i.labels },
    };
  }

  async createContainer(opts: CreateContainerOptions): Promise<string> {
    this.#record("createContainer", opts);
    createContainerArgs(opts); // the same option checks as the real client
    if (this.#findContainer(opts.name)) {
      const detail = `the container name "${opts.name}" is already in use`;
      throw new NameInUseError(`container "${opts.name}": name already in use: ${detail}`, {
        detail,
      });
    }
    let img = this.#findImage(opts.image);
    if (!img && opts.pull !== "never" && this.remote.has(normalizeRef(opts.image))) {
      img = this.#addImage(opts.image, {});
    }
    if (!img) this.#image(opts.image);
    if (opts.network && !this.networks.has(opts.network)) {
      const detail = `unable to find network with name or ID ${opts.network}: network not found`;
      throw new NetworkNotFoundError(`network "${opts.network}": network not found: ${detail}`, {
        detail,
      });
    }
    const c: FakeContainer = {
      id: idFor(`container:${opts.name}:${this.#seq++}`),
      name: opts.name,
      opts: { ...opts },
      imageId: img!.id,
      state: "created",
      created: this.#now(),
      startedAt: undefined,
      exitedAt: undefined,
      exitCode: 0,
      restartCount: 0,
      logs: [],
    };
    this.containers.set(c.id, c);
    this.#emit(
      "container",
      "create",
      { id: c.id, name: c.name, image: opts.image },
      {
        attributes: { ...(opts.labels ?? {}) },
      },
    );
    return c.id;
  }

  async runContainer(opts: CreateContainerOptions): Promise<string> {
    const id = await this.createContainer(opts);
    // Podman leaves the created container behind when the start fails; so does the fake.
    await this.startContainer(id);
    return id;
  }

  async startContainer(nameOrId: string): Promise<void> {
    this.#record("startContainer", nameOrId);
    const c = this.#container(nameOrId);
    if (c.state === "running") return;
    for (const p of c.opts.ports ?? []) {
      for (const other of this.containers.values()) {
        if (other === c || other.state !== "running") continue;
        if (
          (other.opts.ports ?? []).some(
            (q) => q.hostPort === p.hostPort && (q.protocol ?? "tcp") === (p.protocol ?? "tcp"),
          )
        ) {
          const detail = `rootlessport listen tcp ${p.hostIp ?? ""}:${p.hostPort}: bind: address already in use`;
          throw new PortInUseError(`container "${c.name}": port already in use: ${detail}`, {
            detail,
          });
        }
      }
    }
    c.state = "running";
    c.startedAt = this.#now();
    c.exitedAt = undefined;
    c.exitCode = 0;
    this.#emit(
      "container",
      "start",
      { id: c.id, name: c.name, image: c.opts.image },
      {
        attributes: { ...(c.opts.labels ?? {}) },
      },
    );
  }

  async stopContainer(nameOrId: string): Promise<void> {
    this.#record("stopContainer", nameOrId);
    const c = this.#container(nameOrId);
    if (c.state !== "running") return;
    c.state = "exited";
    c.exitCode = 137;
    c.exitedAt = this.#now();
    this.#emit(
      "container",
      "died",
      { id: c.id, name: c.name, image: c.opts.image },
      { exitCode: 137 },
    );
    this.#emit("container", "stop", { id: c.id, name: c.name, image: c.opts.image });
    for (const w of this.#logWaiters) w();
  }

  async restartContainer(nameOrId: string): Promise<void> {
    this.#record("restartContainer", nameOrId);
    const c = this.#container(nameOrId);
    await this.stopContainer(c.id);
    await this.startContainer(c.id);
    c.restartCount++;
    this.#emit("container", "restart", { id: c.id, name: c.name, image: c.opts.image });
  }

  async removeContainer(nameOrId: string, opts: { force?: boolean } = {}): Promise<void> {
    this.#record("removeContainer", nameOrId);
    const c = this.#container(nameOrId);
    if (c.state === "running" && !opts.force) {
      throw new PodmanCommandError(
        `container "${nameOrId}": cannot remove container ${c.id} as it is running - running or paused containers cannot be removed without force`,
      );
    }
    if (c.state === "running") await this.stopContainer(c.id);
    this.containers.delete(c.id);
    this.#emit("container", "remove", { id: c.id, name: c.name, image: c.opts.image });
  }

  async renameContainer(nameOrId: string, newName: string): Promise<void> {
    this.#record("renameContainer", nameOrId);
    const c = this.#container(nameOrId);
    if (this.#findContainer(newName)) {
      const detail = `name ${newName} already in use, cannot rename container ${c.id}: container already exists`;
      throw new NameInUseError(`container "${nameOrId}": name already in use: ${detail}`, {
        detail,
      });
    }
    c.name = newName;
    c.opts = { ...c.opts, name: newName };
    this.#emit("container", "rename", { id: c.id, name: newName, image: c.opts.image });
  }

  /**
   * Answers `execContainer`: the fake runs nothing, so a test says what the program would
   * return. Default: exit 0 with no output.
   */
  execHandler: (container: string, cmd: readonly string[]) => ExecResult = () => ({
    exitCode: 0,
    stdout: "",
    stderr: "",
  });

  async execContainer(nameOrId: string, cmd: readonly string[]): Promise<ExecResult> {
    this.#record("execContainer", nameOrId);
    if (cmd.length === 0) throw new InvalidOptionError("exec: empty command");
    const c = this.#container(nameOrId);
    if (c.state !== "running") {
      const detail = `can only create exec sessions on running containers: container state improper`;
      throw new PodmanCommandError(`container "${nameOrId}": ${detail}`, { detail, exitCode: 125 });
    }
    return this.execHandler(c.name, cmd);
  }

  async containerExists(nameOrId: string): Promise<boolean> {
    this.#record("containerExists", nameOrId);
    return this.#findContainer(nameOrId) !== undefined;
  }

  #ports(c: FakeContainer): PortMapping[] {
    return (c.opts.ports ?? []).map((p) => ({
      hostIp: p.hostIp ?? "",
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol ?? "tcp",
    }));
  }

  async inspectContainer(nameOrId: string): Promise<ContainerDetails> {
    this.#record("inspectContainer", nameOrId);
    const c = this.#container(nameOrId);
    const o = c.opts;
    return {
      id: c.id,
      name: c.name,
      image: normalizeRef(o.image),
      imageId: c.imageId,
      created: new Date(c.created * 1000),
      state: {
        status: c.state,
        running: c.state === "running",
        pid: c.state === "running" ? 4242 : 0,
        exitCode: c.exitCode,
        startedAt: c.startedAt === undefined ? undefined : new Date(c.startedAt * 1000),
        finishedAt: c.exitedAt === undefined ? undefined : new Date(c.exitedAt * 1000),
        error: "",
      },
      command: [...(o.cmd ?? [])],
      entrypoint:
        o.entrypoint === undefined
          ? []
          : typeof o.entrypoint === "string"
            ? [o.entrypoint]
            : [...o.entrypoint],
      env: { ...(o.env ?? {}) },
      labels: { ...(o.labels ?? {}) },
      user: o.user ?? "",
      stopTimeout: o.stopTimeout ?? 10,
      init: o.init ?? false,
      restartPolicy: o.restart ?? { name: "no" },
      restartCount: c.restartCount,
      ports: this.#ports(c),
      mounts: (o.volumes ?? []).map((v) => ({
        type: "bind",
        source: v.source,
        target: v.target,
        readOnly: v.readOnly ?? false,
      })),
      networks: [o.network ?? "podman"],
    };
  }

  async listContainers(opts: ListContainersOptions = {}): Promise<ContainerSummary[]> {
    this.#record("listContainers", opts);
    const nameRe = opts.name === undefined ? undefined : new RegExp(opts.name);
    const out: ContainerSummary[] = [];
    for (const c of this.containers.values()) {
      if (!(opts.all ?? true) && c.state !== "running") continue;
      const labels = c.opts.labels ?? {};
      const match = Object.entries(opts.labels ?? {}).every(([k, v]) =>
        v === undefined ? k in labels : labels[k] === v,
      );
      if (!match || (nameRe && !nameRe.test(c.name))) continue;
      out.push({
        id: c.id,
        name: c.name,
        names: [c.name],
        image: normalizeRef(c.opts.image),
        imageId: c.imageId,
        command: [...(c.opts.cmd ?? [])],
        state: c.state,
        status:
          c.state === "running"
            ? "Up"
            : c.state === "created"
              ? "Created"
              : `Exited (${c.exitCode})`,
        created: c.created,
        startedAt: c.startedAt,
        exitedAt: c.exitedAt,
        exitCode: c.exitCode,
        labels: { ...labels },
        ports: this.#ports(c),
        networks: [c.opts.network ?? "podman"],
        pod: "",
      });
    }
    return out;
  }

  #selectLogs(c: FakeContainer, o: LogsOptions): string[] {
    let entries = c.logs;
    if (o.since instanceof Date) {
      const since = o.since.getTime() / 1000;
      entries = entries.filter((e) => e.time >= since);
    }
    if (o.tail !== undefined) entries = o.tail === 0 ? [] : entries.slice(-o.tail);
    return entries.map((e) => e.line);
  }

  async logs(nameOrId: string, opts: LogsOptions = {}): Promise<string[]> {
    this.#record("logs", nameOrId);
    return this.#selectLogs(this.#container(nameOrId), opts);
  }

  async *followLogs(nameOrId: string, opts: FollowLogsOptions): AsyncGenerator<string> {
    this.#record("followLogs", nameOrId);
    const c = this.#container(nameOrId);
    const first = this.#selectLogs(c, opts);
    let next = c.logs.length;
    for (const l of first) yield l;
    while (!opts.signal.aborted) {
      if (next < c.logs.length) {
        yield c.logs[next++]!.line;
        continue;
      }
      if (c.state !== "running" || !this.containers.has(c.id)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#logWaiters.delete(done);
          opts.signal.removeEventListener("abort", done);
          resolve();
        };
        this.#logWaiters.add(done);
        opts.signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  async createNetwork(name: string, opts: CreateNetworkOptions = {}): Promise<void> {
    this.#record("createNetwork", name);
    createNetworkArgs(name, opts);
    if (this.networks.has(name)) {
      throw new NameInUseError(
        `network "${name}": name already in use: network name ${name} already used`,
      );
    }
    this.networks.set(name, {
      name,
      id: idFor(`network:${name}`),
      driver: "bridge",
      dnsEnabled: opts.dns ?? true,
      internal: opts.internal ?? false,
      subnets: opts.subnet ? [{ subnet: opts.subnet, gateway: "" }] : [],
      labels: { ...(opts.labels ?? {}) },
    });
    this.#emit("network", "create", { id: idFor(`network:${name}`), name });
  }

  async networkExists(name: string): Promise<boolean> {
    this.#record("networkExists", name);
    return this.networks.has(name);
  }

  async listNetworks(): Promise<NetworkSummary[]> {
    this.#record("listNetworks", undefined);
    return [...this.networks.values()].map((n) => ({ ...n, labels: { ...n.labels } }));
  }

  async removeNetwork(name: string): Promise<void> {
    this.#record("removeNetwork", name);
    if (!this.networks.delete(name)) {
      throw new NetworkNotFoundError(`network "${name}": network not found`);
    }
    this.#emit("network", "remove", { id: idFor(`network:${name}`), name });
  }

  async *events(opts: EventsOptions): AsyncGenerator<RuntimeEvent> {
    this.#record("events", opts.filters);
    const queue: RuntimeEvent[] = [];
    let wake: (() => void) | undefined;
    const listener = (e: RuntimeEvent) => {
      const types = opts.filters?.type;
      if (types && !types.includes(e.type)) return;
      queue.push(e);
      wake?.();
    };
    this.#listeners.add(listener);
    const onAbort = () => wake?.();
    opts.signal.addEventListener("abort", onAbort);
    try {
      while (!opts.signal.aborted) {
        const e = queue.shift();
        if (e) {
          yield e;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.#listeners.delete(listener);
      opts.signal.removeEventListener("abort", onAbort);
    }
  }
}
