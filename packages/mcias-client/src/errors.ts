// One class per failure a caller can act on. Messages are safe to show an operator:
// they never contain a token or a password. The underlying error is in `cause`.

const brand = Symbol.for("@mcp/mcias-client/MciasError");

export type MciasErrorCode = "unavailable" | "unauthorized" | "bad-response";

export abstract class MciasError extends Error {
  abstract readonly code: MciasErrorCode;
  readonly [brand] = true;
}

/** MCIAS could not be reached, timed out, or failed (5xx). Retry later; never assume valid. */
export class MciasUnavailableError extends MciasError {
  override readonly name = "MciasUnavailableError";
  readonly code = "unavailable" as const;
}

/** MCIAS refused the credentials (login) or this caller (validate). */
export class MciasUnauthorizedError extends MciasError {
  override readonly name = "MciasUnauthorizedError";
  readonly code = "unauthorized" as const;
}

/** MCIAS answered something that does not follow the contract. */
export class MciasBadResponseError extends MciasError {
  override readonly name = "MciasBadResponseError";
  readonly code = "bad-response" as const;
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Recognises errors of this package, also across two copies of it in one process (so
 * not `instanceof`).
 */
export function isMciasError(e: unknown): e is MciasError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[brand] === true;
}

export function isMciasUnavailable(e: unknown): e is MciasUnavailableError {
  return isMciasError(e) && e.code === "unavailable";
}

export function isMciasUnauthorized(e: unknown): e is MciasUnauthorizedError {
  return isMciasError(e) && e.code === "unauthorized";
}
