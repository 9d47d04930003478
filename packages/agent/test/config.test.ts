import { describe, expect, it } from "vitest";
import { configKeys, durationMs, isConfigError, parseConfig } from "../src/config.ts";

const minimal = `
[server]
grpc_addr = "127.0.0.1:9444"
tls_cert = "/srv/mcp/certs/cert.pem"
tls_key = "/srv/mcp/certs/key.pem"

[database]
path = "/srv/mcp/mcp.db"

[mcias]
server_url = "https://mcias.example:8443"
service_name = "mcp-agent"

[agent]
node_name = "rift"
container_runtime = "podman"

[monitor]
interval = "60s"
alert_command = []
cooldown = "15m"
flap_threshold = 3
flap_window = "10m"
retention = "30d"

[log]
level = "info"
`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isConfigError(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("accepts the bootstrap config and fills defaults", () => {
    const c = parseConfig(minimal, { filename: "a.toml" });
    expect(c.server.grpc_addr).toBe("127.0.0.1:9444");
    expect(c.agent.role).toBe("compute");
    expect(c.certs.dir).toBe("/srv/mc-proxy/certs");
    expect(c.portRange).toEqual({ low: 10000, high: 60000 });
    expect(c.history.keep).toBe(5);
    expect(c.metacrypt.server_url).toBe("");
    expect(durationMs(c.monitor.retention)).toBe(30 * 86_400_000);
  });

  it("names an unknown key and the file", () => {
    const msg = errorOf(() =>
      parseConfig(minimal.replace('grpc_addr = "', 'grpc_adr = "x"\ngrpc_addr = "'), {
        filename: "/srv/mcp/mcp-agent.toml",
      }),
    );
    expect(msg).toContain('/srv/mcp/mcp-agent.toml: unknown key "server.grpc_adr"');
  });

  it("names an unknown section", () => {
    const msg = errorOf(() => parseConfig(`${minimal}\n[bogus]\nx = 1\n`, { filename: "f.toml" }));
    expect(msg).toBe('f.toml: unknown section "bogus"');
  });

  it("names a missing required key", () => {
    const msg = errorOf(() =>
      parseConfig(minimal.replace(/tls_key = .*\n/, ""), { filename: "f.toml" }),
    );
    expect(msg).toBe("f.toml: server.tls_key is required");
  });

  it("reports TOML syntax errors with line and column", () => {
    const msg = errorOf(() => parseConfig("[server\n", { filename: "f.toml" }));
    expect(msg).toMatch(/^f\.toml:1:\d+: invalid TOML/);
  });

  it("rejects bad values with the key", () => {
    expect(
      errorOf(() =>
        parseConfig(minimal.replace('interval = "60s"', 'interval = "soon"'), { filename: "f" }),
      ),
    ).toMatch(/^f: monitor\.interval: expected a duration/);
    expect(
      errorOf(() => parseConfig(`${minimal}\n[ports]\nrange = "60000-10000"\n`, { filename: "f" })),
    ).toMatch(/ports\.range/);
    expect(
      errorOf(() => parseConfig(minimal.replace('"rift"', '"Rift_1"'), { filename: "f" })),
    ).toMatch(/agent\.node_name/);
    // Renewal starts 30 days before expiry: a shorter certificate would always be due.
    expect(
      errorOf(() => parseConfig(`${minimal}\n[metacrypt]\nttl = "720h"\n`, { filename: "f" })),
    ).toMatch(/^f: metacrypt\.ttl: must be more than 30 days/);
    expect(
      errorOf(() => parseConfig(`${minimal}\n[metacrypt]\nttl = "soon"\n`, { filename: "f" })),
    ).toMatch(/^f: metacrypt\.ttl: expected a duration/);
    expect(
      parseConfig(`${minimal}\n[metacrypt]\nttl = "721h"\n`, { filename: "f" }).metacrypt.ttl,
    ).toBe("721h");
    expect(
      errorOf(() => parseConfig(minimal, { filename: "f", env: { MCP_METACRYPT_TTL: "24h" } })),
    ).toMatch(/metacrypt\.ttl: must be more than 30 days/);
  });

  it("applies MCP_<SECTION>_<KEY> overrides with types", () => {
    const c = parseConfig(minimal, {
      filename: "f",
      env: {
        MCP_SERVER_GRPC_ADDR: "127.0.0.1:1",
        MCP_MONITOR_FLAP_THRESHOLD: "7",
        MCP_MONITOR_RECONCILE: "true",
        MCP_MONITOR_ALERT_COMMAND: '["/bin/alert","--now"]',
        MCP_AGENT_ROLE: "edge",
        MCP_HISTORY_KEEP: "9",
        MCP_MCPROXY_LISTENERS: '{"443":"https"}',
        MCP_UNRELATED_THING: "ignored",
      },
    });
    expect(c.server.grpc_addr).toBe("127.0.0.1:1");
    expect(c.monitor.flap_threshold).toBe(7);
    expect(c.monitor.reconcile).toBe(true);
    expect(c.monitor.alert_command).toEqual(["/bin/alert", "--now"]);
    expect(c.agent.role).toBe("edge");
    expect(c.history.keep).toBe(9);
    expect(c.mcproxy.listeners).toEqual({ "443": "https" });
  });

  it("can supply a whole required key from the environment", () => {
    const c = parseConfig(minimal.replace(/tls_key = .*\n/, ""), {
      filename: "f",
      env: { MCP_SERVER_TLS_KEY: "/k.pem" },
    });
    expect(c.server.tls_key).toBe("/k.pem");
  });

  it("rejects a malformed override naming the variable", () => {
    expect(
      errorOf(() => parseConfig(minimal, { filename: "f", env: { MCP_HISTORY_KEEP: "lots" } })),
    ).toBe('f: MCP_HISTORY_KEEP="lots" is not a number');
  });

  it("lists every key with its environment variable", () => {
    const keys = configKeys().map((k) => k.env);
    expect(keys).toContain("MCP_SERVER_GRPC_ADDR");
    expect(keys).toContain("MCP_PODMAN_XDG_RUNTIME_DIR");
    expect(keys).toContain("MCP_CERTS_DIR");
  });
});
