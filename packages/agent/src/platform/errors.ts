/**
 * A platform step's failure, naming the service and what was being done, with the client's
 * error (which names the request and the cause) in the message and in `cause`. When the
 * service could not be reached or did not answer in time the name is
 * `PlatformUnavailableError`, which the RPC error map reports as Unavailable (try again);
 * anything else stays `PlatformError` (FailedPrecondition: fix something first).
 */
export class PlatformError extends Error {
  readonly unavailable: boolean;

  constructor(what: string, cause: unknown) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`${what}: ${msg.split("\n")[0] ?? msg}`, { cause });
    const kind = (cause as { kind?: unknown } | undefined)?.kind;
    this.unavailable = kind === "unreachable" || kind === "timeout";
    this.name = this.unavailable ? "PlatformUnavailableError" : "PlatformError";
  }
}

export function isPlatformError(e: unknown): e is PlatformError {
  const name = (e as { name?: unknown } | undefined)?.name;
  return e instanceof Error && (name === "PlatformError" || name === "PlatformUnavailableError");
}
