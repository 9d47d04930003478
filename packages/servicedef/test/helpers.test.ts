import { describe, expect, test } from "vitest";
import {
  DNS_LABEL,
  defaultHostname,
  effectiveHealthCheck,
  imageRepository,
  imageVersion,
  parseDuration,
  parseImageRef,
  portEnvName,
  splitContainerName,
} from "../src/index.ts";

describe("images", () => {
  test("a registry with a port is not mistaken for a tag", () => {
    const ref = parseImageRef("mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0");
    expect(ref).toEqual({
      registry: "mcr.svc.mcp.metacircular.net:8443",
      path: "myservice",
      repository: "myservice",
      tag: "v1.0.0",
      digest: undefined,
    });
    expect(imageRepository("mcr.svc.mcp.metacircular.net:8443/myservice")).toBe("myservice");
    expect(parseImageRef("mcr.svc.mcp.metacircular.net:8443/myservice")).toMatchObject({
      tag: undefined,
    });
  });

  test("version is the semver tag; repository is the last path segment", () => {
    expect(imageVersion("mcr.svc.mcp.metacircular.net:8443/myservice-web:v1.4.1")).toBe("v1.4.1");
    expect(imageVersion("localhost:5000/team/app:2.0.0-rc.1")).toBe("2.0.0-rc.1");
    expect(imageRepository("localhost:5000/team/app:2.0.0")).toBe("app");
    expect(imageVersion("app:latest")).toBeUndefined();
    expect(imageVersion("app")).toBeUndefined();
    expect(imageVersion("app:v1.02.3")).toBeUndefined();
    expect(imageRepository("Bad/Ref")).toBeUndefined();
  });

  test("a digest may follow the tag; a malformed digest is refused", () => {
    const digest = `sha256:${"0".repeat(64)}`;
    expect(parseImageRef(`app:v1.0.0@${digest}`)).toMatchObject({ tag: "v1.0.0", digest });
    expect(typeof parseImageRef("app:v1.0.0@sha256:abc")).toBe("string");
  });
});

describe("names and ports", () => {
  test("DNS_LABEL", () => {
    expect(DNS_LABEL.test("mc-proxy")).toBe(true);
    expect(DNS_LABEL.test("a".repeat(63))).toBe(true);
    expect(DNS_LABEL.test("a".repeat(64))).toBe(false);
    expect(DNS_LABEL.test("1abc")).toBe(false);
    expect(DNS_LABEL.test("Abc")).toBe(false);
  });

  test("portEnvName", () => {
    expect(portEnvName({})).toBe("PORT");
    expect(portEnvName({ name: "rest" })).toBe("PORT_REST");
    expect(portEnvName({ name: "grpc-web" })).toBe("PORT_GRPC_WEB");
  });

  test("defaultHostname, zone configurable", () => {
    expect(defaultHostname("myservice")).toBe("myservice.svc.mcp.metacircular.net");
    expect(defaultHostname("myservice", "example.test.")).toBe("myservice.example.test");
  });

  test("parseDuration", () => {
    expect(parseDuration("10s")).toBe(10_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2h")).toBe(7_200_000);
    for (const bad of ["", "10", "10 s", "s", "-1s", "1d"])
      expect(parseDuration(bad)).toBeUndefined();
  });
});

describe("splitContainerName", () => {
  const known = ["mc", "mc-proxy", "metacrypt", "mcr"];
  test("longest known service first", () => {
    const r = splitContainerName("mc-proxy-web", known);
    expect(r.match).toEqual({ service: "mc-proxy", component: "web" });
    expect(r.candidates).toEqual([
      { service: "mc-proxy", component: "web" },
      { service: "mc", component: "proxy-web" },
    ]);
  });
  test("a name equal to a service is its single component", () => {
    expect(splitContainerName("mc-proxy", known).match).toEqual({
      service: "mc-proxy",
      component: "mc-proxy",
    });
  });
  test("unknown names have no match", () => {
    expect(splitContainerName("other-api", known)).toEqual({ match: undefined, candidates: [] });
    expect(splitContainerName("metacrypt-", known).match).toBeUndefined();
  });
  test("metacrypt-api", () => {
    expect(splitContainerName("metacrypt-api", known)).toEqual({
      match: { service: "metacrypt", component: "api" },
      candidates: [{ service: "metacrypt", component: "api" }],
    });
  });
});

describe("effectiveHealthCheck", () => {
  const rest = { name: "rest", port: 8443, mode: "l4" as const };
  const grpc = { name: "grpc", port: 9443, mode: "l4" as const };
  const common = { interval: "10s", timeout: "2s", retries: 3, start_period: "0s" };
  test("default: TCP connect to every route", () => {
    expect(effectiveHealthCheck({ routes: [rest, grpc] })).toEqual({
      check: { type: "tcp", ...common },
      routes: [rest, grpc],
    });
  });
  test("nothing to probe without routes or check", () => {
    expect(effectiveHealthCheck({})).toBeUndefined();
  });
  test("a named route narrows the probe", () => {
    const check = { type: "http" as const, path: "/", status: 200, route: "grpc", ...common };
    expect(effectiveHealthCheck({ routes: [rest, grpc], health: check })).toEqual({
      check,
      routes: [grpc],
    });
  });
  test("command checks probe no port", () => {
    const check = { type: "command" as const, command: ["true"], ...common };
    expect(effectiveHealthCheck({ routes: [rest], health: check })).toEqual({ check, routes: [] });
  });
});

describe("formatDiagnostic", () => {
  test("compiler style, and without a position for validate()", async () => {
    const { formatDiagnostic, parse, validate } = await import("../src/index.ts");
    const d = parse('name = "svc"\nnode = "rift"\nnde = 1\n').diagnostics.find(
      (x) => x.code === "SD004",
    );
    expect(formatDiagnostic("svc.toml", d as NonNullable<typeof d>)).toBe(
      'svc.toml:3:1: SD004 error: unknown key "nde"; did you mean "node"? (at nde)',
    );
    const v = validate({ name: "svc" }).diagnostics.find((x) => x.code === "SD006");
    expect(formatDiagnostic("spec", v as NonNullable<typeof v>)).toBe(
      'spec: SD006 error: missing required key "node" (at node)',
    );
  });
});
