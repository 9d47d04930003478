import { stripVTControlCharacters } from "node:util";
import { describe, expect, it } from "vitest";
import { colorEnabled, formatDuration, makeStyle, renderJson } from "../src/output.ts";
import { renderTable } from "../src/table.ts";

describe("colorEnabled", () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: "1" }, true, false],
    [{ NO_COLOR: "" }, true, true],
    [{ TERM: "dumb" }, true, false],
    [{ FORCE_COLOR: "1" }, false, true],
    [{ FORCE_COLOR: "0" }, true, false],
    [{ NO_COLOR: "1", FORCE_COLOR: "1" }, true, false],
  ])("env %j, tty %s -> %s", (env, tty, want) => {
    expect(colorEnabled(env, tty)).toBe(want);
  });
});

describe("renderTable", () => {
  const rows = [
    ["rift", "metacrypt", "api", "running"],
    ["orion", "mcq", "web", "exited"],
  ];

  it("aligns columns without borders, colours or trailing spaces when colour is off", () => {
    const out = renderTable(["NODE", "SERVICE", "COMPONENT", "STATE"], rows, makeStyle(false));
    expect(out).toBe(
      [
        "NODE    SERVICE     COMPONENT   STATE",
        "rift    metacrypt   api         running",
        "orion   mcq         web         exited",
        "",
      ].join("\n"),
    );
    expect(out).not.toContain("\u001b[");
  });

  it("keeps the same layout when colour is on: escape codes do not count as width", () => {
    const style = makeStyle(true);
    const coloured = renderTable(
      ["NODE", "STATE"],
      [
        ["rift", style.green("running")],
        ["orion", style.red("exited")],
      ],
      style,
    );
    expect(coloured).toContain("\u001b[");
    expect(stripVTControlCharacters(coloured)).toBe(
      renderTable(
        ["NODE", "STATE"],
        [
          ["rift", "running"],
          ["orion", "exited"],
        ],
        makeStyle(false),
      ),
    );
  });

  it("prints just the headings for no rows", () => {
    expect(renderTable(["A", "B"], [], makeStyle(false))).toBe("A   B\n");
  });
});

describe("renderJson and formatDuration", () => {
  it("writes bigints as strings and ends with one newline", () => {
    expect(renderJson({ id: 5n, a: [1] })).toBe('{\n  "id": "5",\n  "a": [\n    1\n  ]\n}\n');
  });

  it.each([
    [0, "0s"],
    [42_000, "42s"],
    [312_000, "5m12s"],
    [3_660_000, "1h1m"],
    [90_000_000, "1d1h"],
    [86_400_000, "1d0h"],
    [-1, "-"],
  ])("%d ms -> %s", (ms, want) => {
    expect(formatDuration(ms)).toBe(want);
  });
});
