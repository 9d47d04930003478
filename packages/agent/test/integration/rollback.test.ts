import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createMcProxyClient, type McProxyClient } from "@mcp/mcproxy-client";
import { DeployOutcome } from "@mcp/proto/agent/v1";
import type { SimInstance } from "@mcp/sim";
import {
  freePort,
  type PodmanHarness,
  setupPodman,
  startRegistry,
  type TestRegistry,
} from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  platformConfig,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { hammer, type ProxyTarget, untilServing } from "../helpers/through-proxy.ts";
import { drain } from "../security/shared.ts";

// Rollback and history retention end to end: real agent processes on real rootless Podman,
// pulling real images (distinct image IDs per version) from a real registry on loopback,
// behind the sim's mc-proxy, Metacrypt and MCNS. One agent keeps the default 5 deploys,
// one keeps 2, to see images leave Podman with the history entries that needed them.

const ZONE = "svc.mcp.metacircular.net";

let env: TestEnv;
let sim: SimInstance;
let podman: PodmanHarness;
let registry: TestRegistry;
let agentA: AgentProcess; // [history] keep = 5 (default)
let agentB: AgentProcess; // [history] keep = 2
let proxy: McProxyClient;
let target: ProxyTarget;
const portBase = 43000 + Math.floor(Math.random() * 40) * 200;

/** `registry/<run prefix><repo>:<version>`: pushed, then removed locally so agents pull it. */
const imageRef = (repo: string, version: string) =>
  registry.ref(`${podman.prefix}${repo}:${version}.0.0`);

async function startAgent(sub: string, portLow: number, extra: string): Promise<AgentProcess> {
  const dir = join(env.dir, sub);
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const file = join(dir, "agent.toml");
  await writeFile(
    file,
    agentConfig(
      { ...env, dir },
      {
        port,
        portLow,
        extra: `
[deploy]
drain = "1s"

[registry]
tls_verify = false
${platformConfig(sim, { zone: ZONE, certsDir: join(dir, "certs") })}${extra}`,
      },
    ),
  );
  return spawnAgent(file, port, env.ca);
}

beforeAll(async () => {
  try {
    env = await setupEnv({ prefix: "mcp-rollback-", platform: true });
    sim = env.sim;
    podman = await setupPodman();
    registry = await startRegistry();
    // One image per version, FROM the test image with a label of its own: distinct image
    // IDs, so removing a version's reference really removes an image.
    const ctx = await podman.tempDir();
    await writeFile(join(ctx, "Containerfile"), `FROM ${podman.image}\n`, { mode: 0o644 });
    for (const [repo, version] of [
      ["rb", "v1"],
      ["rb", "v2"],
      ["ret", "v1"],
      ["ret", "v2"],
      ["ret", "v3"],
    ] as const) {
      const ref = imageRef(repo, version);
      await podman.client.buildImage({
        context: ctx,
        tags: [ref],
        pull: "never",
        labels: { "mcp-e2e.image": `${podman.runId}-${repo}-${version}` },
      });
      await podman.client.pushImage(ref, { tlsVerify: false });
      await podman.client.removeImage(ref);
    }
    [agentA, agentB] = await Promise.all([
      startAgent("a", portBase, ""),
      startAgent("b", portBase + 100, "\n[history]\nkeep = 2\n"),
    ]);
    proxy = createMcProxyClient({ socketPath: sim.endpoints.mcproxy?.socket ?? "" });
    target = {
      address: String(sim.endpoints.mcproxy?.extra?.[":443"]),
      ca: await readFile(sim.endpoints.metacrypt?.caFile ?? "", "utf8"),
    };
  } catch (e) {
    await agentA?.stop();
    await agentB?.stop();
    await podman?.cleanup();
    await registry?.stop();
    await env?.close();
    throw e;
  }
}, 240_000);

afterAll(async () => {
  proxy?.close();
  await agentA?.stop();
  await agentB?.stop();
  await podman?.cleanup();
  await registry?.stop();
  await env?.close();
}, 60_000);

/** A site serving VERSION at /index.html from `image`, with an HTTP check. */
function siteToml(name: string, image: string, version: string) {
  return `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${image}"
env = ["VERSION=${version}"]
cmd = ["sh", "-c", "mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p $PORT -h /www"]

[[components.routes]]
port = 443
mode = "l7"

[components.health]
type = "http"
path = "/index.html"
interval = "500ms"
retries = 2
timeout = "1s"
`;
}

async function snapshot(name: string) {
  const containers = (await podman.client.listContainers({ all: true }))
    .filter((c) => c.name.startsWith(`${name}-`))
    .map((c) => [c.name, c.id, c.state, c.image])
    .sort();
  const routes = (await proxy.listRoutes())
    .filter((r) => r.hostname === `${name}.${ZONE}`)
    .map((r) => [r.listener, r.backend]);
  return { containers, routes };
}

function errorOf(p: Promise<unknown>): Promise<ConnectError | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
}

describe("rollback through the safe replacement", () => {
  it("v1 → v2 → Rollback serves v1 again with no failed request; History lists the three; --to v2 works; a dry run changes nothing", async () => {
    const admin = agentClient(agentA.port, env.ca, env.tokens.admin);
    const name = podman.name("rb");
    const host = `${name}.${ZONE}`;
    const deploy = (version: string) =>
      drain(
        admin.deploy({
          spec: { name, node: "rift", toml: siteToml(name, imageRef("rb", version), version) },
        }),
      );
    try {
      await deploy("v1");
      await untilServing(target, host, "v1");
      await deploy("v2");
      await untilServing(target, host, "v2");

      // Rollback (to the previous successful deploy) while a client asks every 20 ms.
      const h = hammer(target, host);
      await new Promise((res) => setTimeout(res, 300));
      const events = await drain(admin.rollback({ service: name }));
      await new Promise((res) => setTimeout(res, 300));
      await h.stop();
      expect(h.failures, h.sequence).toEqual([]);
      expect(h.answers.at(-1)).toBe("v1");
      expect(h.answers.slice(h.answers.indexOf("v1"))).not.toContain("v2");
      const result = events.find((e) => e.event.case === "result")?.event.value;
      expect(result).toMatchObject({ service: name, version: "v1.0.0", changed: true });
      const afterRollback = await snapshot(name);
      expect(afterRollback.containers.map(([n, , s, i]) => [n, s, i])).toEqual([
        [`${name}-web`, "running", imageRef("rb", "v1")],
      ]);

      const history = (await admin.history({ service: name })).deployments;
      expect(history.map((d) => [d.version, d.outcome])).toEqual([
        ["v1.0.0", DeployOutcome.SUCCEEDED],
        ["v2.0.0", DeployOutcome.SUCCEEDED],
        ["v1.0.0", DeployOutcome.SUCCEEDED],
      ]);
      expect(history[0]?.spec?.toml).toContain(imageRef("rb", "v1"));

      // A dry run says what it would deploy and changes nothing: containers, routes, history.
      const dry = await drain(admin.rollback({ service: name, version: "v2.0.0", dryRun: true }));
      const plan = dry.find((e) => e.event.case === "result")?.event.value;
      expect(plan).toMatchObject({ version: "v2.0.0", changed: true });
      expect(await snapshot(name)).toEqual(afterRollback);
      expect((await admin.history({ service: name })).deployments).toHaveLength(3);

      // Rollback --to v2, again under load.
      const h2 = hammer(target, host);
      await drain(admin.rollback({ service: name, version: "v2.0.0" }));
      await new Promise((res) => setTimeout(res, 300));
      await h2.stop();
      expect(h2.failures, h2.sequence).toEqual([]);
      expect(h2.answers.at(-1)).toBe("v2");
      expect((await snapshot(name)).containers.map(([, , , i]) => i)).toEqual([
        imageRef("rb", "v2"),
      ]);
      expect((await admin.history({ service: name })).deployments.map((d) => d.version)).toEqual([
        "v2.0.0",
        "v1.0.0",
        "v2.0.0",
        "v1.0.0",
      ]);

      // An unknown version is refused and changes nothing.
      const err = await errorOf(drain(admin.rollback({ service: name, version: "v9.0.0" })));
      expect(err?.code).toBe(Code.FailedPrecondition);
      // Both images are needed by kept entries (keep = 5): neither was pruned.
      expect(await podman.client.imageExists(imageRef("rb", "v1"))).toBe(true);
      expect(await podman.client.imageExists(imageRef("rb", "v2"))).toBe(true);
    } finally {
      await drain(admin.undeploy({ service: name })).catch(() => {});
    }
  }, 150_000);
});

describe("history retention", () => {
  it("keep = 2: after v1, v2, v3 the image of v1 is gone from Podman, v2/v3 stay; a rollback to v1 is refused", async () => {
    const admin = agentClient(agentB.port, env.ca, env.tokens.admin);
    const name = podman.name("ret");
    const host = `${name}.${ZONE}`;
    try {
      for (const version of ["v1", "v2", "v3"]) {
        await drain(
          admin.deploy({
            spec: { name, node: "rift", toml: siteToml(name, imageRef("ret", version), version) },
          }),
        );
        await untilServing(target, host, version);
        if (version === "v2") {
          // Two kept entries need both images.
          expect(await podman.client.imageExists(imageRef("ret", "v1"))).toBe(true);
        }
      }
      expect(await podman.client.imageExists(imageRef("ret", "v1"))).toBe(false);
      expect(await podman.client.imageExists(imageRef("ret", "v2"))).toBe(true);
      expect(await podman.client.imageExists(imageRef("ret", "v3"))).toBe(true);
      // The shared test image the others are built FROM was not pulled by the agent: kept.
      expect(await podman.client.imageExists(podman.image)).toBe(true);
      expect((await admin.history({ service: name })).deployments.map((d) => d.version)).toEqual([
        "v3.0.0",
        "v2.0.0",
      ]);

      const before = await snapshot(name);
      const err = await errorOf(drain(admin.rollback({ service: name, version: "v1.0.0" })));
      expect(err?.code).toBe(Code.FailedPrecondition);
      expect(err?.rawMessage).toMatch(
        new RegExp(
          `no successful deploy of ${name} v1\\.0\\.0 in the kept history \\(no longer kept`,
        ),
      );
      expect(await snapshot(name)).toEqual(before);

      // The kept image is enough to go back to v2 (nothing to pull).
      await drain(admin.rollback({ service: name }));
      await untilServing(target, host, "v2");
      expect(await podman.client.imageExists(imageRef("ret", "v3"))).toBe(true);
    } finally {
      await drain(admin.undeploy({ service: name })).catch(() => {});
    }
  }, 150_000);
});
