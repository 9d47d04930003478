import { describe, expect, it } from "vitest";
import { checkNodeEntry } from "../src/index.ts";

describe("checkNodeEntry (mcp node add)", () => {
  it("fills ssh and arch defaults", () => {
    expect(checkNodeEntry({ name: "rift", address: "100.95.252.120:9444" })).toEqual({
      name: "rift",
      address: "100.95.252.120:9444",
      ssh: "rift",
      arch: "amd64",
    });
    expect(
      checkNodeEntry({ name: "pi", address: "[fd7a::1]:9444", ssh: "kyle@pi.lan", arch: "arm64" })
        .arch,
    ).toBe("arm64");
  });

  it("names the field that is wrong", () => {
    expect(() => checkNodeEntry({ name: "Rift", address: "h:1" })).toThrow(
      'node name "Rift": expected a DNS label',
    );
    expect(() => checkNodeEntry({ name: "rift", address: "h:1" }, [{ name: "rift" }])).toThrow(
      "already in mcp.toml",
    );
    expect(() => checkNodeEntry({ name: "rift", address: "100.1.1.1" })).toThrow(
      'address "100.1.1.1": expected host:port',
    );
    expect(() => checkNodeEntry({ name: "rift", address: "h:70000" })).toThrow(
      "expected host:port",
    );
    expect(() => checkNodeEntry({ name: "rift", address: "h:1", ssh: "-oProxyCommand=x" })).toThrow(
      'ssh "-oProxyCommand=x" is not a host',
    );
    expect(() => checkNodeEntry({ name: "rift", address: "h:1", arch: "x86_64" })).toThrow(
      'arch "x86_64": expected amd64 or arm64',
    );
  });
});
