import { isLoadError, loadFile } from "../load.ts";
import type { Diagnostic } from "../types.ts";
import { expandPaths, mapLimit } from "./files.ts";
import { diagnosticLine, plural } from "./output.ts";

export interface LintEntry {
  file: string;
  valid: boolean;
  diagnostics: Pick<Diagnostic, "code" | "severity" | "message" | "path" | "line" | "column">[];
  /** Set when the file could not be read at all. */
  error?: string;
}

/** Exit code: 0 all valid, 1 some file invalid, 2 a path could not be read. */
export async function lint(paths: readonly string[], options: { json: boolean }): Promise<number> {
  const { files, errors } = await expandPaths(paths);
  const entries: LintEntry[] = errors.map((e) => ({
    file: e.file,
    valid: false,
    diagnostics: [],
    error: e.message,
  }));
  // Read a few files at a time: with 1,000 files, waiting on each read in turn is most of
  // the run. Results keep the order of `files`.
  const results = await mapLimit(files, 16, async (file): Promise<LintEntry> => {
    try {
      const r = await loadFile(file);
      return {
        file,
        valid: r.ok,
        diagnostics: r.diagnostics.map(({ code, severity, message, path, line, column }) => ({
          code,
          severity,
          message,
          path,
          line,
          column,
        })),
      };
    } catch (e) {
      if (!isLoadError(e)) throw e;
      return { file, valid: false, diagnostics: [], error: e.message.slice(file.length + 2) };
    }
  });
  entries.push(...results);
  const ioErrors = entries.filter((e) => e.error !== undefined);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
  } else {
    const lines: string[] = [];
    for (const e of entries) {
      for (const d of e.diagnostics)
        lines.push(diagnosticLine(e.file, d as Diagnostic, process.stdout));
    }
    if (lines.length) process.stdout.write(`${lines.join("\n")}\n`);
    for (const e of ioErrors) process.stderr.write(`mcp-servicedef: ${e.file}: ${e.error}\n`);
  }
  const checked = entries.length - ioErrors.length;
  const invalid = entries.filter((e) => !e.valid && e.error === undefined).length;
  const count = (sev: string) =>
    entries.reduce((n, e) => n + e.diagnostics.filter((d) => d.severity === sev).length, 0);
  const parts = [
    `${plural(checked, "file")} checked`,
    `${invalid} invalid`,
    plural(count("error"), "error"),
    plural(count("warning"), "warning"),
  ];
  if (ioErrors.length) parts.push(`${ioErrors.length} unreadable`);
  if (checked === 0 && ioErrors.length === 0) parts.push("no *.toml files found");
  process.stderr.write(`${parts.join(", ")}\n`);
  if (ioErrors.length > 0) return 2;
  return invalid > 0 ? 1 : 0;
}
