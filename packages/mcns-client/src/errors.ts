// A brand on a registry symbol rather than `instanceof`, so that two copies of this package
// in one process (two versions in node_modules) still recognise each other's errors.
const BRAND = Symbol.for("@mcp/mcns-client/McnsError");

export type McnsErrorKind =
  | "unreachable"
  | "timeout"
  | "unauthorized"
  | "not-found"
  | "conflict"
  | "rejected"
  | "server"
  | "bad-response";

/**
 * Every failure of a Mcns call. The message is safe to show an operator: it never
 * contains the token. The underlying error, if any, is in `cause`.
 */
export class McnsError extends Error {
  readonly kind: McnsErrorKind;
  /** HTTP status when the server answered. */
  readonly status: number | undefined;
  readonly [BRAND] = true;

  constructor(
    kind: McnsErrorKind,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "McnsError";
    this.kind = kind;
    this.status = options?.status;
  }
}

/** No connection could be made (refused, no route, TLS verification failed, reset). Retry later or fix the URL/CA. */
export class McnsUnreachableError extends McnsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unreachable", message, options);
    this.name = "McnsUnreachableError";
  }
}

/** The call did not finish within the timeout. */
export class McnsTimeoutError extends McnsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("timeout", message, options);
    this.name = "McnsTimeoutError";
  }
}

/** 401 or 403: the token is missing, invalid, expired, or lacks the right. */
export class McnsUnauthorizedError extends McnsError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("unauthorized", message, options);
    this.name = "McnsUnauthorizedError";
  }
}

/** 404: the zone or the record does not exist. */
export class McnsNotFoundError extends McnsError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("not-found", message, options);
    this.name = "McnsNotFoundError";
  }
}

/** 409: the record clashes with one that exists (the same record, or a CNAME beside other data). */
export class McnsConflictError extends McnsError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("conflict", message, options);
    this.name = "McnsConflictError";
  }
}

/** 400/422 (other 4xx too): the server refused the request as given (bad name, bad value). */
export class McnsRejectedError extends McnsError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("rejected", message, options);
    this.name = "McnsRejectedError";
  }
}

/** 5xx: the server failed; retrying later may help. */
export class McnsServerError extends McnsError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("server", message, options);
    this.name = "McnsServerError";
  }
}

/** The server answered 2xx with something that is not the documented shape; `field` names what was wrong. */
export class McnsBadResponseError extends McnsError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown; status?: number }) {
    super("bad-response", message, options);
    this.name = "McnsBadResponseError";
    this.field = field;
  }
}

export function isMcnsError(e: unknown): e is McnsError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

function guard<T extends McnsError>(kind: McnsErrorKind) {
  return (e: unknown): e is T => isMcnsError(e) && e.kind === kind;
}

export const isMcnsUnreachableError = guard<McnsUnreachableError>("unreachable");
export const isMcnsTimeoutError = guard<McnsTimeoutError>("timeout");
export const isMcnsUnauthorizedError = guard<McnsUnauthorizedError>("unauthorized");
export const isMcnsNotFoundError = guard<McnsNotFoundError>("not-found");
export const isMcnsConflictError = guard<McnsConflictError>("conflict");
export const isMcnsRejectedError = guard<McnsRejectedError>("rejected");
export const isMcnsServerError = guard<McnsServerError>("server");
export const isMcnsBadResponseError = guard<McnsBadResponseError>("bad-response");
