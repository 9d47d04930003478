import { describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { ExitCode } from "../src/errors.ts";
import { Sink, testConfig, testContext, testRun } from "./helpers/io.ts";

async function mcp(args: string[]) {
  const ctx = testContext({ config: testConfig([]), transports: {} });
  const { io, context } = testRun(ctx);
  const code = await run(args, io, { context });
  return { code, stderr: ctx.stderr.text, stdout: ctx.stdout.text };
}

describe("the command line", () => {
  it.each([
    [["deplyo", "x"], 'error: unknown command "deplyo"\nhint: did you mean `mcp deploy`?\n'],
    [[], "error: name a command (see mcp --help)\n"],
    [["ps", "--bogus"], "error: Unknown argument: bogus\n"],
    [["deploy"], "error: Not enough non-option arguments: got 0, need at least 1\n"],
    [["node"], "error: name a node command: list, add, provision\n"],
  ])("%j is a usage error (exit 2) in one line of cause and one of hint", async (args, start) => {
    const r = await mcp(args);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr.startsWith(start)).toBe(true);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(2);
    expect(r.stdout).toBe("");
  });

  it("rejects a --timeout that is not a positive number through the real context", async () => {
    const stderr = new Sink();
    const code = await run(["ps", "--timeout", "-1"], {
      stdout: new Sink() as never,
      stderr: stderr as never,
      stdin: process.stdin,
      env: { MCP_CONFIG: "/nonexistent/mcp.toml" },
      cwd: "/",
      home: "/nonexistent",
    });
    expect(code).toBe(ExitCode.Usage);
    expect(stderr.text).toContain("--timeout must be a positive number of seconds");
  });
});
