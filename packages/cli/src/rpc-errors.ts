import { Code, ConnectError } from "@connectrpc/connect";
import { CliError, ExitCode, isCliError } from "./errors.js";

/** Which agent a call went to, so every message can name it. */
export interface Target {
  node: string;
  address: string;
}

// Node's TLS verification codes: the agent answered, but not with a certificate we trust.
const tlsCodes = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "EPROTO",
]);

const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EPIPE",
]);

/** The first Node error code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, …) along the cause chain. */
export function nodeErrorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && typeof cur === "object" && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * True when the connection itself failed (reset, refused, HTTP/2 session gone), as opposed to
 * an error status the agent sent. An agent that restarts mid-stream looks like this.
 */
export function isConnectionFailure(e: unknown): boolean {
  const err = ConnectError.from(e);
  // Our own cancellations (Ctrl-C, idle limit) are recognised by the caller before it asks;
  // a cancel nobody here asked for is the HTTP/2 connection going away under the call.
  if (err.code === Code.Canceled) return true;
  const nodeCode = nodeErrorCode(err.cause ?? e);
  if (nodeCode && (unreachableCodes.has(nodeCode) || /^ERR_(HTTP2|STREAM)_/.test(nodeCode))) {
    return true;
  }
  return /^http\/2 stream closed|premature close|missing trailer|protocol error: missing/i.test(
    err.rawMessage,
  );
}

/**
 * Turns whatever a call to an agent threw into a CliError that names the node, the address
 * and what to do next. This is the one place that knows how Connect codes become exit codes.
 */
export function fromRpcError(e: unknown, target: Target): CliError {
  if (isCliError(e)) return e;
  const where = `node ${target.node} (${target.address})`;
  const err = ConnectError.from(e);
  const nodeCode = nodeErrorCode(err.cause ?? e);
  const msg = err.rawMessage;
  if (nodeCode && tlsCodes.has(nodeCode)) {
    return new CliError(`TLS handshake with ${where} failed: ${nodeCode}`, {
      exitCode: ExitCode.Unavailable,
      hint: "check [tls] ca_cert in mcp.toml: it must be the CA that signed the agent's certificate",
      cause: e,
    });
  }
  if (err.code !== Code.DeadlineExceeded && isConnectionFailure(e)) {
    return new CliError(`${where} did not answer: ${nodeCode ?? msg}`, {
      exitCode: ExitCode.Unavailable,
      hint: "is mcp-agent running there, and is the address in mcp.toml [[nodes]] right?",
      cause: e,
    });
  }
  switch (err.code) {
    case Code.Unavailable:
      return new CliError(`${where} did not answer: ${nodeCode ?? msg}`, {
        exitCode: ExitCode.Unavailable,
        hint: "is mcp-agent running there, and is the address in mcp.toml [[nodes]] right?",
        cause: e,
      });
    case Code.DeadlineExceeded:
      return new CliError(`${where} did not answer in time: ${msg}`, {
        exitCode: ExitCode.Unavailable,
        hint: "the agent may be overloaded or unreachable; retry, or raise --timeout",
        cause: e,
      });
    case Code.Unauthenticated:
      return new CliError(`${where} rejected the token: ${msg}`, {
        exitCode: ExitCode.Auth,
        hint: "run `mcp login` for a fresh token",
        cause: e,
      });
    case Code.PermissionDenied:
      return new CliError(`${where} refused: ${msg}`, {
        exitCode: ExitCode.Auth,
        hint: "the account behind the token needs the admin role in MCIAS",
        cause: e,
      });
    case Code.NotFound:
      return new CliError(`${where}: ${msg}`, {
        exitCode: ExitCode.NotFound,
        hint: "check the name with `mcp ps`, or deploy/sync the service first",
        cause: e,
      });
    case Code.InvalidArgument:
      return new CliError(`${where} rejected the request: ${msg}`, {
        exitCode: ExitCode.Failed,
        hint: "validate the definition with `mcp-servicedef` and fix what it reports",
        cause: e,
      });
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.Aborted:
      return new CliError(`${where}: ${msg}`, {
        exitCode: ExitCode.Failed,
        hint: "see `mcp status` for the service's current state",
        cause: e,
      });
    case Code.Unimplemented:
      return new CliError(`${where} does not support this call: ${msg}`, {
        exitCode: ExitCode.Failed,
        hint: "the agent is older than this mcp; upgrade the agent",
        cause: e,
      });
    default:
      return new CliError(`${where} failed: ${msg} [${Code[err.code] ?? err.code}]`, {
        exitCode: ExitCode.Failed,
        hint: "the agent's log (journalctl -u mcp-agent) has the details",
        cause: e,
      });
  }
}
