/**
 * Exit codes of `mcp`. Scripts branch on these, so they are part of the public contract
 * (README, "Exit codes"); never renumber one.
 */
export const ExitCode = {
  Ok: 0,
  /** The operation ran and failed: a deploy step, an invalid service definition, an agent error. */
  Failed: 1,
  /** Bad arguments or a bad mcp.toml: nothing was attempted. */
  Usage: 2,
  /** An agent (or MCIAS) did not answer: refused, timed out, TLS failure, broken stream. */
  Unavailable: 3,
  /** No token, an expired or rejected token, or an account without the admin role. */
  Auth: 4,
  /** The service, component or file named does not exist. */
  NotFound: 5,
  /** A bug in mcp: an error nobody anticipated. */
  Bug: 70,
  /** Interrupted by Ctrl-C (128 + SIGINT). */
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const brand = Symbol.for("@mcp/cli/CliError");

/**
 * An error the operator can act on: `message` says what went wrong (one line), `hint` what
 * to do about it (one line). Everything else is a bug and is reported as one.
 */
export class CliError extends Error {
  readonly [brand] = true;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  /** Extra lines printed before the cause, e.g. the diagnostics of a definition. */
  readonly details: readonly string[];

  constructor(
    message: string,
    options: { exitCode: ExitCode; hint?: string; cause?: unknown; details?: readonly string[] },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.exitCode = options.exitCode;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

/** True for any CliError, also one thrown by another copy of this package. */
export function isCliError(e: unknown): e is CliError {
  return typeof e === "object" && e !== null && (e as { [brand]?: unknown })[brand] === true;
}

export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, { exitCode: ExitCode.Usage, ...(hint ? { hint } : {}) });
}

export function configError(message: string, hint?: string, cause?: unknown): CliError {
  return new CliError(message, {
    exitCode: ExitCode.Usage,
    hint: hint ?? "fix mcp.toml (see `mcp --help` and the @mcp/cli README for every key)",
    cause,
  });
}

export function authError(message: string, hint: string, cause?: unknown): CliError {
  return new CliError(message, { exitCode: ExitCode.Auth, hint, cause });
}

export function notFoundError(message: string, hint?: string, cause?: unknown): CliError {
  return new CliError(message, { exitCode: ExitCode.NotFound, ...(hint ? { hint } : {}), cause });
}
