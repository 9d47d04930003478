import { RULES, type RuleName } from "./codes.ts";
import {
  joinPath,
  lookup,
  type PathSegment,
  type PositionMap,
  scanPositions,
} from "./positions.ts";
import type { Diagnostic } from "./types.ts";

// A key assigned a float literal (`port = 8443.0`, `x = 1e3`, `y = inf`). Only then can an
// integer-looking value be a float, since the TOML parser returns both as JS numbers.
const FLOAT_ASSIGNMENT = /=[ \t]*[+-]?(?:[0-9_]+(?:\.[0-9]|[eE])|inf|nan)/;

/**
 * Collects diagnostics and places each at the source position of its key or value. The
 * source is scanned for positions only when first needed, so a valid file, the usual
 * case, never pays for it.
 */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  private readonly source: string | undefined;
  private scanned: PositionMap | undefined;
  private readonly floatsPossible: boolean;

  /** `source` undefined: no text behind the value (validate), positions are 0. */
  constructor(source: string | undefined) {
    this.source = source;
    this.floatsPossible = source !== undefined && FLOAT_ASSIGNMENT.test(source);
  }

  private get positions(): PositionMap {
    this.scanned ??= this.source === undefined ? new Map() : scanPositions(this.source);
    return this.scanned;
  }

  add(
    rule: RuleName,
    path: readonly PathSegment[],
    message: string,
    at: "key" | "value" = "value",
  ): void {
    const info = RULES[rule];
    const { line, column } = lookup(this.positions, path, at);
    this.diagnostics.push({
      code: info.code,
      rule,
      severity: info.severity,
      message,
      path: joinPath(path),
      line,
      column,
    });
  }

  raw(path: readonly PathSegment[]): string | undefined {
    if (!this.floatsPossible) return undefined;
    return this.positions.get(joinPath(path))?.raw;
  }
}
