import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "@mcp/agent";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { renderAgentConfig, renderContainersConf, renderUnit, SYSTEMD_UNIT } from "../src/index.ts";

const DEPLOY_UNIT = fileURLToPath(
  new URL("../../../deploy/systemd/mcp-agent.service", import.meta.url),
);

describe("deploy/systemd/mcp-agent.service", () => {
  it("is the unit provisioning installs", async () => {
    expect(await readFile(DEPLOY_UNIT, "utf8")).toBe(SYSTEMD_UNIT);
  });

  it("carries the bootstrap lessons", () => {
    const unit = renderUnit(850);
    expect(unit).toMatch(/^ProtectHome=false$/m);
    expect(unit).toMatch(/^ProtectSystem=full$/m);
    expect(unit).toMatch(/^Environment=XDG_RUNTIME_DIR=\/run\/user\/850$/m);
    expect(unit).toMatch(/^Environment=PATH=.*:\/usr\/bin:.*:\/run\/current-system\/sw\/bin/m);
    expect(unit).toMatch(/^User=mcp$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(
      /^ExecStart=\/srv\/mcp\/mcp-agent server --config \/srv\/mcp\/mcp-agent.toml$/m,
    );
    expect(unit).not.toContain("@MCP_UID@");
  });

  it("passes systemd-analyze verify with no warnings", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mcp-fleet-unit-"));
    try {
      // verify checks that ExecStart exists: point it at a stand-in executable.
      const exe = join(dir, "mcp-agent");
      await writeFile(exe, "#!/bin/sh\n", { mode: 0o755 });
      const unit = join(dir, "mcp-agent.service");
      await writeFile(
        unit,
        renderUnit(999).replace("ExecStart=/srv/mcp/mcp-agent", `ExecStart=${exe}`),
      );
      const r = await execa("systemd-analyze", ["verify", unit], { reject: false });
      expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: "" });
      // The check is real: an unknown key is reported.
      await writeFile(
        unit,
        renderUnit(999).replace(
          "ExecStart=/srv/mcp/mcp-agent",
          `ExecStart=${exe}\nProtectHomes=yes`,
        ),
      );
      const bad = await execa("systemd-analyze", ["verify", unit], { reject: false });
      expect(bad.stderr).toContain("Unknown key 'ProtectHomes'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("templates", () => {
  it("renders an agent config the agent itself accepts (bootstrap step 3 shape)", () => {
    const text = renderAgentConfig({
      nodeName: "rift",
      grpcAddr: "100.95.252.120:9444",
      mciasUrl: "https://mcias.metacircular.net:8443",
    });
    const c = parseConfig(text, { filename: "mcp-agent.toml", env: {} });
    expect(c.server).toEqual({
      grpc_addr: "100.95.252.120:9444",
      tls_cert: "/srv/mcp/certs/cert.pem",
      tls_key: "/srv/mcp/certs/key.pem",
    });
    expect(c.agent).toMatchObject({ node_name: "rift", address: "100.95.252.120" });
    expect(c.database.path).toBe("/srv/mcp/mcp.db");
    expect(() =>
      renderAgentConfig({ nodeName: "Rift!", grpcAddr: "x:1", mciasUrl: "https://m" }),
    ).toThrow(/not a DNS label/);
  });

  it("containers.conf sets runc only where asked, and always keyring=false and ulimits", () => {
    expect(renderContainersConf({ runc: true })).toContain('runtime = "runc"');
    expect(renderContainersConf({ runc: false })).not.toContain("runtime");
    expect(renderContainersConf({ runc: false })).toContain("keyring = false");
    expect(renderContainersConf({ runc: false })).toContain(
      'default_ulimits = ["nofile=20000:20000"',
    );
  });
});
