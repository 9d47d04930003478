import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import type { McnsClient } from "@mcp/mcns-client";
import type { McProxyClient } from "@mcp/mcproxy-client";
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
  platformClients,
  platformConfig,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { codeOf, drain, dumpDb, integrityCheck } from "../security/shared.ts";

// SIGKILL in the middle of a deploy, at each step that leaves something behind (the
// test-only hook MCP_AGENT_TEST_CRASH_AFTER=<step> kills the agent right after that step
// changed something), on the whole sim platform (and a registry, for the pull step):
// Metacrypt certificate, mc-proxy route,
// MCNS record, host port, container. On restart the agent closes the interrupted operation
// and completes the deploy from the stored definition — or, cut before the definition was
// stored, releases the ports it had taken. Afterwards nothing is orphaned: one container,
// one route, one record, the service's ports only, and ServiceStatus tells the truth; an
// undeploy then leaves nothing at all.

const ZONE = "svc.mcp.metacircular.net";
let dir: string;
let sim: SimInstance;
let env: TestEnv;
let podman: PodmanHarness;
let proxy: McProxyClient;
let mcns: McnsClient;
let certsDir: string;
let configFile: string;
let port: number;
let running: AgentProcess | undefined;
let registry: TestRegistry;
/** An image only the registry has, so the deploy's pull step does something. */
let remoteImage: string;
const portLow = 49000 + Math.floor(Math.random() * 100) * 100;

beforeAll(async () => {
  try {
    env = await setupEnv({ prefix: "mcp-agent-crash-", platform: true });
    sim = env.sim;
    dir = env.dir;
    certsDir = join(dir, "certs");
    podman = await setupPodman();
    registry = await startRegistry();
    remoteImage = registry.ref(`${podman.prefix}-pull/busybox:v1.0.0`);
    await podman.client.pushImage(podman.image, { destination: remoteImage, tlsVerify: false });
    podman.defer(() => podman.client.removeImage(remoteImage, { force: true }).catch(() => {}));
    port = await freePort();
    configFile = join(dir, "mcp-agent.toml");
    await writeFile(
      configFile,
      agentConfig(env, {
        port,
        portLow,
        extra: `${platformConfig(sim, { zone: ZONE, certsDir })}
[monitor]
interval = "1h"

[registry]
tls_verify = false
`,
      }),
    );
    ({ proxy, mcns } = await platformClients(sim));
  } catch (e) {
    await podman?.cleanup();
    await registry?.stop();
    await env?.close();
    throw e;
  }
}, 180_000);

afterAll(async () => {
  await running?.stop();
  proxy?.close();
  await mcns?.close();
  await podman?.cleanup();
  await registry?.stop();
  await env?.close();
}, 60_000);

async function start(crashAfter?: string): Promise<AgentProcess> {
  // execa hands the child this process's environment as it is at spawn time.
  if (crashAfter) process.env.MCP_AGENT_TEST_CRASH_AFTER = crashAfter;
  try {
    return await spawnAgent(configFile, port, env.ca);
  } finally {
    delete process.env.MCP_AGENT_TEST_CRASH_AFTER;
  }
}

function toml(name: string, image = podman.image): string {
  return `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${image}"
cmd = ["sh", "-c", "exec httpd -f -p $PORT -h /"]

[[components.routes]]
port = 443
mode = "l7"
`;
}

/** Everything a deploy of `name` can leave behind, from the systems themselves. */
async function leftovers(name: string) {
  const host = `${name}.${ZONE}`;
  const containers = (await podman.client.listContainers({ all: true }))
    .filter((c) => c.name.startsWith(`${name}-`))
    .map((c) => `${c.name} ${c.state}`);
  const routes = (await proxy.listRoutes()).filter((r) => r.hostname === host).length;
  const records = (await mcns.listRecords(ZONE, { name })).length;
  const db = dumpDb(join(dir, "mcp.db"));
  const ports = (db.port_assignments as { service: string }[]).filter(
    (p) => p.service === name,
  ).length;
  const services = (db.services as { name: string }[]).filter((s) => s.name === name).length;
  const certs = [".pem", ".key"].filter((x) => existsSync(join(certsDir, `${name}${x}`))).length;
  return { containers, routes, records, ports, services, certs };
}

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const v = await f();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const STEPS = [
  "allocate-ports",
  "store-spec",
  "certificate",
  "pull",
  "container",
  "register-routes",
];

describe("SIGKILL during a deploy, then restart", () => {
  for (const step of [...STEPS, "register-dns"]) {
    it(`after ${step}: the restarted agent settles it and nothing is orphaned`, async () => {
      const name = podman.name(`k-${step.replace(/[^a-z]/g, "").slice(0, 8)}`);
      const crashing = await start(step);
      const admin = () => agentClient(port, env.ca, env.tokens.admin);
      const code = await codeOf(
        drain(
          admin().deploy({
            spec: {
              name,
              node: "rift",
              toml: toml(name, step === "pull" ? remoteImage : undefined),
            },
          }),
        ),
      );
      const exit = await crashing.proc;
      // register-dns is the last step: the deploy may have answered before the kill landed.
      if (step !== "register-dns") expect(code).not.toBe("ok");
      expect(exit.signal).toBe("SIGKILL");
      expect(integrityCheck(join(dir, "mcp.db"))).toBe("ok");

      running = await start();
      const ops = () =>
        Promise.resolve(
          (dumpDb(join(dir, "mcp.db")).operations as { service: string; status: string }[])
            .filter((o) => o.service === name)
            .map((o) => o.status),
        );
      // The interrupted operation is closed, never left "running".
      await until("operations", ops, (s) => !s.includes("running"));
      if (step === "allocate-ports") {
        // Cut before the definition was stored: rolled back — the ports are released.
        const left = await until(
          "rollback",
          () => leftovers(name),
          (l) => l.ports === 0,
        );
        expect(left).toEqual({
          containers: [],
          routes: 0,
          records: 0,
          ports: 0,
          services: 0,
          certs: 0,
        });
        expect(await codeOf(admin().serviceStatus({ service: name }))).not.toBe("ok");
      } else {
        // Completed from the stored definition.
        const left = await until(
          "completion",
          () => leftovers(name),
          (l) => l.routes === 1 && l.records === 1 && l.containers.length === 1,
        );
        expect(left).toEqual({
          containers: [`${name}-web running`],
          routes: 1,
          records: 1,
          ports: 1,
          services: 1,
          certs: 2,
        });
        expect((await ops()).at(-1)).toBe("succeeded");
        const status = await admin().serviceStatus({ service: name });
        expect(status.drift).toBe(false);
        expect(status.components.map((c) => c.observedState)).toEqual(["running"]);
        await drain(admin().undeploy({ service: name }));
        expect(await leftovers(name)).toEqual({
          containers: [],
          routes: 0,
          records: 0,
          ports: 0,
          services: 0,
          certs: 0,
        });
      }
      await running.stop();
      running = undefined;
    }, 60_000);
  }
});

// The same for stop and undeploy: a SIGKILL after each step that changes something leaves
// an operation the restarted agent completes (not only marks): a stopped service has no
// route or record and its container stopped, and is inactive; an undeployed one has
// nothing left at all.
const STOP_CASES: { op: "stop" | "stop-component" | "undeploy"; step: string }[] = [
  { op: "stop", step: "remove-dns" },
  { op: "stop", step: "stop" },
  { op: "stop-component", step: "stop" },
  { op: "undeploy", step: "remove-routes" },
  { op: "undeploy", step: "remove" },
  { op: "undeploy", step: "remove-certificate" },
  { op: "undeploy", step: "release-ports" },
];

describe("SIGKILL during a stop or an undeploy, then restart", () => {
  for (const { op, step } of STOP_CASES) {
    it(`${op} cut after ${step}: the restarted agent completes it`, async () => {
      const name = podman.name(
        `${op === "undeploy" ? "u" : "s"}-${step.replace(/[^a-z]/g, "").slice(0, 8)}`,
      );
      const admin = () => agentClient(port, env.ca, env.tokens.admin);
      running = await start();
      await drain(admin().deploy({ spec: { name, node: "rift", toml: toml(name) } }));
      await running.stop();

      const crashing = await start(step);
      // Stopped by afterAll should the kill not come.
      running = crashing;
      const call =
        op === "undeploy"
          ? drain(admin().undeploy({ service: name }))
          : drain(
              admin().stop({
                service: name,
                component: op === "stop-component" ? "web" : undefined,
              }),
            );
      const code = await codeOf(call);
      const exit = await crashing.proc;
      running = undefined;
      // release-ports is the last step: the answer may have left before the kill landed.
      if (step !== "release-ports") expect(code).not.toBe("ok");
      expect(exit.signal).toBe("SIGKILL");
      expect(integrityCheck(join(dir, "mcp.db"))).toBe("ok");

      running = await start();
      const ops = () =>
        Promise.resolve(
          (
            dumpDb(join(dir, "mcp.db")).operations as {
              service: string;
              kind: string;
              status: string;
            }[]
          )
            .filter((o) => o.service === name)
            .map((o) => `${o.kind} ${o.status}`),
        );
      if (op === "undeploy") {
        const left = await until(
          "undeploy completion",
          () => leftovers(name),
          (l) => l.services === 0 && l.containers.length === 0,
        );
        expect(left).toEqual({
          containers: [],
          routes: 0,
          records: 0,
          ports: 0,
          services: 0,
          certs: 0,
        });
        expect(await codeOf(admin().serviceStatus({ service: name }))).toBe(Code.NotFound);
        // Cut after its last step, nothing was left to do; otherwise a new undeploy ran.
        const journal = await ops();
        expect(journal).not.toContain("undeploy running");
        if (step !== "release-ports") expect(journal.at(-1)).toBe("undeploy succeeded");
      } else {
        const kind = op === "stop" ? "stop" : "stop:web";
        await until("stop completion", ops, (s) => s.at(-1) === `${kind} succeeded`);
        const left = await leftovers(name);
        expect(left.containers).toEqual([`${name}-web exited`]);
        // Stopping one component leaves the service's route and record; stopping the
        // service removes them. Ports and certificate stay for the next start.
        const routed = op === "stop-component" ? 1 : 0;
        expect(left).toMatchObject({
          routes: routed,
          records: routed,
          ports: 1,
          services: 1,
          certs: 2,
        });
        expect((await ops()).filter((s) => s.endsWith("running"))).toEqual([]);
        const status = await admin().serviceStatus({ service: name });
        expect(status.active).toBe(op === "stop-component");
        expect(status.components.map((c) => c.observedState)).toEqual(["exited"]);
        await drain(admin().undeploy({ service: name }));
        expect(await leftovers(name)).toEqual({
          containers: [],
          routes: 0,
          records: 0,
          ports: 0,
          services: 0,
          certs: 0,
        });
      }
      await running.stop();
      running = undefined;
    }, 90_000);
  }
});
