import { styleText } from "node:util";
import type { Diagnostic } from "../types.ts";

// styleText checks that the stream is a terminal and honours NO_COLOR / FORCE_COLOR.
export function paint(
  color: "red" | "yellow" | "bold" | "dim",
  text: string,
  stream: NodeJS.WriteStream,
): string {
  return styleText(color, text, { stream });
}

/** `file:line:column: CODE severity: message (at path)`, as compilers print, for editors and CI. */
export function diagnosticLine(file: string, d: Diagnostic, stream: NodeJS.WriteStream): string {
  const sev = paint(d.severity === "error" ? "red" : "yellow", d.severity, stream);
  const at = d.path ? ` (at ${d.path})` : "";
  return `${file}:${d.line}:${d.column}: ${d.code} ${sev}: ${d.message}${at}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
