import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, plainServerCommand } from "../src/server-args.ts";

describe("plainServerCommand", () => {
  it("recognises the command lines systemd and the launcher use", () => {
    expect(plainServerCommand(["server"])).toEqual({ config: DEFAULT_CONFIG });
    expect(plainServerCommand(["server", "--config", "/etc/a.toml"])).toEqual({
      config: "/etc/a.toml",
    });
    expect(plainServerCommand(["server", "--config=/etc/a.toml"])).toEqual({
      config: "/etc/a.toml",
    });
  });

  it("leaves everything else to yargs (help, version, mistakes)", () => {
    for (const args of [
      [],
      ["--help"],
      ["--version"],
      ["server", "--help"],
      ["server", "--config"],
      ["server", "--config="],
      ["server", "--config", "--help"],
      ["server", "--config", "a", "extra"],
      ["serve"],
    ]) {
      expect(plainServerCommand(args)).toBeUndefined();
    }
  });
});
