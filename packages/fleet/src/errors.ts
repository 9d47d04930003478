/**
 * One class per failure an operator (or the CLI) can act on. The message is safe to show;
 * the underlying error, when there is one, is in `cause`. Recognise them with the guards:
 * they compare `name`, so two copies of this package still agree.
 */

abstract class FleetError extends Error {
  /** The SSH destination (`user@host:port`) or node name the failure is about. */
  readonly target: string;
  constructor(message: string, target: string, options?: { cause?: unknown }) {
    super(message, options);
    this.target = target;
  }
}

/** The host did not answer: refused, no route, DNS, or the connect timeout passed. */
export class SshUnreachableError extends FleetError {
  override readonly name = "SshUnreachableError";
}

/** The host answered but refused every key offered (BatchMode: no password prompts). */
export class SshAuthError extends FleetError {
  override readonly name = "SshAuthError";
}

/**
 * The host's key is unknown or does not match known_hosts. Never accepted silently: a
 * changed key on an upgrade can be a machine in the middle.
 */
export class SshHostKeyError extends FleetError {
  override readonly name = "SshHostKeyError";
}

/** The call did not finish within its timeout; the ssh process was killed. */
export class SshTimeoutError extends FleetError {
  override readonly name = "SshTimeoutError";
  readonly timeoutMs: number;
  constructor(message: string, target: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(message, target, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The remote command ran and exited non-zero. */
export class RemoteCommandError extends FleetError {
  override readonly name = "RemoteCommandError";
  readonly exitCode: number;
  /** The last lines of the command's stderr, for the operator. */
  readonly stderrTail: string;
  constructor(
    message: string,
    target: string,
    exitCode: number,
    stderrTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, target, options);
    this.exitCode = exitCode;
    this.stderrTail = stderrTail;
  }
}

/** The artifact's sha256 on the node (or locally) is not the one published beside it. */
export class ChecksumMismatchError extends FleetError {
  override readonly name = "ChecksumMismatchError";
}

/** No artifact, several candidates, or an unreadable one in the artifacts directory. */
export class ArtifactError extends Error {
  override readonly name = "ArtifactError";
}

/** Bad input to a fleet function (node list, option values); nothing was changed. */
export class FleetInputError extends Error {
  override readonly name = "FleetInputError";
}

const named =
  <T>(...names: string[]) =>
  (e: unknown): e is T =>
    e instanceof Error && names.includes(e.name);

export const isSshUnreachableError = named<SshUnreachableError>("SshUnreachableError");
export const isSshAuthError = named<SshAuthError>("SshAuthError");
export const isSshHostKeyError = named<SshHostKeyError>("SshHostKeyError");
export const isSshTimeoutError = named<SshTimeoutError>("SshTimeoutError");
export const isRemoteCommandError = named<RemoteCommandError>("RemoteCommandError");
export const isChecksumMismatchError = named<ChecksumMismatchError>("ChecksumMismatchError");
export const isArtifactError = named<ArtifactError>("ArtifactError");
export const isFleetInputError = named<FleetInputError>("FleetInputError");
/** Any failure to run something over SSH (transport or remote exit status). */
export const isSshError = named<
  SshUnreachableError | SshAuthError | SshHostKeyError | SshTimeoutError | RemoteCommandError
>(
  "SshUnreachableError",
  "SshAuthError",
  "SshHostKeyError",
  "SshTimeoutError",
  "RemoteCommandError",
);

/** One line for a table cell or a log field. */
export function errorLine(e: unknown): string {
  if (e instanceof Error) return e.message.split("\n")[0] ?? e.name;
  return String(e);
}
