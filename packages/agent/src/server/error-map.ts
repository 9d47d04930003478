import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";

type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

import { errorLine, InvalidSpecError, isAgentError } from "../errors.ts";

const PODMAN_UNAVAILABLE = new Set(["podman-missing", "environment", "timeout", "aborted"]);

function podmanCode(e: unknown): Code {
  const code = (e as { code?: string }).code ?? "";
  return PODMAN_UNAVAILABLE.has(code) ? Code.Unavailable : Code.FailedPrecondition;
}

/**
 * The one place errors become Connect codes. Messages stay safe to show to an operator;
 * the cause is kept for logs. An InvalidSpecError carries every servicedef diagnostic as a
 * google.protobuf.Struct detail `{diagnostics: [{code, rule, severity, message, path, line,
 * column}]}` besides the first one in the message.
 */
export function toConnectError(e: unknown): ConnectError {
  return bounded(mapError(e));
}

/**
 * Messages and diagnostics echo the caller's input (a 70 000-character name), and gRPC
 * sends them in trailers: past HTTP/2's header limits the stream dies with FRAME_SIZE_ERROR
 * and takes the connection's next calls with it. So every message is cut to MAX_MESSAGE
 * characters and each diagnostic's text to MAX_DIAGNOSTIC, at most MAX_DIAGNOSTICS of them.
 */
const MAX_MESSAGE = 1000;
const MAX_DIAGNOSTIC = 300;
const MAX_DIAGNOSTICS = 50;

function cut(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

function bounded(ce: ConnectError): ConnectError {
  if (ce.rawMessage.length <= MAX_MESSAGE) return ce;
  return new ConnectError(
    cut(ce.rawMessage, MAX_MESSAGE),
    ce.code,
    ce.metadata,
    ce.details.filter((d): d is OutgoingDetail => "desc" in d),
    ce.cause,
  );
}

function boundedDiagnostics(diagnostics: readonly object[]): JsonObject[] {
  return diagnostics.slice(0, MAX_DIAGNOSTICS).map((d) => {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(d)) {
      out[k] = typeof v === "string" ? cut(v, MAX_DIAGNOSTIC) : (v as JsonObject[string]);
    }
    return out;
  });
}

function mapError(e: unknown): ConnectError {
  if (e instanceof ConnectError) {
    // connect-es reports a request it cannot decode as Internal; it is the caller's bad
    // bytes. (Unary requests are decoded before the interceptors, out of this function's
    // reach: decode.ts checks those.)
    if (e.code === Code.Internal && /^parse (binary|JSON)/.test(e.rawMessage)) {
      return new ConnectError(e.rawMessage, Code.InvalidArgument, undefined, undefined, e);
    }
    return e;
  }
  if (isAgentError(e)) {
    switch (e.kind) {
      case "invalid-argument": {
        const details =
          e instanceof InvalidSpecError
            ? [
                {
                  desc: StructSchema,
                  value: fromJson(StructSchema, {
                    diagnostics: boundedDiagnostics(e.diagnostics as unknown as object[]),
                  }),
                },
              ]
            : [];
        return new ConnectError(e.message, Code.InvalidArgument, undefined, details, e);
      }
      case "not-found":
        return new ConnectError(e.message, Code.NotFound, undefined, undefined, e);
      case "failed-precondition":
        return new ConnectError(e.message, Code.FailedPrecondition, undefined, undefined, e);
      case "unavailable":
        return new ConnectError(e.message, Code.Unavailable, undefined, undefined, e);
      case "step-failed": {
        const cause = e.cause;
        let code = Code.FailedPrecondition;
        if (isAgentError(cause)) code = mapError(cause).code;
        else if (isPodmanError(cause)) code = podmanCode(cause);
        else if (isSqliteError(cause)) code = sqliteCode(cause);
        else if (isMciasUnavailable(cause) || isUnavailable(cause)) code = Code.Unavailable;
        return new ConnectError(e.message, code, undefined, undefined, e);
      }
    }
  }
  if (isPodmanError(e)) {
    return new ConnectError(`podman: ${errorLine(e)}`, podmanCode(e), undefined, undefined, e);
  }
  if (isSqliteError(e)) {
    return new ConnectError(
      `database: ${e.message} (${e.code})`,
      sqliteCode(e),
      undefined,
      undefined,
      e,
    );
  }
  if (isMciasUnavailable(e)) {
    return new ConnectError(
      "MCIAS is unavailable; cannot validate the token",
      Code.Unavailable,
      undefined,
      undefined,
      e,
    );
  }
  if (isMciasError(e)) {
    return new ConnectError(`MCIAS: ${errorLine(e)}`, Code.Unavailable, undefined, undefined, e);
  }
  return new ConnectError(
    "internal error (see the agent log)",
    Code.Internal,
    undefined,
    undefined,
    e,
  );
}

// The clients' own guards are not imported: importing @mcp/mcias-client or
// @mcp/podman-client here would load them (and undici, execa) at start-up, while the agent
// loads them lazily with the first call that needs them. Their errors carry these registered
// symbols, the brands their guards check so that two copies of a package agree.
const MCIAS_BRAND = Symbol.for("@mcp/mcias-client/MciasError");
const PODMAN_BRAND = Symbol.for("@mcp/podman-client/PodmanError");

function isPodmanError(e: unknown): e is Error & { code: string } {
  return (
    typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[PODMAN_BRAND] === true
  );
}

function isMciasError(e: unknown): e is Error & { code: string } {
  return (
    typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[MCIAS_BRAND] === true
  );
}

function isMciasUnavailable(e: unknown): boolean {
  return isMciasError(e) && e.code === "unavailable";
}

/** Errors of clients that say the other side could not be reached (their `unavailable` guard). */
function isUnavailable(e: unknown): boolean {
  const name = (e as { name?: string } | undefined)?.name ?? "";
  return /Unavailable|Timeout/.test(name);
}

/** better-sqlite3's SqliteError (name and SQLITE_* code), without importing the module here. */
function isSqliteError(e: unknown): e is Error & { code: string } {
  return (
    e instanceof Error &&
    e.name === "SqliteError" &&
    typeof (e as { code?: unknown }).code === "string"
  );
}

/** A full disk is ResourceExhausted; a read-only, failing or busy database is Unavailable. */
function sqliteCode(e: Error & { code: string }): Code {
  if (e.code === "SQLITE_FULL") return Code.ResourceExhausted;
  if (/^SQLITE_(READONLY|IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL)/.test(e.code))
    return Code.Unavailable;
  return Code.Internal;
}
