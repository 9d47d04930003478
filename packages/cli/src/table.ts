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

/**
 * A `podman ps`-style table: no borders, columns three spaces apart, bold headings when colour
 * is on. cli-table3 measures cells by their visible width, so coloured cells still line up.
 */
export function renderTable(
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
