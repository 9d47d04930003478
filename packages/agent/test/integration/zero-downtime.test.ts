import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { McnsClient } from "@mcp/mcns-client";
import type { McProxyClient } from "@mcp/mcproxy-client";
import { DeployOutcome, HealthState } from "@mcp/proto/agent/v1";
import type { SimInstance } from "@mcp/sim";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  platformClients,
  platformConfig,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { hammer, type ProxyTarget, untilServing } from "../helpers/through-proxy.ts";
import { drain } from "../security/shared.ts";

// End to end, with the platform-agent harness: a real agent on real rootless Podman and the
// sim's mc-proxy, Metacrypt and MCNS. A client asks for the service by name over TLS through
// the proxy every 20 ms while it is redeployed; not one request may fail.

const ZONE = "svc.mcp.metacircular.net";

let env: TestEnv;
let sim: SimInstance;
let podman: PodmanHarness;
let agent: AgentProcess;
let proxy: McProxyClient;
let mcns: McnsClient;
let target: ProxyTarget;
const portLow = 47000 + Math.floor(Math.random() * 100) * 20;

beforeAll(async () => {
  try {
    env = await setupEnv({ prefix: "mcp-zero-downtime-", platform: true });
    sim = env.sim;
    podman = await setupPodman();
    const port = await freePort();
    const file = join(env.dir, "agent.toml");
    await writeFile(
      file,
      agentConfig(env, {
        port,
        portLow,
        extra: `
[deploy]
drain = "1s"
${platformConfig(sim, { zone: ZONE, certsDir: join(env.dir, "certs") })}`,
      }),
    );
    agent = await spawnAgent(file, port, env.ca);
    ({ proxy, mcns } = await platformClients(sim));
    target = {
      address: String(sim.endpoints.mcproxy?.extra?.[":443"]),
      ca: await readFile(sim.endpoints.metacrypt?.caFile ?? "", "utf8"),
    };
  } catch (e) {
    await agent?.stop();
    await podman?.cleanup();
    await env?.close();
    throw e;
  }
}, 180_000);

afterAll(async () => {
  proxy?.close();
  await mcns?.close();
  await agent?.stop();
  await podman?.cleanup();
  await env?.close();
}, 60_000);

/** A site that serves its VERSION at /index.html, with an HTTP check on `checkPath`. */
function siteToml(
  name: string,
  image: string,
  version: string,
  checkPath = "/index.html",
  check = `type = "http"\npath = "${checkPath}"`,
  delay = 0,
) {
  return `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${image}"
env = ["VERSION=${version}", "DELAY=${delay}"]
cmd = ["sh", "-c", "sleep $DELAY && mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p $PORT -h /www"]

[[components.routes]]
port = 443
mode = "l7"

${
  check === "default"
    ? ""
    : `[components.health]
${check}
interval = "500ms"
retries = 2
timeout = "1s"
`
}`;
}

async function snapshot(name: string) {
  const containers = (await podman.client.listContainers({ all: true }))
    .filter((c) => c.name.startsWith(`${name}-`))
    .map((c) => [c.name, c.id, c.state])
    .sort();
  const routes = (await proxy.listRoutes())
    .filter((r) => r.hostname === `${name}.${ZONE}`)
    .map((r) => [r.listener, r.backend]);
  const records = (await mcns.listRecords(ZONE, { name })).map((r) => [r.type, r.value]);
  return { containers, routes, records };
}

describe("zero-downtime redeploy through the proxy", () => {
  it("v1 → v2 with no failed request; a v3 that fails its check leaves v2 serving; a dry run changes nothing", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const name = podman.name("zdt");
    const host = `${name}.${ZONE}`;
    const deploy = (toml: string, dryRun = false) =>
      drain(admin.deploy({ spec: { name, node: "rift", toml }, dryRun }));
    try {
      await deploy(siteToml(name, podman.image, "v1"));
      await untilServing(target, host, "v1");
      const v1 = await snapshot(name);

      // v1 → v2 while a client asks every 20 ms.
      const h = hammer(target, host);
      await new Promise((res) => setTimeout(res, 300));
      const started = Date.now();
      await deploy(siteToml(name, podman.image, "v2"));
      const deployMs = Date.now() - started;
      await new Promise((res) => setTimeout(res, 300));
      await h.stop();
      expect(h.failures, h.sequence).toEqual([]);
      expect(h.answers.length).toBeGreaterThan(20);
      expect(h.answers.at(-1)).toBe("v2");
      // Once v2 answered, v1 never did again (the routes switched once).
      expect(h.answers.slice(h.answers.indexOf("v2"))).not.toContain("v1");
      const v2 = await snapshot(name);
      expect(v2.containers.map(([n, , s]) => [n, s])).toEqual([[`${name}-web`, "running"]]);
      expect(v2.containers[0]?.[1]).not.toBe(v1.containers[0]?.[1]);
      expect(v2.routes[0]?.[1]).not.toBe(v1.routes[0]?.[1]);
      expect(deployMs).toBeGreaterThanOrEqual(1000); // the drain
      const history = await admin.history({ service: name });
      expect(history.deployments.map((d) => [d.outcome, d.message])).toContainEqual([
        DeployOutcome.SUCCEEDED,
        "",
      ]);

      // v3's check asks for a path that 404s: the deploy fails, v2 keeps serving untouched.
      const h3 = hammer(target, host);
      const err = await deploy(siteToml(name, podman.image, "v3", "/missing")).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      await new Promise((res) => setTimeout(res, 200));
      await h3.stop();
      expect(err?.code).toBe(Code.FailedPrecondition);
      expect(err?.rawMessage).toMatch(
        new RegExp(
          `new container ${name}-web_next \\(.*\\) failed its health check, unhealthy after 2 failed check\\(s\\): GET /missing answered 404, expected 200; ${name}-web keeps serving, routes unchanged`,
        ),
      );
      expect(h3.failures).toEqual([]);
      expect(new Set(h3.answers)).toEqual(new Set(["v2"]));
      expect(await snapshot(name)).toEqual(v2);
      const failed = (await admin.history({ service: name })).deployments.find(
        (d) => d.outcome !== DeployOutcome.SUCCEEDED,
      );
      expect(failed?.message).toMatch(/failed its health check/);

      // Plan / dry run of a change: nothing moves.
      await deploy(siteToml(name, podman.image, "v4"), true);
      await admin.plan({ spec: { name, node: "rift", toml: siteToml(name, podman.image, "v4") } });
      expect(await snapshot(name)).toEqual(v2);
      // Status shows the agent's health verdict of the container that took over.
      const status = await admin.serviceStatus({ service: name });
      expect(status.components.map((c) => [c.name, c.containerId, c.health])).toEqual([
        ["web", v2.containers[0]?.[1], HealthState.HEALTHY],
      ]);

      // A command check runs in the new container through `podman exec` as the agent's user.
      const h5 = hammer(target, host);
      await deploy(
        siteToml(
          name,
          podman.image,
          "v5",
          "",
          'type = "command"\ncommand = ["test", "-s", "/www/index.html"]',
        ),
      );
      await new Promise((res) => setTimeout(res, 200));
      await h5.stop();
      expect(h5.failures).toEqual([]);
      expect(h5.answers.at(-1)).toBe("v5");

      // No check declared: the default TCP connect to the route's port, which must not pass
      // on rootless Podman's port forwarder alone while httpd is not listening yet (1 s).
      const h6 = hammer(target, host);
      await deploy(siteToml(name, podman.image, "v6", "", "default", 1));
      await new Promise((res) => setTimeout(res, 200));
      await h6.stop();
      expect(h6.failures).toEqual([]);
      expect(h6.answers.at(-1)).toBe("v6");
    } finally {
      await drain(admin.undeploy({ service: name })).catch(() => {});
    }
  }, 120_000);
});
