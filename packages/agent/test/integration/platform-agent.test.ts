import { Resolver } from "node:dns/promises";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { McnsClient } from "@mcp/mcns-client";
import type { McProxyClient } from "@mcp/mcproxy-client";
import { StepStatus } from "@mcp/proto/agent/v1";
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
import { get } from "../helpers/through-proxy.ts";
import { drain } from "../security/shared.ts";

// End to end: a real mcp-agent process deploys to real rootless Podman and wires the
// service into the sim's Metacrypt (certificate), mc-proxy (routes; admin socket) and MCNS
// (DNS); the test then reaches the container by name over TLS through the proxy, trusting
// only the Metacrypt CA, and asks the sim's DNS server for the name.

const ZONE = "svc.mcp.metacircular.net";

let env: TestEnv;
let sim: SimInstance;
let podman: PodmanHarness;
let agent: AgentProcess;
let proxy: McProxyClient;
let mcns: McnsClient;
let resolver: Resolver;
let metacryptCa: string;
let certsDir: string;
const portLow = 43000 + Math.floor(Math.random() * 100) * 100;

function platformSections(
  o: { mcnsUrl?: string; metacryptUrl?: string; socket?: string } = {},
): string {
  return platformConfig(sim, { zone: ZONE, certsDir, ...o });
}

async function startAgent(name: string, low: number, extra: string): Promise<AgentProcess> {
  const port = await freePort();
  const file = join(env.dir, `${name}.toml`);
  const text = agentConfig(env, { port, portLow: low, extra }).replace(
    `${env.dir}/mcp.db`,
    `${env.dir}/${name}.db`,
  );
  await writeFile(file, text);
  return spawnAgent(file, port, env.ca);
}

beforeAll(async () => {
  try {
    env = await setupEnv({ prefix: "mcp-platform-e2e-", platform: true });
    sim = env.sim;
    certsDir = join(env.dir, "certs");
    podman = await setupPodman();
    agent = await startAgent("main", portLow, platformSections());
    ({ proxy, mcns } = await platformClients(sim));
    const ns = sim.endpoints.mcns;
    resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${ns?.extra?.dnsPort}`]);
    metacryptCa = await readFile(sim.endpoints.metacrypt?.caFile ?? "", "utf8");
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

function serviceToml(name: string, image: string): string {
  // The spec's minimal L7 example, with a test image that serves a file, plus an L4 route.
  return `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${image}"
cmd = ["sh", "-c", "mkdir -p /www && echo hello from ${name} > /www/index.html && exec httpd -f -p $PORT_HTTPS -h /www"]

[[components.routes]]
name = "https"
port = 443
mode = "l7"

[[components.routes]]
name = "raw"
port = 9443
mode = "l4"
`;
}

async function httpsUntilOk(servername: string): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const target = { address: String(sim.endpoints.mcproxy?.extra?.[":443"]), ca: metacryptCa };
    const r = await get(target, servername, { path: "/", trim: false }).catch((e: Error) => ({
      status: 0,
      body: e.message,
    }));
    if (r.status === 200 || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 150));
  }
}

async function resolves(name: string): Promise<string[] | string> {
  try {
    return await resolver.resolve4(name);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

async function platformState(name: string) {
  const routes = (await proxy.listRoutes()).filter((r) => r.hostname === `${name}.${ZONE}`);
  const records = await mcns.listRecords(ZONE, { name });
  return { routes, records };
}

describe("deploy wires the service into Metacrypt, mc-proxy and MCNS", () => {
  it("is reachable by name over TLS from the Metacrypt CA; stop unwires it; undeploy removes the certificate", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const name = podman.name("site");
    const host = `${name}.${ZONE}`;
    const spec = { spec: { name, node: "rift", toml: serviceToml(name, podman.image) } };
    try {
      const events = await drain(admin.deploy(spec));
      const steps = events.flatMap((e) => (e.event.case === "step" ? [e.event.value] : []));
      const doneSteps = steps.filter((s) => s.status === StepStatus.DONE).map((s) => s.name);
      expect(doneSteps).toEqual(
        expect.arrayContaining(["certificate", "register-routes", "register-dns"]),
      );
      const result = events.at(-1)?.event;
      const ports = result?.case === "result" ? result.value.ports : {};

      const res = await httpsUntilOk(host);
      expect(res).toEqual({ status: 200, body: `hello from ${name}\n` });
      expect(await resolves(host)).toEqual(["127.0.0.1"]);
      const { routes, records } = await platformState(name);
      expect(routes.map((r) => [r.listener, r.mode, r.backend]).sort()).toEqual([
        [":443", "l7", `127.0.0.1:${ports.https}`],
        [":9443", "l4", `127.0.0.1:${ports.raw}`],
      ]);
      expect(records.map((r) => [r.type, r.value])).toEqual([["A", "127.0.0.1"]]);
      for (const f of [`${name}.pem`, `${name}.key`]) {
        expect((await stat(join(certsDir, f))).mode & 0o777).toBe(0o600);
      }

      // Deploying the same spec again changes nothing, the certificate included.
      const again = await drain(admin.deploy(spec));
      const changed = again.flatMap((e) =>
        e.event.case === "step" && e.event.value.status === StepStatus.DONE
          ? [e.event.value.name]
          : [],
      );
      expect(changed).toEqual([]);

      await drain(admin.stop({ service: name }));
      expect(await platformState(name)).toEqual({ routes: [], records: [] });
      expect(await resolves(host)).toBe("ENOTFOUND");
      expect((await podman.client.inspectContainer(`${name}-web`)).state.running).toBe(false);

      await drain(admin.undeploy({ service: name }));
      expect(await podman.client.containerExists(`${name}-web`)).toBe(false);
      await expect(stat(join(certsDir, `${name}.pem`))).rejects.toThrow(/ENOENT/);
      await expect(stat(join(certsDir, `${name}.key`))).rejects.toThrow(/ENOENT/);
    } finally {
      await drain(admin.undeploy({ service: name })).catch(() => {});
    }
  });

  it("a route mc-proxy lost behind the agent's back is put back by the agent's platform check", async () => {
    const sections = platformSections().replace(
      /^\[mcproxy\]\n/m,
      '[mcproxy]\ncheck_interval = "1s"\n',
    );
    const checking = await startAgent("checking", portLow + 90, sections);
    const admin = agentClient(checking.port, env.ca, env.tokens.admin);
    const name = podman.name("lost");
    const host = `${name}.${ZONE}`;
    try {
      await drain(
        admin.deploy({ spec: { name, node: "rift", toml: serviceToml(name, podman.image) } }),
      );
      expect((await httpsUntilOk(host)).status).toBe(200);
      // As after an mc-proxy restart that lost its state.
      await proxy.removeRoute(":443", host);
      const res = await httpsUntilOk(host);
      expect(res, checking.stderr()).toEqual({ status: 200, body: `hello from ${name}\n` });
      const events = await admin.listEvents({ service: name });
      expect(events.events.map((e) => e.kind)).toContain("route-restored");
    } finally {
      await drain(admin.undeploy({ service: name })).catch(() => {});
      await checking.stop();
    }
  });

  const faults = [
    {
      down: "MCNS",
      step: "register-dns",
      sections: (dead: number) => platformSections({ mcnsUrl: `https://127.0.0.1:${dead}` }),
      message: (name: string, dead: number) =>
        `^register-dns failed: MCNS cannot register ${name}\\.svc\\.mcp\\.metacircular\\.net: mcns GET .*: cannot reach https://127\\.0\\.0\\.1:${dead}`,
    },
    {
      down: "mc-proxy",
      step: "register-routes",
      sections: () => platformSections({ socket: join(env.dir, "no-proxy.sock") }),
      message: (name: string) =>
        `^register-routes failed: mc-proxy cannot list routes for ${name}\\.svc\\.mcp\\.metacircular\\.net on :443: mc-proxy ListRoutes: no socket at .*no-proxy\\.sock`,
    },
    {
      down: "Metacrypt",
      step: "certificate",
      sections: (dead: number) => platformSections({ metacryptUrl: `https://127.0.0.1:${dead}` }),
      message: (name: string, dead: number) =>
        `^certificate failed: Metacrypt cannot issue a certificate for ${name}\\.svc\\.mcp\\.metacircular\\.net: metacrypt POST /v1/engine/request: cannot reach https://127\\.0\\.0\\.1:${dead}`,
    },
  ];

  it.each(faults.map((f, i) => ({ ...f, i })))(
    "$down down: the deploy fails at $step with the cause, and nothing stays half-registered",
    async ({ down, sections, message, i }) => {
      const dead = await freePort();
      const broken = await startAgent(`down${i}`, portLow + 50 + i * 10, sections(dead));
      try {
        const admin = agentClient(broken.port, env.ca, env.tokens.admin);
        const name = podman.name(`down${i}`);
        const spec = { spec: { name, node: "rift", toml: serviceToml(name, podman.image) } };
        const err = await drain(admin.deploy(spec)).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        expect(err?.code, down).toBe(Code.Unavailable);
        expect(err?.rawMessage).toMatch(new RegExp(message(name, dead)));
        expect(await platformState(name)).toEqual({ routes: [], records: [] });
        expect(await podman.client.containerExists(`${name}-web`)).toBe(false);
        expect((await admin.listServices({})).services).toEqual([]);
      } finally {
        await broken.stop();
      }
    },
  );
});
