import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { locateConfig, parseConfig } from "../src/config.ts";
import { ExitCode, isCliError } from "../src/errors.ts";
import { loadConfig } from "../src/load-config.ts";

const base = { path: "/home/op/.config/mcp/mcp.toml", env: {}, home: "/home/op", cwd: "/work" };

const full = `
services_dir = "defs"

[[nodes]]
name = "rift"
address = "100.95.252.120:9444"
ssh = "rift"
arch = "amd64"
role = "compute"

[[nodes]]
name = "svc"
address = "[fd7a::1]:9444"

[build]
workspace = "~/src/metacircular"

[mcias]
server_url = "https://mcias.metacircular.net:8443"
ca_cert = "/etc/ssl/mcias-ca.pem"
service_name = "mcp"

[tls]
ca_cert = "ca.pem"
`;

function thrown(f: () => unknown): { message: string; hint?: string; exitCode: number } {
  try {
    f();
  } catch (e) {
    if (!isCliError(e)) throw e;
    return { message: e.message, hint: e.hint, exitCode: e.exitCode };
  }
  throw new Error("did not throw");
}

describe("parseConfig", () => {
  it("reads every key, resolving relative paths against the file's directory and ~ against home", () => {
    const c = parseConfig(full, base);
    expect(c.nodes).toEqual([
      { name: "rift", address: "100.95.252.120:9444", ssh: "rift", arch: "amd64", role: "compute" },
      { name: "svc", address: "[fd7a::1]:9444" },
    ]);
    expect(c.servicesDir).toBe("/home/op/.config/mcp/defs");
    expect(c.tls.caCert).toBe("/home/op/.config/mcp/ca.pem");
    expect(c.mcias).toEqual({
      serverUrl: "https://mcias.metacircular.net:8443",
      caCert: "/etc/ssl/mcias-ca.pem",
      serviceName: "mcp",
    });
    expect(c.build.workspace).toBe("/home/op/src/metacircular");
    expect(c.tokenPath).toBe("/home/op/.config/mcp/token");
  });

  it("defaults the services directory and the token to the config's directory", () => {
    const c = parseConfig("", { ...base, path: "/etc/mcp/mcp.toml" });
    expect(c.servicesDir).toBe("/etc/mcp/services");
    expect(c.tokenPath).toBe("/etc/mcp/token");
    expect(c.nodes).toEqual([]);
  });

  it("lets MCP_<SECTION>_<KEY> override the file, with relative paths against the working directory", () => {
    const c = parseConfig(full, {
      ...base,
      env: {
        MCP_TLS_CA_CERT: "certs/other.pem",
        MCP_MCIAS_SERVER_URL: "https://127.0.0.1:1",
        MCP_SERVICES_DIR: "/srv/defs",
        MCP_BUILD_WORKSPACE: "~/ws",
        MCP_CONFIG: "/ignored/here",
        MCP_TOKEN: "not-a-key",
        MCP_AGENT_LISTEN: "belongs to the daemon",
      },
    });
    expect(c.tls.caCert).toBe("/work/certs/other.pem");
    expect(c.mcias.serverUrl).toBe("https://127.0.0.1:1");
    expect(c.servicesDir).toBe("/srv/defs");
    expect(c.build.workspace).toBe("/home/op/ws");
  });

  it("rejects a misspelt environment override of a known section, naming it", () => {
    const e = thrown(() => parseConfig(full, { ...base, env: { MCP_TLS_CA_CRT: "x" } }));
    expect(e.exitCode).toBe(ExitCode.Usage);
    expect(e.message).toContain("MCP_TLS_CA_CRT");
    expect(e.hint).toContain("MCP_TLS_CA_CERT");
  });

  it.each([
    ["top level", 'colour = "blue"', '"colour"'],
    ["section", '[tls]\nca_crt = "x"', '"tls.ca_crt"'],
    ["node", '[[nodes]]\nname = "a"\naddress = "h:1"\nadress = "h:2"', '"nodes[0].adress"'],
    ["unknown section", "[logging]\nlevel = 1", '"logging"'],
  ])("names an unknown key (%s) and the file in one line", (_what, text, key) => {
    const e = thrown(() => parseConfig(text, base));
    expect(e.exitCode).toBe(ExitCode.Usage);
    expect(e.message).toBe(`${base.path}: unknown key ${key}`);
    expect(e.message).not.toContain("\n");
    expect(e.hint).toContain("known keys:");
  });

  it.each([
    ['[[nodes]]\naddress = "h:1"', "nodes[0] has no name"],
    ['[[nodes]]\nname = "a"', 'node "a" has no address'],
    ['[[nodes]]\nname = "a"\naddress = "nohostport"', 'address "nohostport" is not host:port'],
    ['[[nodes]]\nname = "Rift"\naddress = "h:1"', "is not a DNS label"],
    [
      '[[nodes]]\nname = "a"\naddress = "h:1"\n[[nodes]]\nname = "a"\naddress = "h:2"',
      'node "a" is listed twice',
    ],
    ["[tls]\nca_cert = 3", "tls.ca_cert must be a string, not a number"],
    ['tls = "x"', "tls must be a table"],
    ['nodes = "x"', "nodes must be an array of tables"],
  ])("rejects %j", (text, message) => {
    const e = thrown(() => parseConfig(text, base));
    expect(e.exitCode).toBe(ExitCode.Usage);
    expect(e.message).toContain(message);
  });

  it("reports invalid TOML with the file, line and column", () => {
    const e = thrown(() => parseConfig('[[nodes]]\nname = "a\n', base));
    expect(e.message).toMatch(/^\/home\/op\/\.config\/mcp\/mcp\.toml:2:\d+: not valid TOML/);
  });
});

describe("locateConfig", () => {
  it("prefers --config, then MCP_CONFIG, then ~/.config/mcp/mcp.toml", () => {
    const o = { home: "/h", cwd: "/w" };
    expect(locateConfig({ ...o, flag: "x.toml", env: { MCP_CONFIG: "/y.toml" } })).toEqual({
      path: "/w/x.toml",
      explicit: true,
    });
    expect(locateConfig({ ...o, env: { MCP_CONFIG: "~/y.toml" } })).toEqual({
      path: "/h/y.toml",
      explicit: true,
    });
    expect(locateConfig({ ...o, env: {} })).toEqual({
      path: "/h/.config/mcp/mcp.toml",
      explicit: false,
    });
  });
});

describe("loadConfig", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("reads the file MCP_CONFIG names, and puts the token beside it", async () => {
    dir = await mkdtemp(join(tmpdir(), "mcp-cli-config-"));
    await writeFile(
      join(dir, "mcp.toml"),
      '[[nodes]]\nname = "rift"\naddress = "127.0.0.1:9444"\n',
    );
    const c = await loadConfig({
      env: { MCP_CONFIG: join(dir, "mcp.toml") },
      home: "/nonexistent",
      cwd: "/",
    });
    expect(c.nodes.map((n) => n.name)).toEqual(["rift"]);
    expect(c.tokenPath).toBe(join(dir, "token"));
    expect(c.servicesDir).toBe(join(dir, "services"));
  });

  it("says where it looked when there is no file", async () => {
    await expect(
      loadConfig({ env: {}, home: "/nonexistent-home", cwd: "/" }),
    ).rejects.toMatchObject({
      exitCode: ExitCode.Usage,
      message: "no config file at /nonexistent-home/.config/mcp/mcp.toml",
    });
  });
});
