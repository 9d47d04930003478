import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  LogStream,
  type LogsRequest,
  type PushDefinitionsRequest,
  PushDefinitionsResponseSchema,
  SyncAction,
} from "@mcp/proto/agent/v1";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { parseSince } from "../src/commands/logs.ts";
import { ExitCode } from "../src/errors.ts";
import { fakeAgent, StepStatus, step } from "./helpers/fake-agent.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

const def = (name: string, node: string, extra = "") =>
  `name = "${name}"\nnode = "${node}"\n${extra}\n[[components]]\nname = "api"\nimage = "mcr.example/${name}:v1.0.0"\n`;

const nodes = [
  { name: "rift", address: "100.95.252.120:9444" },
  { name: "svc", address: "100.95.252.122:9444" },
  { name: "orion", address: "100.95.252.121:9444" },
];

let dir: string;
let services: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-sync-"));
  services = join(dir, "services");
  await mkdir(services);
  await writeFile(join(services, "mcq.toml"), def("mcq", "rift"));
  await writeFile(join(services, "mcdoc.toml"), def("mcdoc", "rift"));
  await writeFile(join(services, "mc-proxy.toml"), def("mc-proxy", "svc", "active = false"));
  await writeFile(join(services, "README.md"), "not a definition");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function pushAgent(received: PushDefinitionsRequest[]) {
  return fakeAgent({
    async *pushDefinitions(req) {
      received.push(req);
      for (const spec of req.specs) {
        yield create(PushDefinitionsResponseSchema, {
          event: { case: "step", value: step("deploy", StepStatus.DONE, { service: spec.name }) },
        });
        const action =
          spec.active === false
            ? SyncAction.STOPPED
            : spec.name === "mcq"
              ? SyncAction.DEPLOYED
              : SyncAction.UNCHANGED;
        yield create(PushDefinitionsResponseSchema, {
          event: {
            case: "serviceResult",
            value: { service: spec.name, action, version: "v1.0.0" },
          },
        });
      }
    },
  });
}

describe("mcp sync", () => {
  it("pushes each node its definitions and ends with a table of what happened per service", async () => {
    const received: PushDefinitionsRequest[] = [];
    const agent = pushAgent(received);
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: agent, svc: agent },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["sync"], io, { context })).toBe(0);
    expect(
      received.map((r) => r.specs.map((s) => `${s.node}/${s.name}/${s.active}`).sort()),
    ).toEqual(
      expect.arrayContaining([["rift/mcdoc/true", "rift/mcq/true"], ["svc/mc-proxy/false"]]),
    );
    expect(received.every((r) => r.dryRun === false)).toBe(true);
    const table = ctx.stdout.text.slice(ctx.stdout.text.indexOf("NODE"));
    expect(table).toBe(
      [
        "NODE   SERVICE    ACTION      VERSION   DETAIL",
        "rift   mcdoc      unchanged   v1.0.0",
        "rift   mcq        deployed    v1.0.0",
        "svc    mc-proxy   stopped     v1.0.0",
        "",
      ].join("\n"),
    );
    expect(ctx.stdout.text).toContain("✔ mcq: deploy\n");
  });

  it("validates everything first: one invalid file means nothing is pushed, and every problem is listed", async () => {
    await writeFile(join(services, "bad.toml"), def("bad", "rift").replace("v1.0.0", "latest"));
    await writeFile(join(services, "worse.toml"), 'name = "worse"\n');
    const received: PushDefinitionsRequest[] = [];
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: pushAgent(received), svc: pushAgent(received) },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["sync"], io, { context })).toBe(ExitCode.Failed);
    expect(received).toEqual([]);
    expect(ctx.stderr.text).toMatch(/bad\.toml:\d+:\d+: SD\d+ .*latest/);
    expect(ctx.stderr.text).toMatch(/worse\.toml:\d+:\d+: SD\d+ /);
    expect(ctx.stderr.text).toContain(
      `error: 2 of 5 definitions in ${services} are invalid; nothing was pushed`,
    );
  });

  it("refuses a definition for a node mcp.toml does not know, before pushing anything", async () => {
    await writeFile(join(services, "x.toml"), def("x", "hyperborea"));
    const received: PushDefinitionsRequest[] = [];
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: pushAgent(received), svc: pushAgent(received) },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["sync"], io, { context })).toBe(ExitCode.Usage);
    expect(received).toEqual([]);
    expect(ctx.stderr.text).toContain('node "hyperborea" is not in');
  });

  it("reports a node that does not answer on its services' rows, syncs the others, and exits 3", async () => {
    const received: PushDefinitionsRequest[] = [];
    const down = fakeAgent({
      // biome-ignore lint/correctness/useYield: fails before the first message, as an unreachable agent does
      async *pushDefinitions() {
        throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
      },
    });
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: pushAgent(received), svc: down },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["sync", "--dry-run"], io, { context })).toBe(ExitCode.Unavailable);
    expect(received.map((r) => r.dryRun)).toEqual([true]);
    expect(ctx.stdout.text).toContain("dry run: nothing was changed");
    expect(ctx.stdout.text).toMatch(/rift\s+mcq\s+would be deployed\s+v1\.0\.0/);
    expect(ctx.stdout.text).toMatch(
      /svc\s+mc-proxy\s+not synced\s+-\s+node svc \(100\.95\.252\.122:9444\) did not answer/,
    );
  });

  it("--json reports every node", async () => {
    const received: PushDefinitionsRequest[] = [];
    const agent = pushAgent(received);
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: agent, svc: agent },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["sync", "--json"], io, { context })).toBe(0);
    const out = JSON.parse(ctx.stdout.text) as {
      dryRun: boolean;
      nodes: { node: string; services: { service: string; action: string }[] }[];
    };
    expect(out.nodes.find((n) => n.node === "svc")?.services).toEqual([
      {
        service: "mc-proxy",
        action: "stopped",
        built: false,
        images: [],
        version: "v1.0.0",
        message: "",
      },
    ]);
  });
});

describe("mcp logs", () => {
  it("prints lines prefixed with their component, asking for --tail and --since", async () => {
    await writeFile(join(services, "mcq.toml"), def("mcq", "rift"));
    let got: LogsRequest | undefined;
    const agent = fakeAgent({
      async *logs(req) {
        got = req;
        yield { component: "api", stream: LogStream.STDOUT, line: "listening on :8443" };
        yield { component: "web", stream: LogStream.STDERR, line: "warning: slow" };
      },
    });
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: agent },
    });
    const { io, context } = testRun(ctx);
    const before = Date.now();
    expect(await run(["logs", "mcq", "--tail", "50", "--since", "10m"], io, { context })).toBe(0);
    expect(ctx.stdout.text).toBe("api | listening on :8443\nweb | warning: slow\n");
    expect(got?.tail).toBe(50);
    expect(got?.follow).toBe(false);
    const since = got?.since ? timestampMs(got.since) : 0;
    expect(before - 600_000 - since).toBeLessThan(2000);
  });

  it("shows bare lines for one component, and JSON lines with --json", async () => {
    const agent = fakeAgent({
      async *logs() {
        yield { component: "api", stream: LogStream.STDOUT, line: "hello" };
      },
    });
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: agent },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["logs", "mcq", "api"], io, { context })).toBe(0);
    expect(ctx.stdout.text).toBe("hello\n");
    const j = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: agent },
    });
    const jr = testRun(j);
    expect(await run(["logs", "mcq", "api", "--json"], jr.io, { context: jr.context })).toBe(0);
    expect(JSON.parse(j.stdout.text)).toEqual({
      component: "api",
      stream: "stdout",
      time: null,
      line: "hello",
    });
  });

  it("-f follows until interrupted, then exits 0", async () => {
    const agent = fakeAgent({
      async *logs(_req, hctx) {
        yield { component: "api", stream: LogStream.STDOUT, line: "one" };
        await new Promise((resolve) => hctx.signal.addEventListener("abort", resolve));
      },
    });
    const ctx = testContext({
      config: testConfig(nodes, { servicesDir: services }),
      transports: { rift: agent },
    });
    const { io, context } = testRun(ctx);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("interrupted")), 200);
    expect(await run(["logs", "mcq", "-f"], io, { context, signal: controller.signal })).toBe(0);
    expect(ctx.stdout.text).toBe("api | one\n");
  });

  it("parses --since as a duration or a time, and rejects anything else", () => {
    const now = Date.parse("2026-03-26T15:00:00Z");
    expect(parseSince("90s", now).toISOString()).toBe("2026-03-26T14:58:30.000Z");
    expect(parseSince("1h30m", now).toISOString()).toBe("2026-03-26T13:30:00.000Z");
    expect(parseSince("2026-03-26T12:00:00Z", now).toISOString()).toBe("2026-03-26T12:00:00.000Z");
    expect(() => parseSince("yesterday", now)).toThrow(/neither a duration nor a time/);
  });
});
