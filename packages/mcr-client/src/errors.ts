// One class per failure a caller can act on. Messages are safe to show an operator: they
// never contain a password, an MCIAS token or a registry token. The underlying error is in
// `cause`.

const brand = Symbol.for("@mcp/mcr-client/McrError");

export type McrErrorCode =
  | "unauthorized"
  | "not-found"
  | "unreachable"
  | "timeout"
  | "bad-response"
  | "invalid-argument";

export abstract class McrError extends Error {
  abstract readonly code: McrErrorCode;
  readonly [brand] = true;
}

/**
 * The registry or its token service refused the credentials (401 after the token flow, a
 * 401 from the token endpoint, or 403 denied). Fix the credentials or the account's roles.
 */
export class McrUnauthorizedError extends McrError {
  override readonly name = "McrUnauthorizedError";
  readonly code = "unauthorized" as const;
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The repository does not exist (NAME_UNKNOWN). A missing tag is not this: it is `false`. */
export class McrNotFoundError extends McrError {
  override readonly name = "McrNotFoundError";
  readonly code = "not-found" as const;
}

/**
 * Connection refused, name not resolved, TLS failure, reset, or a 502/503/504 from the
 * registry or its token service: nothing answered usefully; try again later.
 */
export class McrUnreachableError extends McrError {
  override readonly name = "McrUnreachableError";
  readonly code = "unreachable" as const;
}

/** The call did not finish within its timeout (token fetch and retries included). */
export class McrTimeoutError extends McrError {
  override readonly name = "McrTimeoutError";
  readonly code = "timeout" as const;
}

/** An answer that does not follow the distribution API (garbage challenge, non-JSON token, other statuses). */
export class McrBadResponseError extends McrError {
  override readonly name = "McrBadResponseError";
  readonly code = "bad-response" as const;
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A bad image reference, or a client option that cannot be honoured (http:// off loopback). */
export class McrInvalidArgumentError extends McrError {
  override readonly name = "McrInvalidArgumentError";
  readonly code = "invalid-argument" as const;
}

/**
 * Recognises errors of this package, also across two copies of it in one process (so
 * not `instanceof`). With `code`, only that kind.
 */
export function isMcrError(e: unknown, code?: McrErrorCode): e is McrError {
  return (
    typeof e === "object" &&
    e !== null &&
    (e as Record<symbol, unknown>)[brand] === true &&
    (code === undefined || (e as McrError).code === code)
  );
}

export function isMcrUnauthorized(e: unknown): e is McrUnauthorizedError {
  return isMcrError(e, "unauthorized");
}
export function isMcrNotFound(e: unknown): e is McrNotFoundError {
  return isMcrError(e, "not-found");
}
export function isMcrUnreachable(e: unknown): e is McrUnreachableError {
  return isMcrError(e, "unreachable");
}
export function isMcrTimeout(e: unknown): e is McrTimeoutError {
  return isMcrError(e, "timeout");
}
export function isMcrBadResponse(e: unknown): e is McrBadResponseError {
  return isMcrError(e, "bad-response");
}
export function isMcrInvalidArgument(e: unknown): e is McrInvalidArgumentError {
  return isMcrError(e, "invalid-argument");
}
