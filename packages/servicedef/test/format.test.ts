import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { reformat } from "../src/format.ts";
import { format, parse, validate } from "../src/index.ts";
import { serviceDef } from "./arbitraries.ts";

describe("format", { timeout: 60_000 }, () => {
  test("parse(format(d)) sees exactly what validate(d) sees (property)", () => {
    fc.assert(
      fc.property(serviceDef, (d) => {
        const direct = validate(d);
        const text = format(d);
        const viaText = parse(text);
        expect(viaText.ok).toBe(direct.ok);
        expect(viaText.value).toEqual(direct.value);
        expect(viaText.diagnostics.map((x) => `${x.code} ${x.path}`).sort()).toEqual(
          direct.diagnostics.map((x) => `${x.code} ${x.path}`).sort(),
        );
        if (viaText.value) {
          // Canonical: formatting the parsed value gives the same text again.
          expect(format(viaText.value)).toBe(text);
          expect(parse(format(viaText.value)).value).toEqual(viaText.value);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("defaults are left out, other values kept in reference order", () => {
    const d = parse(
      `node = "rift"\nname = "svc"\nactive = true\npath = "svc"\n\n[[components]]\nimage = "svc:v1.0.0"\nname = "api"\ndrain = "5s"\n\n[components.health]\ntype = "command"\ncommand = ["true"]\ninterval = "10s"\nretries = 5\n`,
    ).value;
    expect(format(d as NonNullable<typeof d>)).toBe(
      `name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "svc:v1.0.0"\n\n[components.health]\ntype = "command"\ncommand = ["true"]\nretries = 5\n`,
    );
  });

  test("strings are escaped so that they read back unchanged", () => {
    const d = parse(
      'name = "svc"\nnode = "rift"\n[[components]]\nname = "api"\nimage = "svc:v1.0.0"\ncmd = ["a\\"b", "c\\\\d", "tab\\there", "\\u007f", "ünï ☃", "line\\nbreak"]\n',
    ).value;
    const text = format(d as NonNullable<typeof d>);
    expect(text).toContain(
      'cmd = ["a\\"b", "c\\\\d", "tab\\there", "\\u007F", "ünï ☃", "line\\nbreak"]',
    );
    expect(parse(text).value).toEqual(d);
  });

  test("reformat keeps the header comment and reports other comments", () => {
    const src =
      '# header\n# more\n\nnode = "rift"\nname = "svc" # trailing\n[[components]]\nname = "api"\nimage = "svc:v1.0.0"\n';
    const d = parse(src).value as NonNullable<ReturnType<typeof parse>["value"]>;
    const r = reformat(src, d);
    expect(r.text.startsWith('# header\n# more\nname = "svc"\n')).toBe(true);
    expect(r.lostComments).toEqual([5]);
  });
});
