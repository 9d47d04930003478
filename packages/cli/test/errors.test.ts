import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CliError, ExitCode } from "../src/errors.ts";
import { makeStyle } from "../src/output.ts";
import { reportError } from "../src/report.ts";
import { fromRpcError } from "../src/rpc-errors.ts";
import { Sink } from "./helpers/io.ts";

const target = { node: "rift", address: "100.95.252.120:9444" };

describe("fromRpcError", () => {
  it.each([
    [Code.Unavailable, ExitCode.Unavailable, "node rift (100.95.252.120:9444) did not answer"],
    [Code.DeadlineExceeded, ExitCode.Unavailable, "did not answer in time"],
    [Code.Unauthenticated, ExitCode.Auth, "rejected the token"],
    [Code.PermissionDenied, ExitCode.Auth, "refused"],
    [Code.NotFound, ExitCode.NotFound, "no such service"],
    [Code.InvalidArgument, ExitCode.Failed, "rejected the request"],
    [Code.FailedPrecondition, ExitCode.Failed, "no such service"],
    [Code.Unimplemented, ExitCode.Failed, "does not support this call"],
    [Code.Internal, ExitCode.Failed, "failed: no such service [Internal]"],
    [Code.Canceled, ExitCode.Unavailable, "did not answer: no such service"],
  ])("maps Connect code %s to exit code %s", (code, exit, text) => {
    const e = fromRpcError(new ConnectError("no such service", code), target);
    expect(e.exitCode).toBe(exit);
    expect(e.message).toContain(text);
    expect(e.hint).toBeTruthy();
  });

  it("explains a certificate the configured CA did not sign", () => {
    const cause = Object.assign(new Error("self-signed certificate"), {
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
    const e = fromRpcError(
      new ConnectError("x", Code.Unknown, undefined, undefined, cause),
      target,
    );
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toBe(
      "TLS handshake with node rift (100.95.252.120:9444) failed: DEPTH_ZERO_SELF_SIGNED_CERT",
    );
    expect(e.hint).toContain("[tls] ca_cert");
  });

  it("treats a reset connection as an unreachable agent, whatever code Connect chose", () => {
    const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const e = fromRpcError(
      new ConnectError("x", Code.Aborted, undefined, undefined, cause),
      target,
    );
    expect(e.exitCode).toBe(ExitCode.Unavailable);
    expect(e.message).toBe("node rift (100.95.252.120:9444) did not answer: ECONNRESET");
  });
});

describe("reportError", () => {
  it("prints details, one line of cause and one of hint, and returns the exit code", () => {
    const err = new Sink();
    const code = reportError(
      new CliError("bad thing", {
        exitCode: ExitCode.Failed,
        hint: "do this",
        details: ["a.toml:1:1: SD001 x"],
      }),
      err,
      makeStyle(false),
      {},
    );
    expect(code).toBe(1);
    expect(err.text).toBe("a.toml:1:1: SD001 x\nerror: bad thing\nhint: do this\n");
  });

  it("calls an unexpected error a bug, exits 70, and keeps the stack for MCP_DEBUG", () => {
    const err = new Sink();
    expect(reportError(new TypeError("x is undefined"), err, makeStyle(false), {})).toBe(
      ExitCode.Bug,
    );
    expect(err.text.split("\n")).toEqual([
      "error: unexpected: x is undefined",
      "hint: this is a bug in mcp; please report it with the output of the same command run with MCP_DEBUG=1",
      "",
    ]);
    const dbg = new Sink();
    reportError(new TypeError("x is undefined"), dbg, makeStyle(false), { MCP_DEBUG: "1" });
    expect(dbg.text).toContain("TypeError: x is undefined\n    at ");
  });
});
