import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect as h2connect } from "node:http2";
import { join } from "node:path";
import type { DescField, DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AgentService } from "@mcp/proto/agent/v1";
import { freePort, type PodmanHarness, setupPodman } from "@mcp/testkit";
import { execa } from "execa";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientFor, makeAgent } from "../helpers/agent.ts";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  healthz,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { callAny, codeOf, drain, serviceToml } from "./shared.ts";

// Bad input of every shape, to every method: the agent answers with a client-error code and
// keeps running; hostile names are InvalidArgument; and shell metacharacters in env values
// and volume paths reach Podman as literal arguments (nothing runs them through a shell).

/** Codes that say "your request was wrong" (or names something absent) — never a crash. */
const CLIENT_CODES = new Set<Code | "ok">([
  "ok",
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
  Code.AlreadyExists,
  Code.OutOfRange,
]);

const HOSTILE = [
  "..",
  "../etc",
  "a/b",
  "/srv",
  "Upper",
  "аpi", // Cyrillic 'а'
  "ѕvc", // Cyrillic 'ѕ'
  "x".repeat(64),
  "x".repeat(70_000),
  "",
  "a b",
  "a\u0000b",
  "$(touch /tmp/pwned)",
  "-rf",
];

const text = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constantFrom(...HOSTILE),
);

/** An arbitrary request for `method`: every scalar field random, `spec` a random definition. */
function arbitraryRequest(method: DescMethod) {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  const spec = fc.record({
    name: text,
    node: fc.oneof(fc.constant("rift"), text),
    toml: fc.oneof(
      text,
      fc.string({ unit: "binary", maxLength: 2000 }),
      text.map((n) => serviceToml(n, "localhost/x:v1")),
    ),
  });
  for (const f of method.input.fields as readonly DescField[]) {
    if (f.localName === "follow") continue; // a follow would wait for the client to cancel
    if (f.fieldKind === "scalar") {
      const t = String(f.scalar);
      if (t === "9")
        parts[f.localName] = text; // STRING
      else if (t === "8") parts[f.localName] = fc.boolean();
      else if (t === "13") parts[f.localName] = fc.integer({ min: 0, max: 0xffffffff });
    } else if (f.fieldKind === "message" && f.localName === "spec") {
      parts.spec = spec;
    } else if (f.fieldKind === "list" && f.localName === "specs") {
      parts.specs = fc.array(spec, { maxLength: 3 });
    } else if (f.fieldKind === "list" && f.listKind === "scalar") {
      parts[f.localName] = fc.array(text, { maxLength: 3 });
    }
  }
  return fc.record(parts);
}

describe("every method with arbitrary requests (real router and service, fake runtime)", () => {
  it("answers each with a client-error code, never Internal or Unknown", async () => {
    const { agent } = makeAgent();
    const client = clientFor(agent, "admin-token") as unknown as Record<
      string,
      (req: unknown, opts?: unknown) => unknown
    >;
    const seen: Record<string, Set<string>> = {};
    for (const m of AgentService.methods) {
      seen[m.name] = new Set();
      await fc.assert(
        fc.asyncProperty(arbitraryRequest(m), async (req) => {
          const code = await codeOf(callAny(client, m, req));
          seen[m.name]?.add(code === "ok" ? "ok" : Code[code]);
          return CLIENT_CODES.has(code);
        }),
        { numRuns: 40, seed: 1 },
      );
    }
    // The fuzzing reached past validation somewhere, and was refused somewhere.
    expect(Object.values(seen).some((s) => s.has("InvalidArgument"))).toBe(true);
  }, 60_000);
});

let env: TestEnv;
let podman: PodmanHarness;
let agent: AgentProcess;
const portLow = 48000 + Math.floor(Math.random() * 100) * 100;
const pwned = `/tmp/mcp-pwned-${process.pid}`;

beforeAll(async () => {
  env = await setupEnv();
  try {
    podman = await setupPodman();
    const port = await freePort();
    const file = join(env.dir, "mcp-agent.toml");
    await writeFile(file, agentConfig(env, { port, portLow }));
    agent = await spawnAgent(file, port, env.ca);
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

/** POSTs raw bytes to a method over HTTP/2 + TLS; returns the Connect or gRPC status. */
function rawCall(
  path: string,
  body: Buffer,
  contentType: string,
  token: string,
): Promise<{ status: number; grpcStatus?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const session = h2connect(`https://127.0.0.1:${agent.port}`, { ca: env.ca });
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      authorization: `Bearer ${token}`,
      ...(contentType.startsWith("application/grpc") ? { te: "trailers" } : {}),
    });
    let status = 0;
    let grpcStatus: string | undefined;
    let out = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
      if (h["grpc-status"]) grpcStatus = String(h["grpc-status"]);
    });
    req.on("trailers", (t) => {
      if (t["grpc-status"]) grpcStatus = String(t["grpc-status"]);
    });
    req.on("data", (d: Buffer) => {
      if (out.length < 4096) out += d.toString("latin1");
    });
    req.on("end", () => {
      session.close();
      resolve({ status, grpcStatus, body: out });
    });
    req.on("error", (e) => {
      session.destroy();
      reject(e);
    });
    req.end(body);
  });
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

function grpcFrame(payload: Buffer, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, payload]);
}

describe("malformed and oversized bytes on the wire (real process)", () => {
  it("answers garbage, truncated frames and a 64 MiB message with an error and stays up", async () => {
    const token = env.tokens.admin;
    const results: string[] = [];
    const garbage = Buffer.from(
      fc.sample(fc.uint8Array({ minLength: 1, maxLength: 512 }), { numRuns: 1, seed: 7 })[0] ?? [],
    );
    for (const m of [
      AgentService.method.listServices,
      AgentService.method.serviceStatus,
      AgentService.method.deploy,
    ]) {
      const path = `/${AgentService.typeName}/${m.name}`;
      const unary = m.methodKind === "unary";
      const connectType = unary ? "application/proto" : "application/connect+proto";
      // Connect protocol with a random body.
      const a = await rawCall(
        path,
        Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x0a]),
        connectType,
        token,
      );
      results.push(`${m.name} connect-garbage ${a.status}`);
      // gRPC: random payload, and a frame that announces more bytes than it carries.
      const b = await rawCall(path, grpcFrame(garbage), "application/grpc", token);
      const c = await rawCall(
        path,
        grpcFrame(Buffer.from([0x0a, 0x05]), 1000),
        "application/grpc",
        token,
      );
      results.push(`${m.name} grpc-garbage ${b.grpcStatus} truncated ${c.grpcStatus}`);
      // An undecodable request is the caller's fault: InvalidArgument (3; HTTP 400 in the
      // Connect protocol) for unary methods too, whose bodies connect-es decodes before any
      // interceptor (decode.ts).
      expect(b.grpcStatus).toBe("3");
      expect(c.grpcStatus).toBe("3"); // a truncated frame is the protocol's InvalidArgument
      expect(a.status).toBe(unary ? 400 : 200);
      if (unary) expect(a.body).toContain("cannot decode");
      expect(`${a.body}`).not.toContain("parse binary");
    }
    // 64 MiB of TOML in one Deploy and one Plan: refused past the 8 MiB read limit without
    // being buffered (the server stops reading; the client sees its stream reset).
    const admin = agentClient(agent.port, env.ca, token);
    const rssBefore = await rssMiB(agent.proc.pid ?? 0);
    const huge = `name = "big"\nnode = "rift"\n# ${"x".repeat(64 * 1024 * 1024)}\n`;
    const spec = { name: "big", node: "rift", toml: huge };
    const dcode = await codeOf(drain(admin.deploy({ spec })));
    const pcode = await codeOf(admin.plan({ spec }));
    const rssAfter = await rssMiB(agent.proc.pid ?? 0);
    results.push(
      `64MiB deploy ${String(dcode)} plan ${String(pcode)} rss ${rssBefore}→${rssAfter} MiB`,
    );
    expect(dcode).not.toBe("ok");
    expect(pcode).not.toBe("ok");
    expect(rssAfter - rssBefore).toBeLessThan(48);
    expect((await healthz(agent.port, env.ca)).status).toBe(200);
    console.log(results.join("\n"));
  }, 60_000);

  it("answers random bytes to every unary method with InvalidArgument, after auth, and changes nothing", async () => {
    const before = await agentClient(agent.port, env.ca, env.tokens.admin).listServices({});
    const unary = AgentService.methods.filter((m) => m.methodKind === "unary");
    const seen = new Set<string>();
    // Bytes that are not a protobuf encoding of the method's request (an invalid wire type
    // right at the start), followed by random ones.
    const bytes = fc
      .uint8Array({ minLength: 0, maxLength: 300 })
      .map((b) => Buffer.concat([Buffer.from([0x0f]), Buffer.from(b)]));
    for (const m of unary) {
      const path = `/${AgentService.typeName}/${m.name}`;
      await fc.assert(
        fc.asyncProperty(bytes, fc.boolean(), async (body, grpc) => {
          const r = grpc
            ? await rawCall(path, grpcFrame(body), "application/grpc", env.tokens.admin)
            : await rawCall(path, body, "application/proto", env.tokens.admin);
          const code = grpc ? r.grpcStatus : String(r.status);
          seen.add(`${grpc ? "grpc" : "connect"} ${code}`);
          return grpc ? code === "3" : code === "400" && r.body.includes("invalid_argument");
        }),
        { numRuns: 15, seed: 3 },
      );
      // Without a valid token the same garbage is refused as unauthenticated: auth first.
      const anon = await rawCall(
        path,
        grpcFrame(Buffer.from([0x0f, 1, 2])),
        "application/grpc",
        "nope",
      );
      expect(anon.grpcStatus).toBe(String(Code.Unauthenticated));
    }
    expect([...seen].sort()).toEqual(["connect 400", "grpc 3"]);
    // A well-formed request still works, and the garbage changed nothing.
    const after = await agentClient(agent.port, env.ca, env.tokens.admin).listServices({});
    expect(after.services).toEqual(before.services);
    expect((await healthz(agent.port, env.ca)).status).toBe(200);
  }, 120_000);

  it("refuses hostile service and component names with InvalidArgument on every method that takes one", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin) as unknown as Record<
      string,
      (req: unknown, opts?: unknown) => unknown
    >;
    const bad: string[] = [];
    const names = HOSTILE.filter((n) => n !== "");
    for (const m of AgentService.methods) {
      const hasService = m.input.fields.some((f) => f.localName === "service");
      const hasSpec = m.input.fields.some((f) => f.localName === "spec" || f.localName === "specs");
      if (!hasService && !hasSpec) continue;
      for (const name of names) {
        const spec = { name, node: "rift", toml: serviceToml(name, podman.image) };
        const init: Record<string, unknown> = {};
        if (hasService) init.service = name;
        if (m.input.fields.some((f) => f.localName === "spec")) init.spec = spec;
        if (m.input.fields.some((f) => f.localName === "specs")) init.specs = [spec];
        const code = await codeOf(callAny(admin, m, init));
        // PushDefinitions reports failures per service in its stream rather than failing.
        if (code !== Code.InvalidArgument && m.name !== "PushDefinitions") {
          bad.push(
            `${m.name}(${JSON.stringify(name.slice(0, 20))}) → ${code === "ok" ? "ok" : Code[code]}`,
          );
        }
      }
    }
    // Component names and a component argument.
    const svc = podman.name("comp");
    for (const comp of ["..", "a/b", "Web", "wеb", "x".repeat(64)]) {
      const toml = serviceToml(svc, podman.image).replace('name = "web"', `name = "${comp}"`);
      const code = await codeOf(
        drain(
          admin.deploy?.({ spec: { name: svc, node: "rift", toml } }) as AsyncIterable<unknown>,
        ),
      );
      if (code !== Code.InvalidArgument)
        bad.push(`Deploy component ${comp.slice(0, 20)} → ${String(code)}`);
      const stop = await codeOf(
        drain(admin.stop?.({ service: svc, component: comp }) as AsyncIterable<unknown>),
      );
      if (stop !== Code.InvalidArgument)
        bad.push(`Stop component ${comp.slice(0, 20)} → ${String(stop)}`);
    }
    expect(bad).toEqual([]);
    const podmanNames = (await podman.client.listContainers({ all: true })).map((c) => c.name);
    expect(podmanNames.filter((n) => n.includes(svc) || /[А-я]/.test(n))).toEqual([]);
  }, 60_000);

  it("passes env values and volume paths with shell metacharacters to Podman literally", async () => {
    const admin = agentClient(agent.port, env.ca, env.tokens.admin);
    const name = podman.name("meta");
    const values = [
      `$(touch ${pwned})`,
      `\`touch ${pwned}\``,
      `a; touch ${pwned}`,
      `a | touch ${pwned}`,
      `a && touch ${pwned} #`,
      `'"\\$HOME`,
    ];
    const base = await podman.tempDir();
    const rel = `mcp-pwned-rel-${process.pid}`;
    const hostDir = join(base, `v;$(touch ${rel})|\`touch ${rel}\``);
    await mkdir(hostDir);
    await execa("chown", ["mcp:mcp", hostDir]);
    const envLines = values.map(
      (v, i) => `"V${i}=${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`,
    );
    const toml = serviceToml(
      name,
      podman.image,
      `env = [${envLines.join(", ")}]\nvolumes = ["${hostDir}:/data"]\n`,
    );
    const events = await drain(admin.deploy({ spec: { name, node: "rift", toml } }));
    expect(events.at(-1)?.event.case).toBe("result");
    const inspect = await podman.client.inspectContainer(`${name}-web`);
    values.forEach((v, i) => {
      expect(inspect.env[`V${i}`]).toBe(v);
    });
    const raw = await execa(
      "runuser",
      ["-u", "mcp", "--", "podman", "inspect", "--format", "{{json .Mounts}}", `${name}-web`],
      { env: podman.env },
    );
    expect(raw.stdout).toContain(hostDir);
    expect(existsSync(pwned)).toBe(false);
    for (const d of [process.cwd(), "/tmp", "/", "/home/mcp", base, env.dir]) {
      expect(existsSync(join(d, rel)), `${d}/${rel}`).toBe(false);
    }
    await drain(admin.undeploy({ service: name }));
  }, 60_000);
});
