// A brand on a registry symbol rather than `instanceof`, so that two copies of this package in
// one process (two versions in node_modules) still recognise each other's errors.
const BRAND = Symbol.for("@mcp/mcproxy-client/McProxyError");

export type McProxyErrorKind =
  | "unreachable"
  | "timeout"
  | "unauthorized"
  | "not-found"
  | "conflict"
  | "rejected"
  | "bad-response";

/**
 * Every failure of an mc-proxy admin call. The message is safe to show an operator; the
 * underlying error (a ConnectError or a Node.js system error) is in `cause`.
 */
export class McProxyError extends Error {
  readonly kind: McProxyErrorKind;
  /** The gRPC status code name when the proxy answered with an error (e.g. "NotFound"). */
  readonly grpcCode: string | undefined;
  readonly [BRAND] = true;

  constructor(
    kind: McProxyErrorKind,
    message: string,
    options?: { cause?: unknown; grpcCode?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "McProxyError";
    this.kind = kind;
    this.grpcCode = options?.grpcCode;
  }
}

type ErrorOptions = { cause?: unknown; grpcCode?: string };

/** The socket is missing, refuses connections, or the proxy is unavailable. Check that mc-proxy runs; retry later. */
export class McProxyUnreachableError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("unreachable", message, options);
    this.name = "McProxyUnreachableError";
  }
}

/** The call did not finish within its timeout. The change may or may not have been applied. */
export class McProxyTimeoutError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("timeout", message, options);
    this.name = "McProxyTimeoutError";
  }
}

/** No permission to open the socket (file mode/owner), or the proxy refused the caller. */
export class McProxyUnauthorizedError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("unauthorized", message, options);
    this.name = "McProxyUnauthorizedError";
  }
}

/** The listener or route does not exist (e.g. RemoveRoute of a hostname with no route). */
export class McProxyNotFoundError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("not-found", message, options);
    this.name = "McProxyNotFoundError";
  }
}

/** The proxy refused the change because it conflicts with existing state (AlreadyExists). */
export class McProxyConflictError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("conflict", message, options);
    this.name = "McProxyConflictError";
  }
}

/** The proxy refused the request as given: bad hostname or backend, unreadable certificate files. */
export class McProxyRejectedError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("rejected", message, options);
    this.name = "McProxyRejectedError";
  }
}

/** The proxy failed internally, does not implement the call, or answered with something unusable. */
export class McProxyBadResponseError extends McProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super("bad-response", message, options);
    this.name = "McProxyBadResponseError";
  }
}

/** True for any error from this package; with `kind`, only for that failure. */
export function isMcProxyError(e: unknown, kind?: McProxyErrorKind): e is McProxyError {
  if (typeof e !== "object" || e === null || (e as Record<symbol, unknown>)[BRAND] !== true) {
    return false;
  }
  return kind === undefined || (e as McProxyError).kind === kind;
}
