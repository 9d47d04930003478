import { RULES, type RuleName } from "./codes.ts";
import { joinPath, lookup, type PathSegment, type PositionMap } from "./positions.ts";
import type { Diagnostic } from "./types.ts";

/** Collects diagnostics and places each at the source position of its key or value. */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  private readonly positions: PositionMap;

  constructor(positions: PositionMap) {
    this.positions = positions;
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
    return this.positions.get(joinPath(path))?.raw;
  }
}
