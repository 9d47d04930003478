import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { makeStyle } from "../src/output.js";
import { renderTable, renderWithCliTable } from "../src/table.js";

const headers = ["NODE", "SERVICE", "COMPONENT", "STATE", "IMAGE/VERSION", "PORTS", "UPTIME"];

function rowsOf(n: number, style: { green(s: string): string; dim(s: string): string }) {
  return Array.from({ length: n }, (_, i) => [
    "rift",
    i % 7 === 0 ? style.dim(`stray-${i} (unmanaged)`) : `svc-${i}`,
    i % 3 === 0 ? "-" : "api",
    style.green(i % 2 === 0 ? "running" : "exited"),
    `v1.${i}.0`,
    i % 4 === 0 ? "-" : `${20000 + i}->8080/tcp, ${21000 + i}->9090/tcp`,
    i % 5 === 0 ? "" : `${i}h`,
  ]);
}

describe("renderTable", () => {
  for (const color of [false, true]) {
    it(`lays out plain cells exactly as cli-table3 does (colour ${color ? "on" : "off"})`, () => {
      const style = makeStyle(color);
      for (const n of [0, 1, 3, 100]) {
        const rows = rowsOf(n, style);
        expect(renderTable(headers, rows, style)).toBe(renderWithCliTable(headers, rows, style));
      }
    });
  }

  it("pads to the visible width, so coloured cells line up", () => {
    const style = makeStyle(true);
    const out = renderTable(
      ["A", "B"],
      [
        [style.red("x"), "1"],
        ["yyyy", "2"],
      ],
      style,
    );
    const lines = stripVTControlCharacters(out).split("\n");
    expect(lines).toEqual(["A      B", "x      1", "yyyy   2", ""]);
  });

  it("hands wide characters and line breaks to cli-table3", () => {
    const style = makeStyle(false);
    for (const rows of [[["→ café", "1"]], [["two\nlines", "2"]], [["日本", "3"]]]) {
      expect(renderTable(["A", "B"], rows, style)).toBe(
        renderWithCliTable(["A", "B"], rows, style),
      );
    }
  });
});
