// The mapping of socket-level failures that a root-run test cannot provoke for real (EACCES:
// root may open any socket) or that depend on timing (ECONNRESET mid-call).
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { toMcProxyError } from "../src/map-error.ts";

function systemError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ${code} /run/x.sock`), { code, syscall: "connect" });
}

describe("toMcProxyError", () => {
  it.each([
    ["EACCES", "unauthorized", "no permission to open /run/x.sock"],
    ["EPERM", "unauthorized", "no permission"],
    ["ENOENT", "unreachable", "no socket at /run/x.sock"],
    ["ECONNREFUSED", "unreachable", "refuses connections"],
    ["ENOTSOCK", "unreachable", "is not a socket"],
    ["ECONNRESET", "unreachable", "was reset"],
  ])("maps %s, even when wrapped in a ConnectError, to %s", (code, kind, message) => {
    const wrapped = new ConnectError(
      "internal",
      Code.Internal,
      undefined,
      undefined,
      systemError(code),
    );
    for (const err of [systemError(code), wrapped]) {
      const mapped = toMcProxyError(err, "AddRoute", "/run/x.sock");
      expect(mapped.kind).toBe(kind);
      expect(mapped.message).toContain(message);
      expect(mapped.message).toMatch(/^mc-proxy AddRoute: /);
      expect(mapped.cause).toBe(err);
    }
  });

  it("turns anything else into a bad response, keeping it as the cause", () => {
    const odd = new TypeError("boom");
    const mapped = toMcProxyError(odd, "Status", "/run/x.sock");
    expect(mapped.kind).toBe("bad-response");
    expect(mapped.cause).toBe(odd);
  });

  it("passes its own errors through unchanged", () => {
    const first = toMcProxyError(new ConnectError("gone", Code.NotFound), "RemoveRoute", "/s");
    expect(toMcProxyError(first, "Other", "/s")).toBe(first);
  });
});
