import type { Diagnostic } from "./types.ts";

/**
 * One line per diagnostic, as compilers print them, so editors and CI annotate it:
 * `file:line:column: CODE severity: message (at path)`. `severity` may be wrapped (colour).
 * Diagnostics without a source position (from `validate`) print as `file: CODE …`.
 */
export function formatDiagnostic(
  file: string,
  d: Pick<Diagnostic, "code" | "severity" | "message" | "path" | "line" | "column">,
  severity: (s: string) => string = (s) => s,
): string {
  const where = d.line > 0 ? `${file}:${d.line}:${d.column}` : file;
  const at = d.path ? ` (at ${d.path})` : "";
  return `${where}: ${d.code} ${severity(d.severity)}: ${d.message}${at}`;
}
