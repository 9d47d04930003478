// A brand on a registry symbol rather than `instanceof`, so that two copies of this package
// in one process (two versions in node_modules) still recognise each other's errors.
const BRAND = Symbol.for("@mcp/metacrypt-client/MetacryptError");
const BRAND_CERT = Symbol.for("@mcp/metacrypt-client/InvalidCertificateError");

export type MetacryptErrorKind =
  | "unreachable"
  | "timeout"
  | "unauthorized"
  | "not-found"
  | "rejected"
  | "server"
  | "bad-response";

/**
 * Every failure of a Metacrypt call. The message is safe to show an operator: it never
 * contains the token. The underlying error, if any, is in `cause`.
 */
export class MetacryptError extends Error {
  readonly kind: MetacryptErrorKind;
  /** HTTP status when the server answered. */
  readonly status: number | undefined;
  readonly [BRAND] = true;

  constructor(
    kind: MetacryptErrorKind,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MetacryptError";
    this.kind = kind;
    this.status = options?.status;
  }
}

/** No connection could be made (refused, no route, TLS verification failed, reset). Retry later or fix the URL/CA. */
export class MetacryptUnreachableError extends MetacryptError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unreachable", message, options);
    this.name = "MetacryptUnreachableError";
  }
}

/** The call did not finish within the timeout. */
export class MetacryptTimeoutError extends MetacryptError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("timeout", message, options);
    this.name = "MetacryptTimeoutError";
  }
}

/** 401 or 403: the token is missing, invalid, expired, or lacks the right. */
export class MetacryptUnauthorizedError extends MetacryptError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("unauthorized", message, options);
    this.name = "MetacryptUnauthorizedError";
  }
}

/** 404: the mount, issuer or path does not exist. */
export class MetacryptNotFoundError extends MetacryptError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("not-found", message, options);
    this.name = "MetacryptNotFoundError";
  }
}

/** 400/422 (other 4xx too): the server refused the request as given (bad TTL, bad SAN, unknown profile). */
export class MetacryptRejectedError extends MetacryptError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("rejected", message, options);
    this.name = "MetacryptRejectedError";
  }
}

/** 5xx: the server failed; retrying later may help. */
export class MetacryptServerError extends MetacryptError {
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super("server", message, options);
    this.name = "MetacryptServerError";
  }
}

/** The server answered 2xx with something that is not the documented shape; `field` names what was wrong. */
export class MetacryptBadResponseError extends MetacryptError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown; status?: number }) {
    super("bad-response", message, options);
    this.name = "MetacryptBadResponseError";
    this.field = field;
  }
}

export function isMetacryptError(e: unknown): e is MetacryptError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

function guard<T extends MetacryptError>(kind: MetacryptErrorKind) {
  return (e: unknown): e is T => isMetacryptError(e) && e.kind === kind;
}

export const isMetacryptUnreachableError = guard<MetacryptUnreachableError>("unreachable");
export const isMetacryptTimeoutError = guard<MetacryptTimeoutError>("timeout");
export const isMetacryptUnauthorizedError = guard<MetacryptUnauthorizedError>("unauthorized");
export const isMetacryptNotFoundError = guard<MetacryptNotFoundError>("not-found");
export const isMetacryptRejectedError = guard<MetacryptRejectedError>("rejected");
export const isMetacryptServerError = guard<MetacryptServerError>("server");
export const isMetacryptBadResponseError = guard<MetacryptBadResponseError>("bad-response");

/** A PEM that is not a readable X.509 certificate (from the pure helpers, not from the server). */
export class InvalidCertificateError extends Error {
  readonly [BRAND_CERT] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "InvalidCertificateError";
  }
}

export function isInvalidCertificateError(e: unknown): e is InvalidCertificateError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND_CERT] === true;
}
