import { describe, expect, it } from "vitest";
import {
  agentConfig,
  mcpToml,
  type PlatformState,
  pickPortLow,
  platformLayout,
  registryConfig,
  simFacts,
} from "../src/platform/layout.ts";

const info = {
  caFile: "/p/sim/ca/ca.pem",
  modules: {
    mcias: { url: "https://127.0.0.1:1001", caFile: "/p/sim/ca/ca.pem" },
    metacrypt: {
      url: "https://127.0.0.1:1002",
      caFile: "/p/sim/metacrypt/ca.pem",
      extra: { tokenFile: "/p/sim/metacrypt/token" },
    },
    mcns: {
      url: "https://127.0.0.1:1003",
      caFile: "/p/sim/ca/ca.pem",
      extra: { tokenFile: "/p/sim/mcns/token", dnsPort: 1053 },
    },
    mcproxy: {
      socket: "/p/sim/mcproxy/mc-proxy.sock",
      extra: { ":443": "127.0.0.1:1443", ":8443": "127.0.0.1:18443", other: "x" },
    },
    "registry-auth": {
      url: "https://127.0.0.1:1004",
      extra: {
        realm: "https://127.0.0.1:1004/token",
        service: "mcr",
        issuer: "sim",
        rootCertBundle: "/p/sim/registry-auth/signing.pem",
      },
    },
  },
};

const layout = platformLayout("/p");
const state: PlatformState = {
  version: 1,
  registryPort: 5001,
  agentPort: 9444,
  portLow: 23_400,
  nodeName: "local",
  workspace: "/repo/examples",
};

describe("simFacts", () => {
  it("takes every endpoint the platform needs from sim.json", () => {
    const f = simFacts(info);
    expect(f.mcns.dnsPort).toBe(1053);
    expect(f.mcproxy.listeners).toEqual({ ":443": "127.0.0.1:1443", ":8443": "127.0.0.1:18443" });
    expect(f.registryAuth.rootCertBundle).toBe("/p/sim/registry-auth/signing.pem");
  });

  it("names a missing module", () => {
    const { mcns: _gone, ...modules } = info.modules;
    expect(() => simFacts({ ...info, modules })).toThrow(/sim\.json has no mcns endpoint/);
  });
});

describe("generated configuration", () => {
  const f = simFacts(info);

  it("the operator's mcp.toml: one node, sim CA, paths relative to the platform dir", () => {
    const text = mcpToml(layout, state, f);
    expect(text).toContain('name = "local"\naddress = "127.0.0.1:9444"');
    expect(text).toContain('[tls]\nca_cert = "sim/ca/ca.pem"');
    expect(text).toContain('workspace = "/repo/examples"');
    expect(text).toContain('password_file = "registry-password"');
    expect(text).toContain('services_dir = "services"');
  });

  it("the agent: sim endpoints, Podman as the given user, its own port range", () => {
    const text = agentConfig(layout, state, f, "mcp");
    expect(text).toContain('grpc_addr = "127.0.0.1:9444"');
    expect(text).toContain('run_as = "mcp"');
    expect(text).toContain('range = "23400-23499"');
    expect(text).toContain('socket = "/p/sim/mcproxy/mc-proxy.sock"');
    expect(text).toContain('token_file = "/p/sim/metacrypt/token"');
    expect(text).toContain('zone = "svc.mcp.metacircular.net"');
  });

  it("the registry: loopback only, token auth through the sim", () => {
    const c = JSON.parse(registryConfig(layout, 5001, f.registryAuth));
    expect(c.http.addr).toBe("127.0.0.1:5001");
    expect(c.auth.token).toEqual({
      realm: "https://127.0.0.1:1004/token",
      service: "mcr",
      issuer: "sim",
      rootcertbundle: "/p/sim/registry-auth/signing.pem",
    });
    expect(c.storage.filesystem.rootdirectory).toBe("/p/registry/data");
  });

  it("route ports stay below Linux's ephemeral range (where free test ports come from)", () => {
    expect(pickPortLow(0)).toBe(20_000);
    expect(pickPortLow(0.999_999) + 99).toBeLessThan(32_768);
  });
});
