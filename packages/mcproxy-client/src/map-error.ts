import { Code, ConnectError } from "@connectrpc/connect";
import {
  isMcProxyError,
  McProxyBadResponseError,
  McProxyConflictError,
  type McProxyError,
  McProxyNotFoundError,
  McProxyRejectedError,
  McProxyTimeoutError,
  McProxyUnauthorizedError,
  McProxyUnreachableError,
} from "./errors.ts";

function systemCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  let at = err;
  while (typeof at === "object" && at !== null && !seen.has(at)) {
    seen.add(at);
    const code = (at as { code?: unknown }).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    at = (at as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The one place that turns what a call threw (a ConnectError, often wrapping a Node.js system
 * error from the socket) into this package's errors. `what` names the call for the message.
 */
export function toMcProxyError(err: unknown, what: string, socketPath: string): McProxyError {
  if (isMcProxyError(err)) return err;
  const opts = { cause: err };
  // Socket-level failures first: connect-node reports most of them as Internal or Unavailable,
  // and the system code says more to an operator than the gRPC one.
  switch (systemCode(err)) {
    case "ENOENT":
      return new McProxyUnreachableError(
        `mc-proxy ${what}: no socket at ${socketPath} (is mc-proxy running?)`,
        opts,
      );
    case "ECONNREFUSED":
      return new McProxyUnreachableError(
        `mc-proxy ${what}: ${socketPath} refuses connections (is mc-proxy running?)`,
        opts,
      );
    case "ENOTSOCK":
      return new McProxyUnreachableError(`mc-proxy ${what}: ${socketPath} is not a socket`, opts);
    case "EACCES":
    case "EPERM":
      return new McProxyUnauthorizedError(
        `mc-proxy ${what}: no permission to open ${socketPath}`,
        opts,
      );
    case "ECONNRESET":
    case "EPIPE":
      return new McProxyUnreachableError(
        `mc-proxy ${what}: connection to ${socketPath} was reset`,
        opts,
      );
  }
  if (!(err instanceof ConnectError)) {
    return new McProxyBadResponseError(
      `mc-proxy ${what}: ${err instanceof Error ? err.message : String(err)}`,
      opts,
    );
  }
  const grpc = { cause: err, grpcCode: Code[err.code] };
  const said = err.rawMessage || Code[err.code];
  switch (err.code) {
    case Code.DeadlineExceeded:
      return new McProxyTimeoutError(
        `mc-proxy ${what}: no answer from ${socketPath} in time`,
        grpc,
      );
    case Code.Unavailable:
    case Code.Canceled:
    case Code.Aborted:
      return new McProxyUnreachableError(`mc-proxy ${what}: ${said}`, grpc);
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return new McProxyUnauthorizedError(`mc-proxy ${what}: ${said}`, grpc);
    case Code.NotFound:
      return new McProxyNotFoundError(`mc-proxy ${what}: ${said}`, grpc);
    case Code.AlreadyExists:
      return new McProxyConflictError(`mc-proxy ${what}: ${said}`, grpc);
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return new McProxyRejectedError(`mc-proxy ${what}: ${said}`, grpc);
    default:
      return new McProxyBadResponseError(`mc-proxy ${what}: ${said}`, grpc);
  }
}
