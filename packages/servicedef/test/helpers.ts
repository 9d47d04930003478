import { expect } from "vitest";
import { parse } from "../src/index.ts";
import type { Diagnostic } from "../src/types.ts";

export function diagnostics(text: string): Diagnostic[] {
  return parse(text).diagnostics;
}

/** Asserts that `text` yields a diagnostic with this code at this path, line and column. */
export function expectDiagnostic(
  text: string,
  want: { code: string; path: string; line: number; column: number; message?: RegExp },
): Diagnostic {
  const all = diagnostics(text);
  const found = all.find((d) => d.code === want.code && d.path === want.path);
  expect(
    found,
    `no ${want.code} at ${want.path}; got ${JSON.stringify(all, null, 1)}`,
  ).toBeDefined();
  const d = found as Diagnostic;
  expect({ line: d.line, column: d.column }).toEqual({ line: want.line, column: want.column });
  if (want.message) expect(d.message).toMatch(want.message);
  return d;
}

export function expectClean(text: string): void {
  const all = diagnostics(text);
  expect(all, JSON.stringify(all, null, 1)).toEqual([]);
}
