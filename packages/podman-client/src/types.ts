/** The data and options of the container runtime interface, independent of Podman's JSON. */

export type ContainerState =
  | "configured"
  | "created"
  | "initialized"
  | "running"
  | "paused"
  | "stopping"
  | "stopped"
  | "exited"
  | "removing"
  | "unknown";

export type PortProtocol = "tcp" | "udp" | "sctp";

export interface PortMapping {
  /** Host address the port is bound to; "" means all addresses. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: PortProtocol;
}

export interface ContainerSummary {
  id: string;
  /** The first name (containers have exactly one in practice). */
  name: string;
  names: string[];
  image: string;
  imageId: string;
  command: string[];
  state: ContainerState;
  /** Podman's human status, e.g. "Up 3 minutes", "Exited (0) 2 seconds ago". */
  status: string;
  /** Unix seconds. */
  created: number;
  /** Unix seconds, undefined when never started. */
  startedAt: number | undefined;
  /** Unix seconds, undefined when never exited. */
  exitedAt: number | undefined;
  exitCode: number;
  labels: Record<string, string>;
  ports: PortMapping[];
  networks: string[];
  pod: string;
}

export interface RestartPolicy {
  name: "no" | "always" | "on-failure" | "unless-stopped";
  /** Only with on-failure; 0 means no limit. */
  maxRetries?: number;
}

export interface VolumeMount {
  /** Host path or named volume. */
  source: string;
  target: string;
  readOnly?: boolean;
}

export interface MountInfo {
  type: string;
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerDetails {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: Date;
  state: {
    status: ContainerState;
    running: boolean;
    pid: number;
    exitCode: number;
    startedAt: Date | undefined;
    finishedAt: Date | undefined;
    error: string;
  };
  command: string[];
  entrypoint: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  user: string;
  stopTimeout: number | undefined;
  init: boolean;
  restartPolicy: RestartPolicy;
  restartCount: number;
  ports: PortMapping[];
  mounts: MountInfo[];
  networks: string[];
}

export interface CreateContainerOptions {
  name: string;
  image: string;
  /** Arguments after the image (the container's command). */
  cmd?: readonly string[];
  entrypoint?: string | readonly string[];
  env?: Readonly<Record<string, string>>;
  ports?: readonly PortPublish[];
  volumes?: readonly VolumeMount[];
  network?: string;
  /** Extra names the container answers to on `network` (DNS). */
  networkAliases?: readonly string[];
  user?: string;
  restart?: RestartPolicy;
  labels?: Readonly<Record<string, string>>;
  /** Seconds Podman waits after SIGTERM before SIGKILL on stop. */
  stopTimeout?: number;
  /** Run a tiny init (catatonit) as PID 1, which forwards signals and reaps zombies. */
  init?: boolean;
  workdir?: string;
  hostname?: string;
  /** Pull policy when creating; default "missing" (Podman's). */
  pull?: "always" | "missing" | "never" | "newer";
  /** Extra `--ulimit` values, e.g. "nofile=1024:1024". */
  ulimits?: readonly string[];
  /** Passed through verbatim before the image; for the rare flag this interface lacks. */
  extraArgs?: readonly string[];
}

export interface PortPublish {
  hostPort: number;
  containerPort: number;
  /** Default: all addresses. */
  hostIp?: string;
  protocol?: PortProtocol;
}

export interface ListContainersOptions {
  /** Include stopped containers (default true). */
  all?: boolean;
  /** Only containers carrying all of these labels (value undefined: label present). */
  labels?: Readonly<Record<string, string | undefined>>;
  /** Only containers whose name matches (Podman matches as a regular expression). */
  name?: string;
}

export interface LogsOptions {
  /** Only the last n lines. */
  tail?: number;
  /** Only lines since this time (Date, RFC 3339, or Go duration like "10m"). */
  since?: Date | string;
  timestamps?: boolean;
}

export interface FollowLogsOptions extends LogsOptions {
  /** Ends the iteration (and the podman process) when aborted. */
  signal: AbortSignal;
}

export interface ImageSummary {
  id: string;
  /** Tags, e.g. "localhost/x:v1". */
  names: string[];
  digest: string;
  repoDigests: string[];
  /** Unix seconds. */
  created: number;
  size: number;
  labels: Record<string, string>;
}

export interface ImageDetails {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  digest: string;
  created: Date;
  size: number;
  architecture: string;
  os: string;
  labels: Record<string, string>;
}

export interface RegistryOptions {
  /** Path of a containers-auth.json file (podman login writes one); never logged. */
  authFile?: string;
  /** false for plain-HTTP or self-signed registries (tests on loopback). */
  tlsVerify?: boolean;
  /** A directory of CA certificates (`*.crt`) for the registry (`--cert-dir`). */
  certDir?: string;
}

export interface BuildOptions {
  /** The build context directory. */
  context: string;
  /** Containerfile path; default Containerfile/Dockerfile in the context. */
  file?: string;
  tags: readonly string[];
  buildArgs?: Readonly<Record<string, string>>;
  labels?: Readonly<Record<string, string>>;
  /** Called with each line the build prints, as it prints it. */
  onOutput?: (line: string) => void;
  pull?: "always" | "missing" | "never" | "newer";
  noCache?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface NetworkSummary {
  name: string;
  id: string;
  driver: string;
  dnsEnabled: boolean;
  internal: boolean;
  subnets: { subnet: string; gateway: string }[];
  labels: Record<string, string>;
}

export interface CreateNetworkOptions {
  /** Default true: containers on the network resolve each other by name. */
  dns?: boolean;
  labels?: Readonly<Record<string, string>>;
  internal?: boolean;
  subnet?: string;
}

export interface VersionInfo {
  version: string;
  apiVersion: string;
  goVersion: string;
  osArch: string;
}

export interface RuntimeInfo {
  version: string;
  rootless: boolean;
  /** OCI runtime, e.g. "runc" or "crun". */
  ociRuntime: string;
  cgroupVersion: string;
  cgroupManager: string;
  /** "netavark" or "cni"; "" when Podman does not say (older versions). */
  networkBackend: string;
  graphDriver: string;
  graphRoot: string;
  runRoot: string;
  eventLogger: string;
  hostname: string;
  kernel: string;
  os: string;
  arch: string;
}

export type EventType = "container" | "image" | "network" | "pod" | "volume" | "system" | string;

export interface RuntimeEvent {
  type: EventType;
  /** Podman's event status: create, start, died, stop, remove, rename, pull, … */
  action: string;
  id: string;
  name: string;
  image: string;
  time: Date;
  exitCode: number | undefined;
  attributes: Record<string, string>;
}

export interface EventsOptions {
  signal: AbortSignal;
  /** Podman filters, e.g. { type: ["container"], label: ["mcp.service"] }. */
  filters?: Readonly<Record<string, readonly string[]>>;
  /** Replay events since this time (Date, RFC 3339, or Go duration). */
  since?: Date | string;
}

/** What `podman exec` reports: the program's exit code and its output. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * What the agent needs from a container runtime. The Podman implementation and the
 * in-memory fake (`@mcp/podman-client/fake`) both implement all of it.
 */
export interface ContainerRuntime {
  version(opts?: CallOptions): Promise<VersionInfo>;
  info(opts?: CallOptions): Promise<RuntimeInfo>;

  imageExists(ref: string, opts?: CallOptions): Promise<boolean>;
  pullImage(ref: string, opts?: RegistryOptions & CallOptions): Promise<string>;
  pushImage(
    ref: string,
    opts?: RegistryOptions & CallOptions & { destination?: string },
  ): Promise<void>;
  buildImage(opts: BuildOptions): Promise<string>;
  tagImage(ref: string, newRef: string, opts?: CallOptions): Promise<void>;
  saveImage(ref: string | readonly string[], file: string, opts?: CallOptions): Promise<void>;
  /** Loads a `podman save` archive; resolves to the names it loaded. */
  loadImage(file: string, opts?: CallOptions): Promise<string[]>;
  removeImage(ref: string, opts?: CallOptions & { force?: boolean }): Promise<void>;
  listImages(opts?: CallOptions): Promise<ImageSummary[]>;
  inspectImage(ref: string, opts?: CallOptions): Promise<ImageDetails>;

  createContainer(opts: CreateContainerOptions, call?: CallOptions): Promise<string>;
  /** Create and start (detached); resolves to the container id. */
  runContainer(opts: CreateContainerOptions, call?: CallOptions): Promise<string>;
  startContainer(nameOrId: string, opts?: CallOptions): Promise<void>;
  /** timeoutSeconds overrides the container's stop timeout. */
  stopContainer(nameOrId: string, opts?: CallOptions & { timeoutSeconds?: number }): Promise<void>;
  restartContainer(
    nameOrId: string,
    opts?: CallOptions & { timeoutSeconds?: number },
  ): Promise<void>;
  removeContainer(
    nameOrId: string,
    opts?: CallOptions & { force?: boolean; timeoutSeconds?: number },
  ): Promise<void>;
  renameContainer(nameOrId: string, newName: string, opts?: CallOptions): Promise<void>;
  /**
   * Runs a program inside a running container (`podman exec`, no shell). A non-zero exit of
   * the program is a result, not an error; a container that is missing or not running is.
   */
  execContainer(nameOrId: string, cmd: readonly string[], opts?: CallOptions): Promise<ExecResult>;
  containerExists(nameOrId: string, opts?: CallOptions): Promise<boolean>;
  inspectContainer(nameOrId: string, opts?: CallOptions): Promise<ContainerDetails>;
  listContainers(opts?: ListContainersOptions & CallOptions): Promise<ContainerSummary[]>;
  /** The log lines at once (bounded by tail/since). */
  logs(nameOrId: string, opts?: LogsOptions & CallOptions): Promise<string[]>;
  /** Log lines as they come; ends when opts.signal aborts or the container's log ends. */
  followLogs(nameOrId: string, opts: FollowLogsOptions): AsyncIterable<string>;

  createNetwork(name: string, opts?: CreateNetworkOptions & CallOptions): Promise<void>;
  networkExists(name: string, opts?: CallOptions): Promise<boolean>;
  listNetworks(opts?: CallOptions): Promise<NetworkSummary[]>;
  removeNetwork(name: string, opts?: CallOptions & { force?: boolean }): Promise<void>;

  /** Events as they happen; ends when opts.signal aborts. */
  events(opts: EventsOptions): AsyncIterable<RuntimeEvent>;
}
