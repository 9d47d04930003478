/**
 * Errors of the Podman client. One class per failure a caller can act on; each carries
 * Podman's own stderr line (`detail`) and the command that failed, and the underlying
 * error in `cause`. Messages never contain environment values or credentials.
 */

export type PodmanErrorCode =
  | "podman-missing"
  | "environment"
  | "image-not-found"
  | "container-not-found"
  | "network-not-found"
  | "name-in-use"
  | "port-in-use"
  | "permission-denied"
  | "registry"
  | "timeout"
  | "aborted"
  | "bad-output"
  | "invalid-option"
  | "command-failed";

const brand = Symbol.for("@mcp/podman-client/PodmanError");

export interface PodmanErrorOptions {
  /** Podman's own error line (from stderr), when there was one. */
  detail?: string;
  /** The Podman subcommand and its arguments (never the environment). */
  command?: readonly string[];
  exitCode?: number;
  cause?: unknown;
}

export class PodmanError extends Error {
  readonly code: PodmanErrorCode;
  readonly detail: string | undefined;
  readonly command: readonly string[] | undefined;
  readonly exitCode: number | undefined;
  readonly [brand] = true;

  constructor(code: PodmanErrorCode, message: string, options: PodmanErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PodmanError";
    this.code = code;
    this.detail = options.detail;
    this.command = options.command;
    this.exitCode = options.exitCode;
  }
}

/** `podman` is not installed or not on the PATH the client was given. */
export class PodmanMissingError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("podman-missing", message, options);
    this.name = "PodmanMissingError";
  }
}

/** The environment Podman needs is wrong; `variable` names what to fix (e.g. XDG_RUNTIME_DIR). */
export class PodmanEnvironmentError extends PodmanError {
  readonly variable: string;
  constructor(variable: string, message: string, options?: PodmanErrorOptions) {
    super("environment", message, options);
    this.name = "PodmanEnvironmentError";
    this.variable = variable;
  }
}

export class ImageNotFoundError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("image-not-found", message, options);
    this.name = "ImageNotFoundError";
  }
}

export class ContainerNotFoundError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("container-not-found", message, options);
    this.name = "ContainerNotFoundError";
  }
}

export class NetworkNotFoundError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("network-not-found", message, options);
    this.name = "NetworkNotFoundError";
  }
}

export class NameInUseError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("name-in-use", message, options);
    this.name = "NameInUseError";
  }
}

export class PortInUseError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("port-in-use", message, options);
    this.name = "PortInUseError";
  }
}

export class PermissionDeniedError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("permission-denied", message, options);
    this.name = "PermissionDeniedError";
  }
}

/** A registry refused or could not be reached (auth, TLS, connection). */
export class RegistryError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("registry", message, options);
    this.name = "RegistryError";
  }
}

export class PodmanTimeoutError extends PodmanError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number, message: string, options?: PodmanErrorOptions) {
    super("timeout", message, options);
    this.name = "PodmanTimeoutError";
    this.timeoutMs = timeoutMs;
  }
}

export class PodmanAbortedError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("aborted", message, options);
    this.name = "PodmanAbortedError";
  }
}

/** Podman printed something this client does not understand; `field` names where. */
export class PodmanOutputError extends PodmanError {
  readonly field: string;
  constructor(field: string, message: string, options?: PodmanErrorOptions) {
    super("bad-output", message, options);
    this.name = "PodmanOutputError";
    this.field = field;
  }
}

/** An option given to the client is invalid; nothing was run. */
export class InvalidOptionError extends PodmanError {
  constructor(message: string) {
    super("invalid-option", message);
    this.name = "InvalidOptionError";
  }
}

/** Any other non-zero exit of Podman. */
export class PodmanCommandError extends PodmanError {
  constructor(message: string, options?: PodmanErrorOptions) {
    super("command-failed", message, options);
    this.name = "PodmanCommandError";
  }
}

/**
 * True for any error of this package (optionally of one code). Checks a registered symbol
 * rather than `instanceof`, so two copies of the package in one process still agree.
 */
export function isPodmanError(e: unknown, code?: PodmanErrorCode): e is PodmanError {
  if (typeof e !== "object" || e === null || !(brand in e)) return false;
  return code === undefined || (e as PodmanError).code === code;
}

/**
 * Podman's own error line from its stderr: the last line that starts with "Error:",
 * else the last line that is not a logrus warning (e.g. '"/" is not a shared mount').
 */
export function podmanErrorLine(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (l.startsWith("Error:")) return l.slice("Error:".length).trim();
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (!/^time="[^"]*" level=(warning|info|debug)/.test(l)) return l;
  }
  return "";
}

const GROUPS = new Set(["container", "image", "network", "volume", "pod", "system", "manifest"]);

/** "ps", "container inspect", "network create": the subcommand, for messages. */
export function commandName(args: readonly string[]): string {
  const first = args[0] ?? "";
  return GROUPS.has(first) && args[1] ? `${first} ${args[1]}` : first;
}

export interface FailureContext {
  /** The Podman arguments (without the binary). */
  args: readonly string[];
  stderr: string;
  exitCode: number | undefined;
  /** What the call was about, for the message: `container "web"`, `image "x:1"`. */
  subject?: string;
}

/**
 * Maps a failed Podman call to the error class a caller can act on, by Podman's stderr.
 * Pure, so every pattern is unit-tested against messages recorded from real Podman.
 */
export function classifyFailure(ctx: FailureContext): PodmanError {
  const detail = podmanErrorLine(ctx.stderr);
  const sub = commandName(ctx.args);
  const what = ctx.subject ? ` (${ctx.subject})` : "";
  const options: PodmanErrorOptions = {
    detail,
    command: ctx.args,
    ...(ctx.exitCode === undefined ? {} : { exitCode: ctx.exitCode }),
  };
  const msg = (summary: string) => `podman ${sub}${what}: ${summary}: ${detail}`;
  const d = detail.toLowerCase();

  if (/no such container|no container with (name or id|id|name)/.test(d)) {
    return new ContainerNotFoundError(msg("container not found"), options);
  }
  if (/address already in use|port is already allocated|bind: .*in use/.test(d)) {
    return new PortInUseError(msg("port already in use"), options);
  }
  if (
    /name .*already in use|that name is already in use|name is in use|container already exists|network already exists/.test(
      d,
    )
  ) {
    return new NameInUseError(msg("name already in use"), options);
  }
  if (/network not found|unable to find network|no such network/.test(d)) {
    return new NetworkNotFoundError(msg("network not found"), options);
  }
  if (
    /image not known|no such image|manifest unknown|repository name not known|not found: manifest|name unknown|reading manifest .* not found/.test(
      d,
    )
  ) {
    return new ImageNotFoundError(msg("image not found"), options);
  }
  if (
    /unauthorized|authentication required|requested access to the resource is denied|x509:|certificate signed by unknown authority|pinging container registry|server gave http response to https client|connection refused/.test(
      d,
    )
  ) {
    return new RegistryError(msg("registry error"), options);
  }
  if (/permission denied|operation not permitted/.test(d)) {
    return new PermissionDeniedError(msg("permission denied"), options);
  }
  return new PodmanCommandError(
    msg(`failed${ctx.exitCode === undefined ? "" : ` (exit ${ctx.exitCode})`}`),
    options,
  );
}
