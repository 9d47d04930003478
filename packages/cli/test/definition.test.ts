import { HealthCheckType, RouteMode } from "@mcp/proto/agent/v1";
import { describe, expect, it } from "vitest";
import { checkDefinition, toServiceSpec } from "../src/definition.ts";
import { ExitCode } from "../src/errors.ts";

const text = `name = "metacrypt"
node = "rift"
active = false

[build.images]
metacrypt = "Dockerfile.api"

[[components]]
name = "api"
image = "mcr.svc.mcp.metacircular.net:8443/metacrypt:v1.4.1"
volumes = ["/srv/metacrypt:/srv/metacrypt"]
cmd = ["server", "--config", "/srv/metacrypt/metacrypt.toml"]
env = ["LOG=debug"]
network = "mcpnet"
user = "0:0"
restart = "unless-stopped"

[components.health]
type = "http"
path = "/healthz"
route = "rest"

[[components.routes]]
name = "rest"
port = 8443
mode = "l4"

[[components.routes]]
name = "web"
port = 443
mode = "l7"
hostname = "vault.metacircular.net"
`;

describe("definitions on the wire", () => {
  it("carries the TOML text and every field of the definition", () => {
    const def = checkDefinition(text, "/defs/metacrypt.toml", "metacrypt");
    const spec = toServiceSpec(def.def, def.text);
    expect(spec.toml).toBe(text);
    expect(spec).toMatchObject({
      name: "metacrypt",
      node: "rift",
      active: false,
      path: "metacrypt",
      buildImages: { metacrypt: "Dockerfile.api" },
    });
    const c = spec.components[0];
    expect(c).toMatchObject({
      name: "api",
      image: "mcr.svc.mcp.metacircular.net:8443/metacrypt:v1.4.1",
      volumes: ["/srv/metacrypt:/srv/metacrypt"],
      cmd: ["server", "--config", "/srv/metacrypt/metacrypt.toml"],
      env: ["LOG=debug"],
      network: "mcpnet",
      user: "0:0",
      restart: "unless-stopped",
    });
    expect(c?.routes.map((r) => [r.name, r.port, r.mode, r.hostname])).toEqual([
      ["rest", 8443, RouteMode.L4, undefined],
      ["web", 443, RouteMode.L7, "vault.metacircular.net"],
    ]);
    expect(c?.health).toMatchObject({ type: HealthCheckType.HTTP, path: "/healthz", status: 200 });
  });

  it("refuses a file whose name is not the service's", () => {
    try {
      checkDefinition(text, "/defs/vault.toml", "vault");
      throw new Error("accepted");
    } catch (e) {
      expect(e).toMatchObject({
        exitCode: ExitCode.Failed,
        message: '/defs/vault.toml defines service "metacrypt", not "vault"',
      });
    }
  });
});
