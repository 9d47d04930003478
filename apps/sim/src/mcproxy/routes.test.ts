import { describe, expect, it } from "vitest";
import { normalizeHostname, parseBackend, type RouteInput, validateRoute } from "./routes.ts";

const listeners = [":443", ":8443"];
const base: RouteInput = {
  listener: ":443",
  hostname: "app.example.net",
  backend: "127.0.0.1:10000",
  mode: "l4",
  tlsCert: "",
  tlsKey: "",
  backendTls: false,
};

describe("normalizeHostname", () => {
  it("lower-cases and drops a trailing dot", () => {
    expect(normalizeHostname("App.Example.NET.")).toEqual({ ok: true, value: "app.example.net" });
  });
  it.each(["", "a..b", "-a.b", "a-.b", "a_b.c", "*.example.net", `${"a".repeat(64)}.b`, "a b"])(
    "refuses %j",
    (name) => {
      expect(normalizeHostname(name).ok).toBe(false);
    },
  );
});

describe("parseBackend", () => {
  it("reads IPv4, names and bracketed IPv6", () => {
    expect(parseBackend("127.0.0.1:80")).toEqual({
      ok: true,
      value: { host: "127.0.0.1", port: 80 },
    });
    expect(parseBackend("rift.tailnet:10001")).toEqual({
      ok: true,
      value: { host: "rift.tailnet", port: 10001 },
    });
    expect(parseBackend("[::1]:443")).toEqual({ ok: true, value: { host: "::1", port: 443 } });
  });
  it.each(["127.0.0.1", "::1:443", "h:0", "h:65536", "h:", ":80", "h:80/x", "http://h:80"])(
    "refuses %j",
    (b) => {
      const r = parseBackend(b);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toContain(b);
    },
  );
});

describe("validateRoute", () => {
  it("accepts an L4 route and normalises its hostname", () => {
    expect(validateRoute({ ...base, hostname: "APP.example.net" }, listeners)).toEqual({
      ok: true,
      value: { ...base, hostname: "app.example.net" },
    });
  });
  it("accepts an L7 route with certificate paths", () => {
    const r = validateRoute(
      { ...base, mode: "l7", tlsCert: "/c.pem", tlsKey: "/c.key", backendTls: true },
      listeners,
    );
    expect(r.ok).toBe(true);
  });
  it.each<[Partial<RouteInput>, RegExp]>([
    [{ listener: ":9443" }, /listener ":9443" does not exist/],
    [{ hostname: "bad_name" }, /not a DNS name/],
    [{ backend: "nope" }, /backend "nope"/],
    [{ mode: undefined }, /mode must be L4 or L7/],
    [{ mode: "l7" }, /needs tls_cert and tls_key/],
    [{ mode: "l7", tlsCert: "/c.pem" }, /needs tls_cert and tls_key/],
    [{ tlsCert: "/c.pem", tlsKey: "/c.key" }, /L7 routes only/],
    [{ backendTls: true }, /L7 routes only/],
  ])("refuses %j", (change, message) => {
    const r = validateRoute({ ...base, ...change }, listeners);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});
