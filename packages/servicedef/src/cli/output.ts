import { styleText } from "node:util";
import { formatDiagnostic } from "../diagnostic-format.ts";
import type { Diagnostic } from "../types.ts";

// styleText checks that the stream is a terminal and honours NO_COLOR / FORCE_COLOR.
export function paint(
  color: "red" | "yellow" | "bold" | "dim",
  text: string,
  stream: NodeJS.WriteStream,
): string {
  return styleText(color, text, { stream });
}

export function diagnosticLine(file: string, d: Diagnostic, stream: NodeJS.WriteStream): string {
  return formatDiagnostic(file, d, (s) => paint(s === "error" ? "red" : "yellow", s, stream));
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
