import type { SpecDiagnostic } from "./spec.ts";

// The agent's domain errors: one class per failure a caller can act on. The RPC layer maps
// them to Connect codes in one function (server/error-map.ts). Messages are safe to show to
// an operator; the underlying error goes in `cause`.

const BRAND = Symbol.for("@mcp/agent/error");

export type AgentErrorKind =
  | "invalid-argument"
  | "not-found"
  | "failed-precondition"
  | "unavailable"
  | "step-failed";

export class AgentError extends Error {
  readonly [BRAND] = true;
  constructor(
    readonly kind: AgentErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "AgentError";
  }
}

export function isAgentError(e: unknown): e is AgentError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

export class InvalidArgumentError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-argument", message, options);
    this.name = "InvalidArgumentError";
  }
}

/** A service definition failed validation; carries servicedef's diagnostics. */
export class InvalidSpecError extends AgentError {
  constructor(
    message: string,
    readonly diagnostics: SpecDiagnostic[],
  ) {
    super("invalid-argument", message);
    this.name = "InvalidSpecError";
  }
}

export class NotFoundError extends AgentError {
  constructor(message: string) {
    super("not-found", message);
    this.name = "NotFoundError";
  }
}

export class PreconditionError extends AgentError {
  constructor(message: string) {
    super("failed-precondition", message);
    this.name = "PreconditionError";
  }
}

export class UnavailableError extends AgentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
    this.name = "UnavailableError";
  }
}

/** A deploy (or stop, ...) step failed; what it did was undone. */
export class StepFailedError extends AgentError {
  constructor(
    readonly step: string,
    readonly component: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("step-failed", message, options);
    this.name = "StepFailedError";
  }
}

/** One line of cause from any error, for step messages and events. */
export function errorLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0] ?? msg;
}
