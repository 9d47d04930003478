import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { MciasStore, type SimInstance } from "@mcp/sim";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  BIN,
  platformConfig,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { codeOf, drain } from "./shared.ts";

// The agent's transport and what it writes: TLS 1.3 only, no client certificate asked
// for, refusal to start without its certificate or key; and a full scenario on the whole sim
// platform (a Metacrypt certificate for an L7 route, mc-proxy, MCNS) with logging at
// `trace`, whose output must hold no token and no private key. The files it wrote have the
// modes its README states.

const ZONE = "svc.mcp.metacircular.net";
let dir: string;
let sim: SimInstance;
let env: TestEnv;
let podman: PodmanHarness;
let agent: AgentProcess;
let certsDir: string;
let configText: string;
const secrets: Record<string, string> = {};
const portLow = 47000 + Math.floor(Math.random() * 100) * 100;

beforeAll(async () => {
  try {
    env = await setupEnv({ prefix: "mcp-agent-sec-", platform: true });
    sim = env.sim;
    dir = env.dir;
    certsDir = join(dir, "certs");
    const store = new MciasStore(join(dir, "sim", "mcias"));
    const revoked = (await store.issueToken("admin", 3_600_000)).token;
    await store.revokeToken(revoked);
    Object.assign(secrets, { ...env.tokens, revoked });
    const mc = sim.endpoints.metacrypt;
    const ns = sim.endpoints.mcns;
    secrets.metacrypt = (await readFile(String(mc?.extra?.tokenFile), "utf8")).trim();
    secrets.mcns = (await readFile(String(ns?.extra?.tokenFile), "utf8")).trim();
    podman = await setupPodman();
    const port = await freePort();
    const platform = platformConfig(sim, { zone: ZONE, certsDir });
    configText = agentConfig(env, { port, portLow, extra: platform }).replace(
      'level = "warn"',
      'level = "trace"',
    );
    const file = join(dir, "mcp-agent.toml");
    await writeFile(file, configText);
    agent = await spawnAgent(file, port, env.ca);
  } catch (e) {
    await agent?.stop();
    await podman?.cleanup();
    await env?.close();
    throw e;
  }
}, 180_000);

afterAll(async () => {
  await agent?.stop();
  await podman?.cleanup();
  await env?.close();
}, 60_000);

function tlsOutcome(o: { maxVersion?: "TLSv1.2" | "TLSv1.3" }): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port: agent.port,
      ca: env.ca,
      servername: "localhost",
      ALPNProtocols: ["h2"],
      ...o,
    });
    s.on("secureConnect", () => {
      const v = s.getProtocol() ?? "?";
      s.destroy();
      resolve(`connected ${v}`);
    });
    s.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

describe("the agent's TLS", () => {
  it("speaks TLS 1.3 only: a TLS 1.2 client is refused in the handshake", async () => {
    expect(await tlsOutcome({ maxVersion: "TLSv1.2" })).toMatch(/VERSION|PROTOCOL/);
    expect(await tlsOutcome({})).toBe("connected TLSv1.3");
  });

  it("needs no client certificate: a client without one calls an RPC", async () => {
    const c = agentClient(agent.port, env.ca, secrets.admin);
    expect(await codeOf(c.nodeInfo({}))).toBe("ok");
  });

  it("refuses to start, with one line and exit 2, when its certificate or key is missing", async () => {
    for (const [key, broken] of [
      ["tls_cert", configText.replace(env.certFile, join(dir, "nope.pem"))],
      ["tls_key", configText.replace(env.keyFile, join(dir, "nope.key"))],
    ] as const) {
      const file = join(dir, `broken-${key}.toml`);
      await writeFile(file, broken);
      const r = await execa(process.execPath, [BIN, "server", "--config", file], {
        reject: false,
        timeout: 15_000,
      });
      expect(r.exitCode).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`server.${key}`);
      expect(lines[0]).toContain(key === "tls_cert" ? "nope.pem" : "nope.key");
    }
  });
});

describe("a full scenario logs no token and no private key; files have their stated modes", () => {
  it("deploys an L7 service with a Metacrypt certificate, is called by every kind of token, and its logs hold no secret", async () => {
    const admin = agentClient(agent.port, env.ca, secrets.admin);
    const name = podman.name("l7");
    const toml = `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${podman.image}"
env = ["API_TOKEN=s3cr3t-env-value"]

[[components.routes]]
port = 443
mode = "l7"
`;
    await drain(admin.deploy({ spec: { name, node: "rift", toml } }));
    expect((await admin.serviceStatus({ service: name })).components[0]?.observedState).toBe(
      "running",
    );
    for (const t of [secrets.operator, secrets.expired, secrets.revoked, "garbage-token"]) {
      const c = agentClient(agent.port, env.ca, t);
      expect(await codeOf(c.listServices({}))).not.toBe("ok");
      expect(await codeOf(drain(c.deploy({ spec: { name, node: "rift", toml } })))).not.toBe("ok");
    }
    await drain(admin.restart({ service: name }));
    await admin.listRoutes({});
    await drain(admin.stop({ service: name }));
    await drain(admin.start({ service: name }));

    // Files: the certificate's key 0600, the certificate itself not world-writable; the
    // database and its directory as the README states.
    const keyMode = (await stat(join(certsDir, `${name}.key`))).mode & 0o777;
    expect(keyMode.toString(8)).toBe("600");
    const keyText = await readFile(join(certsDir, `${name}.key`), "utf8");
    expect(keyText).toContain("PRIVATE KEY");
    const dbMode = (await stat(join(dir, "mcp.db"))).mode & 0o777;
    expect(dbMode.toString(8)).toBe("600");

    await drain(admin.undeploy({ service: name }));
    await agent.stop();
    const logs = agent.stderr();
    expect(logs.length).toBeGreaterThan(1000); // trace logging did produce output
    expect(logs).toContain('"msg":"rpc"');
    for (const [what, value] of Object.entries(secrets)) {
      expect(logs.includes(value), `${what} token in the logs`).toBe(false);
    }
    expect(logs).not.toContain("PRIVATE KEY");
    expect(logs).not.toContain(keyText.split("\n")[1] ?? "-");
    expect(logs).not.toContain("s3cr3t-env-value");
    expect(logs.toLowerCase()).not.toMatch(/bearer [a-z0-9_-]{20,}/);
  }, 120_000);
});
