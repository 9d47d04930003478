import { expect, test } from "vitest";
import { parseSetOptions } from "../src/commands/run.ts";

test("--set KEY=VALUE pairs become module options, digits as numbers", () => {
  expect(
    parseSetOptions(["mcnsZones=a.example,b.example", "mcnsDnsPort=5353", "socketMode=666"]),
  ).toEqual({
    mcnsZones: "a.example,b.example",
    mcnsDnsPort: 5353,
    socketMode: 666,
  });
  expect(parseSetOptions(["listeners=:443=127.0.0.1:8443"])).toEqual({
    listeners: ":443=127.0.0.1:8443",
  });
});

test("a --set without KEY= is refused, naming the argument", () => {
  expect(() => parseSetOptions(["novalue"])).toThrow("--set novalue: expected KEY=VALUE");
  expect(() => parseSetOptions(["=x"])).toThrow("--set =x");
});
