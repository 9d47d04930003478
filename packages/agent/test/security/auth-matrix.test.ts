import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { AgentService } from "@mcp/proto/agent/v1";
import { MciasStore } from "@mcp/sim";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALLOW, authInterceptor } from "../../src/server/auth.ts";
import { errorInterceptor } from "../../src/server/server.ts";
import { agentServiceImpl } from "../../src/server/service.ts";
import { fakeValidate, makeAgent } from "../helpers/agent.ts";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { callAny, codeOf, containersOf, drain, dumpDb, requestFor, serviceToml } from "./shared.ts";

// Every AgentService method, enumerated from the generated descriptor (a method added later
// is in the matrix without editing this file), called on a real agent process over real
// TLS with the sim MCIAS, by every kind of caller. Only `admin` gets through; every refusal
// leaves the database and the containers exactly as they were. The agent runs with
// `mcias.cache_ttl = "1s"` so a revoked token's cached validation runs out within the test.

const CACHE_TTL_MS = 1000;
const METHODS = AgentService.methods;

let env: TestEnv;
let podman: PodmanHarness;
let agent: AgentProcess;
let mcias: MciasStore;
let service: string;
const portLow = 46000 + Math.floor(Math.random() * 100) * 100;

type AnyClient = Record<string, (req: unknown, opts?: unknown) => unknown>;
const clientOf = (token?: string) => agentClient(agent.port, env.ca, token) as unknown as AnyClient;

beforeAll(async () => {
  env = await setupEnv();
  try {
    podman = await setupPodman();
    mcias = new MciasStore(join(env.dir, "sim", "mcias"));
    const port = await freePort();
    const file = join(env.dir, "mcp-agent.toml");
    const text = agentConfig(env, { port, portLow }).replace(
      'service_name = "mcp-agent"',
      `service_name = "mcp-agent"\ncache_ttl = "${CACHE_TTL_MS}ms"`,
    );
    await writeFile(file, text);
    agent = await spawnAgent(file, port, env.ca);
    // One deployed, running service: the target of every refused call, so a refusal that
    // leaked through would show as a changed row or container.
    service = podman.name("authz");
    await drain(
      agentClient(agent.port, env.ca, env.tokens.admin).deploy({
        spec: { name: service, node: "rift", toml: serviceToml(service, podman.image) },
      }),
    );
  } catch (e) {
    await agent?.stop();
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

/**
 * What a refused call must not change. `events`, `observed_containers` and `monitor_states`
 * are the monitor's record of what Podman shows (other runs' containers included, which
 * come and go meanwhile); the containers are compared from Podman itself.
 */
async function snapshot() {
  const db = dumpDb(join(env.dir, "mcp.db"), ["events", "observed_containers", "monitor_states"]);
  return { db, containers: await containersOf(podman) };
}

function targetRequest(m: (typeof METHODS)[number]) {
  // What a caller would send to change things: a changed definition, the live service.
  const toml = serviceToml(service, podman.image);
  return requestFor(m, {
    service,
    spec: { name: service, node: "rift", toml: `${toml}\n# changed\n` },
    dryRun: false,
  });
}

describe("authorization over every AgentService method (real process, real TLS)", () => {
  it("the allow map names exactly the methods of the descriptor, each needing admin", () => {
    expect(Object.keys(ALLOW).sort()).toEqual(METHODS.map((m) => m.localName).sort());
    for (const m of METHODS) expect(ALLOW[m.localName as keyof typeof ALLOW]).toEqual(["admin"]);
  });

  it("refuses no, malformed, expired and non-admin tokens on every method and changes nothing", async () => {
    const before = await snapshot();
    const callers: [string, string | undefined, Code][] = [
      ["no token", undefined, Code.Unauthenticated],
      ["malformed", "not a token", Code.Unauthenticated],
      ["random", "x".repeat(43), Code.Unauthenticated],
      ["expired", env.tokens.expired, Code.Unauthenticated],
      ["non-admin", env.tokens.operator, Code.PermissionDenied],
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [who, token, code] of callers) {
      const c = clientOf(token);
      for (const m of METHODS) {
        const r = await codeOf(callAny(c, m, targetRequest(m)));
        got.push(`${who} ${m.name} ${r === "ok" ? "ok" : Code[r]}`);
        want.push(`${who} ${m.name} ${Code[code]}`);
      }
    }
    expect(got).toEqual(want);
    // A raw header that is not "Bearer <token>" at all.
    const raw = createClient(
      AgentService,
      (await import("@connectrpc/connect-node")).createGrpcTransport({
        baseUrl: `https://127.0.0.1:${agent.port}`,
        nodeOptions: { ca: env.ca },
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Basic ${Buffer.from("admin:x").toString("base64")}`);
            return next(req);
          },
        ],
      }),
    );
    expect(await codeOf(raw.listServices({}))).toBe(Code.Unauthenticated);
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it("lets admin through every method (whatever the answer, it is not an auth refusal)", async () => {
    const c = clientOf(env.tokens.admin);
    const codes: string[] = [];
    for (const m of METHODS) {
      // A service that does not exist and dry runs: admin's calls must change nothing here.
      const r = await codeOf(callAny(c, m, requestFor(m, { service: "nosuch", dryRun: true })));
      codes.push(`${m.name} ${r === "ok" ? "ok" : Code[r]}`);
    }
    for (const line of codes) expect(line).not.toMatch(/Unauthenticated|PermissionDenied/);
  }, 60_000);

  it("refuses a revoked token once its cached validation has run out (mcias.cache_ttl)", async () => {
    const { token } = await mcias.issueToken("admin", 3_600_000);
    const c = clientOf(token);
    expect(await codeOf(c.listServices?.({}) as Promise<unknown>)).toBe("ok");
    expect(await mcias.revokeToken(token)).toBe(true);
    await new Promise((r) => setTimeout(r, CACHE_TTL_MS + 300));
    const before = await snapshot();
    const got = [];
    for (const m of METHODS) {
      const r = await codeOf(callAny(c, m, targetRequest(m)));
      got.push(`${m.name} ${r === "ok" ? "ok" : Code[r]}`);
    }
    expect(got).toEqual(METHODS.map((m) => `${m.name} Unauthenticated`));
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it("with MCIAS down, nothing passes once cached validations run out: Unavailable", async () => {
    const cached = (await mcias.issueToken("admin", 3_600_000)).token;
    expect(await codeOf(clientOf(cached).listServices?.({}) as Promise<unknown>)).toBe("ok");
    const fresh = (await mcias.issueToken("admin", 3_600_000)).token;
    await env.sim.stop();
    await new Promise((r) => setTimeout(r, CACHE_TTL_MS + 300));
    const before = await snapshot();
    for (const token of [cached, fresh]) {
      const c = clientOf(token);
      for (const m of METHODS) {
        const r = await codeOf(callAny(c, m, targetRequest(m)));
        expect(`${m.name} ${r === "ok" ? "ok" : Code[r]}`).toBe(`${m.name} Unavailable`);
      }
    }
    expect(await codeOf(clientOf(undefined).listServices?.({}) as Promise<unknown>)).toBe(
      Code.Unauthenticated,
    );
    expect(await snapshot()).toEqual(before);
  }, 90_000);
});

describe("a method without an allow-map entry", () => {
  it("is denied even to admin, by construction", async () => {
    // A copy of the descriptor with one more method, served by the real router and the real
    // interceptors with the real ALLOW map: the new method has no entry, so it is refused.
    const base = AgentService.method.nodeInfo;
    const extended = { ...AgentService } as DescService & { methods: unknown[] };
    const extra = {
      ...base,
      name: "DropEverything",
      localName: "dropEverything",
      parent: extended,
    };
    extended.methods = [...AgentService.methods, extra];
    (extended as { method: Record<string, unknown> }).method = {
      ...AgentService.method,
      dropEverything: extra,
    };
    let ran = false;
    const { agent: a } = makeAgent();
    const transport = createRouterTransport(
      (router) => {
        router.service(extended, {
          ...agentServiceImpl(a),
          dropEverything: async () => {
            ran = true;
            return {};
          },
        } as never);
      },
      {
        router: {
          interceptors: [
            errorInterceptor(pino({ level: "silent" })),
            authInterceptor(fakeValidate, ALLOW),
          ],
        },
        transport: {
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", "Bearer admin-token");
              return next(req);
            },
          ],
        },
      },
    );
    const client = createClient(extended, transport) as unknown as AnyClient;
    const fn = client.dropEverything;
    expect(fn).toBeDefined();
    expect(await codeOf(fn?.({}) as Promise<unknown>)).toBe(Code.PermissionDenied);
    expect(ran).toBe(false);
    // The same client reaches an existing method: the refusal is the allow map's.
    expect(await codeOf(client.nodeInfo?.({}) as Promise<unknown>)).toBe("ok");
  });
});
