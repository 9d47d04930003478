import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { Code, ConnectError } from "@connectrpc/connect";
import { StepStatus } from "@mcp/proto/agent/v1";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  BIN,
  healthz,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";

// A real agent process over real TLS 1.3, the sim MCIAS, and real rootless Podman as the
// user `mcp` (the agent runs as root here and runs podman as that user).

let env: TestEnv;
let podman: PodmanHarness;
let agent: AgentProcess;
const portLow = 40000 + Math.floor(Math.random() * 200) * 100;

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

function serviceToml(name: string, image: string, greeting = "hello") {
  return `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${image}"
cmd = ["sh", "-c", "echo serving ${greeting}; mkdir -p /www && echo ${greeting} > /www/index.html && exec httpd -f -p $PORT -h /www"]

[[components.routes]]
port = 443
mode = "l4"
`;
}

beforeAll(async () => {
  env = await setupEnv();
  try {
    podman = await setupPodman();
    const port = await freePort();
    const file = join(env.dir, "mcp-agent.toml");
    // A short drain: replacements below need not wait the default 5 s.
    await writeFile(
      file,
      agentConfig(env, { port, portLow, extra: '\n[deploy]\ndrain = "200ms"\n' }),
    );
    agent = await spawnAgent(file, port, env.ca);
  } catch (e) {
    await podman?.cleanup();
    await env.close();
    throw e;
  }
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await podman?.cleanup();
  await env?.close();
}, 60_000);

describe("mcp-agent process", () => {
  it("answers /healthz without a token", async () => {
    const r = await healthz(agent.port, env.ca);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: "ok", node: "rift" });
  });

  it("refuses a TLS 1.2 client", async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = tlsConnect({
        host: "127.0.0.1",
        port: agent.port,
        ca: env.ca,
        servername: "localhost",
        maxVersion: "TLSv1.2",
        ALPNProtocols: ["h2"],
      });
      s.on("secureConnect", () => {
        s.destroy();
        resolve("connected");
      });
      s.on("error", (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    });
    expect(outcome).not.toBe("connected");
    expect(outcome).toMatch(/VERSION|PROTOCOL/);
  });

  it("refuses missing, malformed, expired and non-admin tokens and changes nothing", async () => {
    const name = podman.name("sec");
    const spec = { spec: { name, node: "rift", toml: serviceToml(name, podman.image) } };
    const cases: [string | undefined, Code][] = [
      [undefined, Code.Unauthenticated],
      ["not a token", Code.Unauthenticated],
      ["x".repeat(43), Code.Unauthenticated],
      [env.tokens.expired, Code.Unauthenticated],
      [env.tokens.operator, Code.PermissionDenied],
    ];
    for (const [token, code] of cases) {
      const c = agentClient(agent.port, env.ca, token);
      expect(await codeOf(drain(c.deploy(spec)))).toBe(code);
      expect(await codeOf(c.listServices({}))).toBe(code);
    }
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    expect((await admin.listServices({})).services).toEqual([]);
    expect(await podman.client.containerExists(`${name}-web`)).toBe(false);
  });

  it("answers an invalid spec with InvalidArgument and the diagnostics", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const name = podman.name("bad");
    const bad = serviceToml(name, podman.image).replace('mode = "l4"', 'mode = "l9"');
    const err = await drain(admin.deploy({ spec: { name, node: "rift", toml: bad } })).catch((e) =>
      ConnectError.from(e),
    );
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toMatch(/:11:\d+: SD\d+ .*routes\[0\]\.mode/);
  });

  it("refuses a service name that would escape /srv", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    expect(await codeOf(drain(admin.undeploy({ service: "../etc" })))).toBe(Code.InvalidArgument);
    expect(await codeOf(admin.serviceStatus({ service: "../../srv" }))).toBe(Code.InvalidArgument);
  });

  it("deploys a busybox httpd whose port answers, redeploys unchanged, stops, starts, undeploys", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const name = podman.name("httpd");
    const spec = { spec: { name, node: "rift", toml: serviceToml(name, podman.image) } };

    const first = await drain(admin.deploy(spec));
    const result = first.at(-1)?.event;
    expect(result?.case).toBe("result");
    const hostPort = result?.case === "result" ? (result.value.ports.web ?? 0) : 0;
    expect(hostPort).toBeGreaterThanOrEqual(portLow);
    expect(result?.case === "result" && result.value.changed).toBe(true);

    const body = await fetchWithRetry(`http://127.0.0.1:${hostPort}/`);
    expect(body.trim()).toBe("hello");
    const details = await podman.client.inspectContainer(`${name}-web`);
    expect(details.labels).toMatchObject({
      "mcp.service": name,
      "mcp.component": "web",
      "mcp.version": "v1.0.0",
    });
    expect(details.env.PORT).toBe(String(hostPort));

    // Same spec again: every step unchanged or skipped, same container.
    const t0 = performance.now();
    const second = await drain(admin.deploy(spec));
    const redeployMs = performance.now() - t0;
    const steps = second.flatMap((e) => (e.event.case === "step" ? [e.event.value] : []));
    expect(steps.filter((s) => s.status === StepStatus.DONE)).toEqual([]);
    expect(second.at(-1)?.event.case === "result" && second.at(-1)?.event.value).toMatchObject({
      changed: false,
    });
    expect((await podman.client.inspectContainer(`${name}-web`)).id).toBe(details.id);
    expect(redeployMs).toBeLessThan(5000);

    const status = await admin.serviceStatus({ service: name });
    expect(status.drift).toBe(false);
    expect(status.components[0]).toMatchObject({
      observedState: "running",
      desiredVersion: "v1.0.0",
    });

    // A changed spec replaces the container: beside the old one on a fresh port (the route's
    // backend moves there), and the new one takes the canonical name.
    const changed = {
      spec: { name, node: "rift", toml: serviceToml(name, podman.image, "again") },
    };
    const third = await drain(admin.deploy(changed));
    const thirdResult = third.at(-1)?.event;
    expect(thirdResult?.case === "result" && thirdResult.value.changed).toBe(true);
    const newPort = thirdResult?.case === "result" ? (thirdResult.value.ports.web ?? 0) : 0;
    expect(newPort).not.toBe(hostPort);
    expect((await fetchWithRetry(`http://127.0.0.1:${newPort}/`)).trim()).toBe("again");
    expect(await podman.client.containerExists(`${name}-web_prev`)).toBe(false);
    expect(await podman.client.containerExists(`${name}-web_next`)).toBe(false);

    await drain(admin.stop({ service: name }));
    expect((await podman.client.inspectContainer(`${name}-web`)).state.running).toBe(false);
    expect((await admin.serviceStatus({ service: name })).active).toBe(false);

    await drain(admin.start({ service: name }));
    expect((await podman.client.inspectContainer(`${name}-web`)).state.running).toBe(true);
    expect((await fetchWithRetry(`http://127.0.0.1:${newPort}/`)).trim()).toBe("again");

    const ps = await admin.listContainers({ service: name });
    expect(ps.containers.map((c) => [c.name, c.state])).toEqual([[`${name}-web`, "running"]]);

    const lines = await drain(admin.logs({ service: name, tail: 10 }));
    expect(lines.map((l) => [l.component, l.line])).toContainEqual(["web", "serving again"]);

    // Follow: the stream stays open until the client cancels, then ends promptly.
    const ac = new AbortController();
    const followed: string[] = [];
    const followStarted = performance.now();
    const follow = (async () => {
      for await (const l of admin.logs({ service: name, follow: true }, { signal: ac.signal })) {
        followed.push(l.line);
        setTimeout(() => ac.abort(), 300);
      }
    })();
    expect(await codeOf(follow)).toBe(Code.Canceled);
    expect(followed).toContain("serving again");
    expect(performance.now() - followStarted).toBeLessThan(5000);

    await drain(admin.undeploy({ service: name }));
    expect(await podman.client.containerExists(`${name}-web`)).toBe(false);
    expect(await codeOf(admin.serviceStatus({ service: name }))).toBe(Code.NotFound);
  });

  it("leaves the previous version running when the new container cannot start", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const name = podman.name("comp");
    const good = serviceToml(name, podman.image);
    const first = await drain(admin.deploy({ spec: { name, node: "rift", toml: good } }));
    const r = first.at(-1)?.event;
    const hostPort = r?.case === "result" ? (r.value.ports.web ?? 0) : 0;
    expect((await fetchWithRetry(`http://127.0.0.1:${hostPort}/`)).trim()).toBe("hello");
    const before = await podman.client.inspectContainer(`${name}-web`);

    // A bind mount of a host path that does not exist: podman run fails.
    const bad = good.replace(
      'name = "web"',
      'name = "web"\nvolumes = ["/nonexistent-mcp-test:/data"]',
    );
    const failed: string[] = [];
    const err = await (async () => {
      for await (const e of admin.deploy({ spec: { name, node: "rift", toml: bad } })) {
        if (e.event.case === "step" && e.event.value.status === StepStatus.FAILED) {
          failed.push(e.event.value.name);
        }
      }
    })().catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).rawMessage).toMatch(/^container \(web\) failed: /);
    expect(failed).toEqual(["container"]);

    const after = await podman.client.inspectContainer(`${name}-web`);
    expect(after.id).toBe(before.id);
    expect(after.state.running).toBe(true);
    expect(await podman.client.containerExists(`${name}-web_prev`)).toBe(false);
    expect((await fetchWithRetry(`http://127.0.0.1:${hostPort}/`)).trim()).toBe("hello");
    const status = await admin.serviceStatus({ service: name });
    expect(status.drift).toBe(false);
    expect(status.spec?.toml).toBe(good);
    await drain(admin.undeploy({ service: name }));
  });

  it("stops on SIGTERM within the 2 s grace, exit 0, even when a peer never closes its side of the connection", async () => {
    const port = await freePort();
    const file = join(env.dir, "stopping.toml");
    await writeFile(
      file,
      agentConfig(env, { port, portLow: portLow + 90 }).replace(
        `${env.dir}/mcp.db`,
        `${env.dir}/stopping.db`,
      ),
    );
    const stopping = await spawnAgent(file, port, env.ca);
    // A peer that opened an HTTP/2 connection and then stops reading, so it never answers
    // the agent's goaway nor closes its side (a busy or stuck client): the agent's socket is
    // left half-closed, which server.close() alone waits on forever.
    const peer = tlsConnect({ host: "127.0.0.1", port, ca: env.ca, ALPNProtocols: ["h2"] });
    peer.on("error", () => {});
    await new Promise<void>((resolve) => peer.once("secureConnect", () => resolve()));
    // The client preface and an empty SETTINGS frame, then no more reading.
    peer.write(
      Buffer.concat([
        Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
      ]),
    );
    await new Promise((r) => setTimeout(r, 300));
    peer.pause();
    try {
      const t = Date.now();
      stopping.proc.kill("SIGTERM");
      const r = await stopping.proc;
      expect(r.exitCode, stopping.stderr()).toBe(0);
      // The grace for open calls is 2 s; the forced exit (code 1) would come at 10 s.
      expect(Date.now() - t).toBeLessThan(8000);
    } finally {
      peer.destroy();
      await stopping.stop();
    }
  }, 30_000);

  it("reports NodeInfo with the real Podman version", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const info = await admin.nodeInfo({});
    expect(info.name).toBe("rift");
    expect(info.podmanVersion).toMatch(/^\d+\.\d+/);
  });
});

describe("mcp-agent start-up", () => {
  it("refuses to start without its TLS certificate, in one line", async () => {
    const port = await freePort();
    const file = join(env.dir, "no-cert.toml");
    await writeFile(
      file,
      agentConfig(env, { port, portLow, certFile: join(env.dir, "missing.pem") }).replace(
        `${env.dir}/mcp.db`,
        `${env.dir}/other.db`,
      ),
    );
    const r = await execa(process.execPath, [BIN, "server", "--config", file], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(
      `mcp-agent: cannot read the TLS certificate ${env.dir}/missing.pem (server.tls_cert): ENOENT`,
    );
  });

  it("names an unknown config key and the file", async () => {
    const file = join(env.dir, "typo.toml");
    await writeFile(
      file,
      agentConfig(env, { port: 1, portLow }).replace("[agent]", "[agent]\nnode = 1"),
    );
    const r = await execa(process.execPath, [BIN, "server", "--config", file], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`mcp-agent: ${file}: unknown key "agent.node"`);
  });
});

async function fetchWithRetry(url: string): Promise<string> {
  // Generous: on a loaded 2-core CI machine rootless port forwarding can take seconds to come up.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return await r.text();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
