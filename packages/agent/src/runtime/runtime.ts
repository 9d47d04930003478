// The container runtime as the agent needs it: a small port with one real implementation
// (Podman) and a complete fake for unit tests.

export interface PortPublish {
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
  hostIp?: string | undefined;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  /** Podman state: running, exited, created, paused, stopped, ... */
  state: string;
  /** Podman's human status, e.g. "Up 3 hours". */
  status: string;
  exitCode?: number | undefined;
  labels: Record<string, string>;
  ports: PortPublish[];
  createdAt?: Date | undefined;
  startedAt?: Date | undefined;
  /** "healthy", "unhealthy", "starting" or "" when there is no check. */
  health: string;
  restartCount: number;
}

export interface CreateContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  ports: PortPublish[];
  volumes: string[];
  cmd?: string[] | undefined;
  network?: string | undefined;
  user?: string | undefined;
  restart?: string | undefined;
  /** Seconds Podman waits after SIGTERM before SIGKILL. */
  stopTimeout?: number | undefined;
}

export interface LogLine {
  stream: "stdout" | "stderr";
  line: string;
  time?: Date | undefined;
}

export interface LogOptions {
  follow: boolean;
  tail?: number | undefined;
  since?: Date | undefined;
  signal: AbortSignal;
}

export interface ContainerRuntime {
  version(): Promise<string>;
  /** All containers, running or not. */
  list(): Promise<ContainerInfo[]>;
  imageExists(image: string): Promise<boolean>;
  pull(image: string): Promise<void>;
  /**
   * Removes an image by reference (`podman rmi`, never forced: an image a container uses
   * is refused). Optional: a runtime without it makes history retention keep every image.
   */
  removeImage?(image: string): Promise<void>;
  /** Creates (does not start) a container; returns its id. */
  create(spec: CreateContainerSpec): Promise<string>;
  /** Creates and starts a container in one call (`podman run -d`); returns its id. */
  run(spec: CreateContainerSpec): Promise<string>;
  start(name: string): Promise<void>;
  stop(name: string, options?: { timeoutSeconds?: number }): Promise<void>;
  /** Stops (waiting `timeoutSeconds` before the kill, as `stop` does) and starts again. */
  restart(name: string, options?: { timeoutSeconds?: number }): Promise<void>;
  remove(name: string, options?: { force?: boolean; timeoutSeconds?: number }): Promise<void>;
  rename(name: string, newName: string): Promise<void>;
  logs(name: string, options: LogOptions): AsyncIterable<LogLine>;
  /**
   * Runs a program inside a running container (health checks of type command). A non-zero
   * exit is a result; a missing or stopped container throws. Optional: a runtime without it
   * fails command checks.
   */
  exec?(name: string, cmd: string[], options: { timeoutMs: number }): Promise<ExecResult>;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}
