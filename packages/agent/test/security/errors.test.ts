import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Struct, StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { InvalidSpecError, StepFailedError } from "../../src/errors.ts";
import { toConnectError } from "../../src/server/error-map.ts";

// The error mapping's hardening, on the real error classes: what goes back to a caller is
// bounded whatever the input, undecodable requests are the caller's fault, and SQLite's
// failures say what failed.

describe("errors sent back to callers", () => {
  it("cut a message and diagnostics that echo a huge input", () => {
    const name = "x".repeat(70_000);
    const diagnostics = Array.from({ length: 500 }, (_, i) => ({
      code: "SD007",
      rule: "name",
      severity: "error",
      message: `service name "${name}" is not a DNS label (${i})`,
      path: "name",
      line: 1,
      column: 8,
    }));
    const ce = toConnectError(
      new InvalidSpecError(
        `x.toml:1:8: SD007 service name "${name}" is not a DNS label`,
        diagnostics as never,
      ),
    );
    expect(ce.code).toBe(Code.InvalidArgument);
    expect(ce.rawMessage.length).toBeLessThan(1100);
    expect(ce.rawMessage).toMatch(/… \(\d+ more characters\)$/);
    const detail = ce.details[0] as unknown as { value: Struct };
    const bytes = toBinary(StructSchema, detail.value);
    expect(bytes.length).toBeLessThan(32 * 1024);
    const back = fromBinary(StructSchema, bytes);
    const list = back.fields.diagnostics?.kind;
    expect(list?.case === "listValue" && list.value.values.length).toBe(50);
  });

  it("leaves short messages and their codes alone", () => {
    const ce = new ConnectError("missing bearer token", Code.Unauthenticated);
    expect(toConnectError(ce)).toBe(ce);
  });

  it("map an undecodable request to InvalidArgument", () => {
    const ce = toConnectError(new ConnectError("parse binary: illegal tag", Code.Internal));
    expect(ce.code).toBe(Code.InvalidArgument);
    expect(toConnectError(new ConnectError("boom", Code.Internal)).code).toBe(Code.Internal);
  });

  it("name the database when SQLite fails: read-only is Unavailable, also inside a step", () => {
    const dir = mkdtempSync(join(tmpdir(), "mcp-agent-errmap-"));
    try {
      new Database(join(dir, "db")).exec("CREATE TABLE t (x)");
      const ro = new Database(join(dir, "db"), { readonly: true });
      let err: unknown;
      try {
        ro.exec("INSERT INTO t VALUES (1)");
      } catch (e) {
        err = e;
      }
      ro.close();
      const ce = toConnectError(err);
      expect(ce.code).toBe(Code.Unavailable);
      expect(ce.rawMessage).toMatch(/^database: .*readonly.*\(SQLITE_READONLY\)$/);
      const step = toConnectError(
        new StepFailedError("store-spec", "", "store-spec failed: readonly", { cause: err }),
      );
      expect(step.code).toBe(Code.Unavailable);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
