// `mcp build` and the image step of `mcp sync` on a recording ImageTools and fake agents; the
// same paths against real Podman and a real registry are in test/integration/.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { McrUnauthorizedError, McrUnreachableError } from "@mcp/mcr-client";
import { RegistryError } from "@mcp/podman-client";
import {
  type PushDefinitionsRequest,
  PushDefinitionsResponseSchema,
  SyncAction,
} from "@mcp/proto/agent/v1";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { parseConfig } from "../src/config.ts";
import type { ImageTools } from "../src/context.ts";
import { CliError, ExitCode } from "../src/errors.ts";
import { registryError, registryUrl } from "../src/image-tools.ts";
import type { BuildTarget } from "../src/images.ts";
import { fakeAgent } from "./helpers/fake-agent.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

const host = "mcr.example:8443";
const def = (name: string, extra = "") =>
  `name = "${name}"\nnode = "rift"\n${extra}\n[[components]]\nname = "api"\nimage = "${host}/${name}:v1.0.0"\n`;
const buildable = (name: string) => def(name, `[build.images]\n${name} = "Dockerfile"\n`);
const nodes = [{ name: "rift", address: "100.95.252.120:9444" }];

let dir: string;
let services: string;
let workspace: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-build-"));
  services = join(dir, "services");
  workspace = join(dir, "ws");
  await mkdir(services);
  await mkdir(join(workspace, "app"), { recursive: true });
  await writeFile(join(workspace, "app", "Dockerfile"), "FROM scratch\n");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A registry that has `present`, and a builder that records what it was asked. */
function recordingTools(present: string[], over: Partial<ImageTools> = {}) {
  const calls: string[] = [];
  const tools: ImageTools = {
    check: async (refs) => {
      calls.push(`check ${refs.length}`);
      return refs.map((ref) => ({ ref, exists: present.includes(ref) }));
    },
    build: async (t: BuildTarget, onLine) => {
      calls.push(`build ${t.image} ${t.dockerfile} VERSION=${t.tag}`);
      onLine("STEP 1/1: FROM scratch");
      present.push(t.image);
    },
    push: async (t) => {
      calls.push(`push ${t.image}`);
    },
    close: async () => {
      calls.push("close");
    },
    ...over,
  };
  return { tools, calls };
}

function agentRecording(received: PushDefinitionsRequest[]) {
  return fakeAgent({
    async *pushDefinitions(req) {
      received.push(req);
      for (const spec of req.specs) {
        yield create(PushDefinitionsResponseSchema, {
          event: {
            case: "serviceResult",
            value: {
              service: spec.name,
              action: req.built.includes(spec.name) ? SyncAction.DEPLOYED : SyncAction.UNCHANGED,
              built: req.built.includes(spec.name),
              version: "v1.0.0",
            },
          },
        });
      }
    },
  });
}

function setup(tools: ImageTools, received: PushDefinitionsRequest[] = [], json = false) {
  const ctx = testContext({
    config: testConfig(nodes, { servicesDir: services, build: { workspace } }),
    transports: { rift: agentRecording(received) },
    images: tools,
    json,
  });
  return { ctx, ...testRun(ctx) };
}

describe("mcp sync: images", () => {
  it("builds and pushes a missing image that has a source tree, then deploys it", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    await writeFile(join(services, "other.toml"), def("other"));
    const { tools, calls } = recordingTools([`${host}/other:v1.0.0`]);
    const received: PushDefinitionsRequest[] = [];
    const { ctx, io, context } = setup(tools, received);
    expect(await run(["sync"], io, { context })).toBe(0);
    expect(calls).toEqual([
      "check 2",
      `build ${host}/app:v1.0.0 ${join(workspace, "app", "Dockerfile")} VERSION=v1.0.0`,
      `push ${host}/app:v1.0.0`,
      "close",
    ]);
    expect(received[0]?.built).toEqual(["app"]);
    expect(ctx.stdout.text).toContain(`✔ build ${host}/app:v1.0.0`);
    expect(ctx.stdout.text).toMatch(/rift\s+app\s+deployed\s+v1\.0\.0\s+built mcr\.example/);
    expect(ctx.stdout.text).not.toContain("nothing to do");
  });

  it("fails a service whose image is missing and cannot be built, without sending it", async () => {
    await writeFile(join(services, "app.toml"), def("app"));
    await writeFile(
      join(services, "gone.toml"),
      def("gone", 'path = "nowhere"\n[build.images]\ngone = "Dockerfile"\n'),
    );
    await writeFile(join(services, "ok.toml"), def("ok"));
    const { tools, calls } = recordingTools([`${host}/ok:v1.0.0`]);
    const received: PushDefinitionsRequest[] = [];
    const { ctx, io, context } = setup(tools, received);
    expect(await run(["sync"], io, { context })).toBe(ExitCode.Failed);
    expect(calls).toEqual(["check 3", "close"]);
    expect(received[0]?.specs.map((s) => s.name)).toEqual(["ok"]);
    expect(ctx.stdout.text).toContain(
      `app       failed      -         not deployed: image ${host}/app:v1.0.0 is not in the registry, and [build.images] does not build it`,
    );
    expect(ctx.stdout.text).toContain(
      `not deployed: image ${host}/gone:v1.0.0 is not in the registry and cannot be built here: build context ${join(workspace, "nowhere")} does not exist`,
    );
  });

  it("a failed build fails that service with the build's last lines, and deploys the rest", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    await writeFile(join(services, "ok.toml"), def("ok"));
    const { tools } = recordingTools([`${host}/ok:v1.0.0`], {
      build: async (_t, onLine) => {
        for (let i = 1; i <= 30; i++) onLine(`line ${i}`);
        throw new Error("exit status 1");
      },
    });
    const received: PushDefinitionsRequest[] = [];
    const { ctx, io, context } = setup(tools, received);
    expect(await run(["sync"], io, { context })).toBe(ExitCode.Failed);
    expect(received[0]?.specs.map((s) => s.name)).toEqual(["ok"]);
    expect(ctx.stderr.text).toContain("  line 11\n");
    expect(ctx.stderr.text).toContain("  line 30\n");
    expect(ctx.stderr.text).not.toContain("  line 10\n");
    expect(ctx.stdout.text).toContain(
      `not deployed: build of ${host}/app:v1.0.0 failed: exit status 1`,
    );
  });

  it("--dry-run plans the build, builds nothing and asks the agent for a dry run", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    const { tools, calls } = recordingTools([]);
    const received: PushDefinitionsRequest[] = [];
    const { ctx, io, context } = setup(tools, received);
    expect(await run(["sync", "--dry-run"], io, { context })).toBe(0);
    expect(calls).toEqual(["check 1", "close"]);
    expect(received[0]?.dryRun).toBe(true);
    expect(ctx.stdout.text).toContain(`would build ${host}/app:v1.0.0`);
  });

  it("with nothing to do, says so (also in JSON)", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    const { tools, calls } = recordingTools([`${host}/app:v1.0.0`]);
    const { ctx, io, context } = setup(tools);
    expect(await run(["sync"], io, { context })).toBe(0);
    expect(calls).toEqual(["check 1", "close"]);
    expect(ctx.stdout.text).toContain("nothing to do: all 1 service is up to date\n");
    const j = setup(recordingTools([`${host}/app:v1.0.0`]).tools, [], true);
    expect(await run(["sync", "--json"], j.io, { context: j.context })).toBe(0);
    expect(JSON.parse(j.ctx.stdout.text)).toMatchObject({ nothingToDo: true });
  });

  it("a registry that does not answer is a warning; the definitions still go to the agent", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    const down = new CliError(`registry ${host} did not answer (checking x): ECONNREFUSED`, {
      exitCode: ExitCode.Unavailable,
    });
    const { tools } = recordingTools([], {
      check: async (refs) => refs.map((ref) => ({ ref, exists: false, error: down })),
    });
    const received: PushDefinitionsRequest[] = [];
    const { ctx, io, context } = setup(tools, received);
    expect(await run(["sync"], io, { context })).toBe(0);
    expect(received[0]?.specs.map((s) => s.name)).toEqual(["app"]);
    expect(ctx.stderr.text).toBe(
      `warning: registry ${host} did not answer (checking x): ECONNREFUSED; left to the agent's pull\n`,
    );
  });
});

describe("mcp build", () => {
  it("needs [build] workspace (exit 2) and a [build.images] (exit 1)", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    await writeFile(join(services, "plain.toml"), def("plain"));
    const { tools } = recordingTools([]);
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: {},
      images: tools,
    });
    const { io, context } = testRun(ctx);
    expect(await run(["build", "app"], io, { context })).toBe(ExitCode.Usage);
    expect(ctx.stderr.text).toContain("no build workspace: [build] workspace is not set");
    const p = setup(tools);
    expect(await run(["build", "plain"], p.io, { context: p.context })).toBe(ExitCode.Failed);
    expect(p.ctx.stderr.text).toContain("service plain has nothing to build");
  });

  it("checks the registry first: refused credentials exit 4 before anything is built", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    const { tools, calls } = recordingTools([], {
      check: async (refs) =>
        refs.map((ref) => ({
          ref,
          exists: false,
          error: registryError(
            new McrUnauthorizedError("token endpoint said 401", 401),
            "checking",
            host,
          ),
        })),
    });
    const { ctx, io, context } = setup(tools);
    expect(await run(["build", "app"], io, { context })).toBe(ExitCode.Auth);
    expect(calls).toEqual(["close"]);
    expect(ctx.stderr.text).toMatch(/^error: registry mcr\.example:8443 refused the credentials/);
  });

  it("--no-push builds without looking at the registry", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    const { tools, calls } = recordingTools([]);
    const { ctx, io, context } = setup(tools);
    expect(await run(["build", "app", "--no-push"], io, { context })).toBe(0);
    expect(calls).toEqual([
      `build ${host}/app:v1.0.0 ${join(workspace, "app", "Dockerfile")} VERSION=v1.0.0`,
      "close",
    ]);
    expect(ctx.stdout.text).toContain(`built (not pushed): ${host}/app:v1.0.0`);
  });

  it("--verbose shows every line of the build; --json gives one object per line", async () => {
    await writeFile(join(services, "app.toml"), buildable("app"));
    const v = setup(recordingTools([]).tools);
    expect(await run(["build", "app", "-v"], v.io, { context: v.context })).toBe(0);
    expect(v.ctx.stdout.text).toContain("│ STEP 1/1: FROM scratch\n");
    const j = setup(recordingTools([]).tools, [], true);
    expect(await run(["build", "app", "--json"], j.io, { context: j.context })).toBe(0);
    const lines = j.ctx.stdout.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => `${l.type}:${l.step ?? ""}:${l.status ?? ""}`)).toEqual([
      `build:build ${host}/app:v1.0.0:started`,
      `build:build ${host}/app:v1.0.0:done`,
      `build:push ${host}/app:v1.0.0:started`,
      `build:push ${host}/app:v1.0.0:done`,
      "result::",
    ]);
  });
});

describe("registry settings", () => {
  const parse = (text: string, env: Record<string, string> = {}) =>
    parseConfig(text, { path: "/home/op/.config/mcp/mcp.toml", env, home: "/home/op", cwd: "/w" });

  it("reads [registry] and [build] podman/run_as, paths against the file, booleans as booleans", () => {
    const c = parse(
      '[build]\npodman = "/usr/bin/podman"\nrun_as = "mcp"\n[registry]\nurl = "https://mcr:8443"\nusername = "admin"\npassword_file = "mcr.pw"\nca_cert = "~/ca.pem"\ntls_verify = false\nmcias_token = true\n',
    );
    expect(c.build).toEqual({ podman: "/usr/bin/podman", runAs: "mcp" });
    expect(c.registry).toEqual({
      url: "https://mcr:8443",
      username: "admin",
      passwordFile: "/home/op/.config/mcp/mcr.pw",
      caCert: "/home/op/ca.pem",
      tlsVerify: false,
      mciasToken: true,
    });
    expect(parse("", { MCP_REGISTRY_TLS_VERIFY: "false" }).registry.tlsVerify).toBe(false);
  });

  it("refuses a boolean written as a string, and a bad boolean in the environment", () => {
    expect(() => parse('[registry]\ntls_verify = "no"\n')).toThrow(
      "registry.tls_verify must be true or false, not a string",
    );
    expect(() => parse("", { MCP_REGISTRY_TLS_VERIFY: "no" })).toThrow(
      'MCP_REGISTRY_TLS_VERIFY must be true or false, not "no"',
    );
  });

  it("talks plain HTTP only to a loopback registry with tls_verify = false", () => {
    const c = (r: string) => parse(r);
    expect(registryUrl(c(""), "mcr.example:8443")).toBe("https://mcr.example:8443");
    expect(registryUrl(c("[registry]\ntls_verify = false\n"), "127.0.0.1:5000")).toBe(
      "http://127.0.0.1:5000",
    );
    expect(registryUrl(c("[registry]\ntls_verify = false\n"), "mcr.example:8443")).toBe(
      "https://mcr.example:8443",
    );
    expect(registryUrl(c('[registry]\nurl = "http://127.0.0.1:5000"\n'), "127.0.0.1:5000")).toBe(
      "http://127.0.0.1:5000",
    );
  });

  it("maps registry failures to exit codes: refused 4, unreachable 3", () => {
    expect(registryError(new McrUnreachableError("ECONNREFUSED"), "checking", host).exitCode).toBe(
      ExitCode.Unavailable,
    );
    const denied = new RegistryError("push failed", {
      detail: "Error: writing manifest: unauthorized: authentication required",
    } as never);
    expect(registryError(denied, "pushing", host).exitCode).toBe(ExitCode.Auth);
    const refused = new RegistryError("push failed", {
      detail:
        "Error: pinging container registry 127.0.0.1:1: dial tcp: connect: connection refused",
    } as never);
    expect(registryError(refused, "pushing", host).exitCode).toBe(ExitCode.Unavailable);
  });
});
