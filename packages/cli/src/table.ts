import Table from "cli-table3";
import type { Style } from "./output.js";

const noBorders = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "",
};

// SGR sequences (colour, bold, dim) as Style writes them; nothing else is zero-width here.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the sequences.
const SGR = /\u001b\[[0-9;]*m/g;
// Printable ASCII: one column per character, so the visible width is the length.
const PLAIN = /^[\x20-\x7e]*$/;

/**
 * A `podman ps`-style table: no borders, columns three spaces apart, bold headings when colour
 * is on. Coloured cells line up by their visible width.
 *
 * Cells of printable ASCII (with colour) are laid out here, in one pass: cli-table3 takes
 * 30-40 ms for the 100 rows of a busy node's `mcp ps`, most of a warm `mcp ps` beyond Node's
 * start-up. Anything else (wide characters, line breaks in a cell) goes to cli-table3, which
 * lays out the same table.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  style: Style,
): string {
  const head = headers.map((h) => style.bold(h));
  const all = [head, ...rows];
  const widths: number[] = [];
  for (const row of all) {
    for (const [i, cell] of row.entries()) {
      const visible = cell.replace(SGR, "");
      if (!PLAIN.test(visible)) return renderWithCliTable(headers, rows, style);
      widths[i] = Math.max(widths[i] ?? 0, visible.length);
    }
  }
  let out = "";
  for (const row of all) {
    let line = "";
    for (let i = 0; i < widths.length; i++) {
      const cell = row[i] ?? "";
      line += cell + " ".repeat((widths[i] ?? 0) - cell.replace(SGR, "").length + 3);
    }
    out += `${line.trimEnd()}\n`;
  }
  return out;
}

/** The general layout (cli-table3): wide characters and multi-line cells. */
export function renderWithCliTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  style: Style,
): string {
  const table = new Table({
    head: headers.map((h) => style.bold(h)),
    chars: noBorders,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 3, compact: true },
  });
  for (const row of rows) table.push([...row]);
  return `${table
    .toString()
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")}\n`;
}
