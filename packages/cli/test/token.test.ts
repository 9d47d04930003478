import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ExitCode } from "../src/errors.ts";
import { cleanToken, readToken, writeToken } from "../src/token.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-token-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("token", () => {
  it("trims the trailing newline that `echo tok > token` leaves (it broke gRPC headers once)", async () => {
    await writeFile(join(dir, "token"), "  eyJhbGciOi.abc-def_123==\r\n\n");
    expect(await readToken({ env: {}, path: join(dir, "token") })).toBe("eyJhbGciOi.abc-def_123==");
  });

  it("prefers MCP_TOKEN, also trimmed", async () => {
    await writeFile(join(dir, "token"), "from-file");
    expect(await readToken({ env: { MCP_TOKEN: " from-env\n" }, path: join(dir, "token") })).toBe(
      "from-env",
    );
  });

  it("refuses whitespace inside a token instead of sending a broken header", () => {
    expect(() => cleanToken("abc def", "x")).toThrow(/whitespace or control characters/);
    expect(() => cleanToken("abc\u0000", "x")).toThrow(/control characters/);
    expect(() => cleanToken(" \n", "x")).toThrow(/is empty/);
  });

  it("says to log in when there is no token file (exit code 4)", async () => {
    await expect(readToken({ env: {}, path: join(dir, "token") })).rejects.toMatchObject({
      exitCode: ExitCode.Auth,
      message: `no token: ${join(dir, "token")} does not exist`,
      hint: "run `mcp login`, or set MCP_TOKEN",
    });
  });

  it("writes the token with mode 0600 in a directory it creates with 0700, replacing an old one", async () => {
    const path = join(dir, "sub", "token");
    await writeToken(path, "first\n");
    await writeToken(path, "second");
    expect(await readFile(path, "utf8")).toBe("second");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "sub"))).mode & 0o777).toBe(0o700);
    expect(await readToken({ env: {}, path })).toBe("second");
  });
});
