import { readFile, writeFile } from "node:fs/promises";
import { reformat } from "../format.ts";
import { isLoadError, loadFile } from "../load.ts";
import { expandPaths } from "./files.ts";
import { diagnosticLine, plural } from "./output.ts";

/**
 * Exit code: 0 nothing left to do; 1 a file is invalid, would change (--check) or holds
 * comments that rewriting would drop; 2 a path could not be read or written.
 */
export async function fmt(paths: readonly string[], options: { check: boolean }): Promise<number> {
  const { files, errors } = await expandPaths(paths);
  let io = errors.length;
  let problems = 0;
  let changed = 0;
  for (const e of errors) process.stderr.write(`mcp-servicedef: ${e.file}: ${e.message}\n`);
  for (const file of files) {
    try {
      const r = await loadFile(file);
      if (!r.ok || !r.value) {
        problems++;
        for (const d of r.diagnostics)
          process.stdout.write(`${diagnosticLine(file, d, process.stdout)}\n`);
        continue;
      }
      const source = await readFile(file, "utf8");
      const { text, lostComments } = reformat(source, r.value);
      if (text === source) continue;
      if (lostComments.length > 0) {
        problems++;
        process.stderr.write(
          `mcp-servicedef: ${file}: not rewritten: the canonical form would drop the comments on ${lostComments.length === 1 ? "line" : "lines"} ${lostComments.join(", ")} (only the header comment is kept)\n`,
        );
        continue;
      }
      changed++;
      if (options.check) process.stdout.write(`${file}\n`);
      else await writeFile(file, text);
    } catch (e) {
      io++;
      const message = isLoadError(e) ? e.message : `${file}: ${(e as Error).message}`;
      process.stderr.write(`mcp-servicedef: ${message}\n`);
    }
  }
  const verb = options.check ? "would change" : "rewritten";
  process.stderr.write(
    `${plural(files.length, "file")} checked, ${changed} ${verb}${problems ? `, ${problems} not formatted` : ""}\n`,
  );
  if (io > 0) return 2;
  return problems > 0 || (options.check && changed > 0) ? 1 : 0;
}
