import { describe, expect, test } from "vitest";
import { formatImageReference, isMcrInvalidArgument, parseImageReference } from "../src/index.ts";

describe("parseImageReference", () => {
  test("registry with port, repository, tag", () => {
    expect(parseImageReference("mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0")).toEqual({
      registry: "mcr.svc.mcp.metacircular.net:8443",
      repository: "myservice",
      tag: "v1.0.0",
    });
  });

  test("nested repository, loopback, localhost and IPv6 hosts", () => {
    expect(parseImageReference("127.0.0.1:5000/team/app-x:1.2.3")).toEqual({
      registry: "127.0.0.1:5000",
      repository: "team/app-x",
      tag: "1.2.3",
    });
    expect(parseImageReference("localhost/a__b.c:t")).toMatchObject({
      registry: "localhost",
      repository: "a__b.c",
    });
    expect(parseImageReference("[::1]:5000/app:v1")).toMatchObject({
      registry: "[::1]:5000",
      repository: "app",
    });
    expect(parseImageReference("mcr.example/app")).toEqual({
      registry: "mcr.example",
      repository: "app",
    });
  });

  test("digest, with and without tag", () => {
    const d = `sha256:${"a".repeat(64)}`;
    expect(parseImageReference(`mcr.example/app:v1@${d}`)).toEqual({
      registry: "mcr.example",
      repository: "app",
      tag: "v1",
      digest: d,
    });
    expect(parseImageReference(`mcr.example/app@${d}`)).toMatchObject({ digest: d });
  });

  test.each([
    ["", "empty"],
    ["myservice:v1", "no registry host"],
    ["team/app:v1", "is not a registry host"],
    ["mcr.example:99999/app:v1", "not a port number"],
    ["mcr.example:/app:v1", "not a port number"],
    ["mcr.example/App:v1", "lower-case"],
    ["mcr.example/app:-bad", "not a valid tag"],
    ["mcr.example/app:v1@sha256:zz", "not a digest"],
    ["mcr.example/:v1", "no repository"],
    ["mcr.example/a//b:v1", "component"],
    [" mcr.example/app:v1", "padded"],
    ["[::1/app:v1", "unclosed"],
    ["bad_host.example/app:v1", "not a host name"],
  ])("%j is refused (%s)", (input, why) => {
    let err: unknown;
    try {
      parseImageReference(input);
    } catch (e) {
      err = e;
    }
    expect(isMcrInvalidArgument(err)).toBe(true);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message.split("\n")).toHaveLength(1);
  });

  test("format is the inverse of parse", () => {
    for (const s of [
      "mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0",
      "127.0.0.1:5000/a/b/c:x",
      `mcr.example/app:v1@sha256:${"0".repeat(64)}`,
    ]) {
      expect(formatImageReference(parseImageReference(s))).toBe(s);
    }
  });
});
