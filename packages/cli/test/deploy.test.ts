import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ChangeKind,
  type DeployRequest,
  type DeployResponse,
  DeployResponseSchema,
  OperationResultSchema,
  RouteMode,
} from "@mcp/proto/agent/v1";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { ExitCode } from "../src/errors.ts";
import { makeStyle } from "../src/output.ts";
import {
  createPlainRenderer,
  createSpinnerRenderer,
  createStepRenderer,
  type Spinner,
} from "../src/progress.ts";
import { fakeAgent, StepStatus, step } from "./helpers/fake-agent.ts";
import { Sink, testConfig, testContext, testRun } from "./helpers/io.ts";

const mcq = `name = "mcq"
node = "rift"

[[components]]
name = "api"
image = "mcr.svc.mcp.metacircular.net:8443/mcq:v0.4.0"

[[components.routes]]
name = "rest"
port = 8443
mode = "l4"
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-deploy-"));
  await mkdir(join(dir, "services"));
  await writeFile(join(dir, "services", "mcq.toml"), mcq);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rift = { name: "rift", address: "100.95.252.120:9444" };
const stepMsg = (s: ReturnType<typeof step>) =>
  create(DeployResponseSchema, { event: { case: "step", value: s } });
const resultMsg = (over: { changed?: boolean } = {}) =>
  create(DeployResponseSchema, {
    event: {
      case: "result",
      value: create(OperationResultSchema, {
        service: "mcq",
        version: "v0.4.0",
        changed: over.changed ?? true,
        ports: { rest: 10001 },
      }),
    },
  });

function setup(deploy: (req: DeployRequest) => AsyncIterable<DeployResponse>) {
  const ctx = testContext({
    config: testConfig([rift], { servicesDir: join(dir, "services") }),
    transports: { rift: fakeAgent({ deploy }) },
  });
  return { ctx, ...testRun(ctx) };
}

const happy = [
  stepMsg(step("allocate-ports", StepStatus.STARTED)),
  stepMsg(step("allocate-ports", StepStatus.DONE, { message: "rest=10001" })),
  stepMsg(step("issue-cert", StepStatus.SKIPPED, { message: "no L7 route" })),
  stepMsg(step("pull", StepStatus.STARTED, { component: "api" })),
  stepMsg(step("pull", StepStatus.DONE, { component: "api" })),
  resultMsg(),
];

describe("mcp deploy", () => {
  it("sends the validated definition to its node and shows every step as it arrives", async () => {
    let got: DeployRequest | undefined;
    const { ctx, io, context } = setup(async function* (req) {
      got = req;
      yield* happy;
    });
    expect(await run(["deploy", "mcq"], io, { context })).toBe(0);
    expect(got?.spec?.toml).toBe(mcq);
    expect(got?.spec?.name).toBe("mcq");
    expect(got?.spec?.node).toBe("rift");
    expect(got?.spec?.components[0]?.routes[0]).toMatchObject({
      name: "rest",
      port: 8443,
      mode: RouteMode.L4,
    });
    expect(got?.dryRun).toBe(false);
    const lines = ctx.stdout.text.trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe("… allocate ports");
    expect(lines[1]).toMatch(/^✔ allocate ports \(\d\.\ds\): rest=10001$/);
    expect(lines[2]).toBe("- issue cert skipped: no L7 route");
    expect(lines[3]).toBe("… pull api");
    expect(lines[4]).toMatch(/^✔ pull api \(\d\.\ds\)$/);
    expect(lines[5]).toBe("✔ deployed mcq v0.4.0 on rift (ports rest=10001)");
    expect(ctx.stderr.text).toBe("");
  });

  it("says so when there was nothing to change", async () => {
    const { ctx, io, context } = setup(async function* () {
      yield resultMsg({ changed: false });
    });
    expect(await run(["deploy", "mcq"], io, { context })).toBe(0);
    expect(ctx.stdout.text).toBe("= mcq on rift: nothing to change\n");
  });

  it("gives scripts one JSON object per line: each step, then the result", async () => {
    const { ctx, io, context } = setup(async function* () {
      yield* happy;
    });
    expect(await run(["deploy", "mcq", "--json"], io, { context })).toBe(0);
    const events = ctx.stdout.text
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.type, e.name ?? null, e.status ?? null])).toEqual([
      ["step", "allocate-ports", "started"],
      ["step", "allocate-ports", "done"],
      ["step", "issue-cert", "skipped"],
      ["step", "pull", "started"],
      ["step", "pull", "done"],
      ["result", null, null],
    ]);
    expect(events[5]).toEqual({
      type: "result",
      node: "rift",
      service: "mcq",
      version: "v0.4.0",
      changed: true,
      ports: { rest: 10001 },
    });
  });

  it("shows the step that failed and what was undone, then exits 1 with the agent's reason", async () => {
    const { ctx, io, context } = setup(async function* () {
      yield stepMsg(step("allocate-ports", StepStatus.DONE));
      yield stepMsg(step("pull", StepStatus.STARTED, { component: "api" }));
      yield stepMsg(
        step("pull", StepStatus.FAILED, { component: "api", message: "manifest unknown" }),
      );
      yield stepMsg(step("allocate-ports", StepStatus.UNDONE));
      throw new ConnectError(
        "deploy of mcq failed at pull: manifest unknown",
        Code.FailedPrecondition,
      );
    });
    expect(await run(["deploy", "mcq"], io, { context })).toBe(ExitCode.Failed);
    expect(ctx.stdout.text).toContain("✖ pull api failed: manifest unknown\n");
    expect(ctx.stdout.text).toContain("↩ allocate ports undone\n");
    expect(ctx.stderr.text).toBe(
      "error: node rift (100.95.252.120:9444): deploy of mcq failed at pull: manifest unknown\n" +
        "hint: see `mcp status` for the service's current state\n",
    );
  });

  it("reports a stream that ends without a result as broken (exit 3)", async () => {
    const { ctx, io, context } = setup(async function* () {
      yield stepMsg(step("pull", StepStatus.STARTED, { component: "api" }));
    });
    expect(await run(["deploy", "mcq"], io, { context })).toBe(ExitCode.Unavailable);
    expect(ctx.stderr.text).toContain(
      "error: node rift (100.95.252.120:9444) ended the deploy of mcq without a result\n",
    );
    expect(ctx.stderr.text).toContain("hint: the agent may have restarted");
  });

  it("prints the diagnostics as file:line:col: code message and sends nothing when the definition is invalid", async () => {
    await writeFile(
      join(dir, "services", "mcq.toml"),
      mcq.replace("v0.4.0", "latest").replace('"l4"', '"l9"'),
    );
    let called = false;
    const { ctx, io, context } = setup(async function* () {
      called = true;
      yield* happy;
    });
    expect(await run(["deploy", "mcq"], io, { context })).toBe(ExitCode.Failed);
    expect(called).toBe(false);
    const file = join(dir, "services", "mcq.toml");
    const lines = ctx.stderr.text.split("\n");
    expect(lines[0]).toMatch(new RegExp(`^${file}:6:9: SD\\d+ image .*:latest`));
    expect(lines[1]).toMatch(new RegExp(`^${file}:11:8: SD\\d+ mode must be`));
    expect(lines[2]).toBe(`error: ${file} is not a valid service definition (2 errors)`);
    expect(lines[3]).toBe("hint: fix the lines above, e.g. with `mcp edit mcq`");
  });

  it("exits 5 for a service without a definition file", async () => {
    const { ctx, io, context } = setup(async function* () {
      yield* happy;
    });
    expect(await run(["deploy", "nope"], io, { context })).toBe(ExitCode.NotFound);
    expect(ctx.stderr.text).toContain(`nope.toml does not exist`);
  });

  it("--dry-run asks for a plan and prints it", async () => {
    let dry: boolean | undefined;
    const { ctx, io, context } = setup(async function* (req) {
      dry = req.dryRun;
      yield create(DeployResponseSchema, {
        event: {
          case: "result",
          value: create(OperationResultSchema, {
            service: "mcq",
            version: "v0.4.0",
            changed: true,
            plan: {
              changes: [
                {
                  component: "api",
                  field: "image",
                  kind: ChangeKind.MODIFIED,
                  oldValue: "mcq:v0.3.9",
                  newValue: "mcq:v0.4.0",
                },
              ],
              steps: [
                { name: "pull", component: "api", description: "pull mcq:v0.4.0" },
                { name: "replace", component: "api", description: "recreate mcq-api" },
              ],
            },
          }),
        },
      });
    });
    expect(await run(["deploy", "mcq", "--dry-run"], io, { context })).toBe(0);
    expect(dry).toBe(true);
    expect(ctx.stdout.text).toBe(
      [
        "Plan for mcq on rift (dry run, nothing changed):",
        "Changes:",
        "  ~ api.image: mcq:v0.3.9 -> mcq:v0.4.0",
        "Steps:",
        "  1. pull api: pull mcq:v0.4.0",
        "  2. replace api: recreate mcq-api",
        "",
      ].join("\n"),
    );
  });

  it("gives up on an agent that goes silent, naming the node (idle timeout)", async () => {
    const { consumeStream } = await import("../src/stream.ts");
    const silent = async function* () {
      yield 1;
      await new Promise((r) => setTimeout(r, 5_000));
      yield 2;
    };
    await expect(
      consumeStream({
        open: (signal) => ({
          async *[Symbol.asyncIterator]() {
            for await (const v of silent()) {
              if (signal.aborted) throw signal.reason;
              yield v;
            }
          },
        }),
        target: { node: "rift", address: "a:1" },
        what: "deploy of mcq",
        idleMs: 100,
        onMessage: () => {},
      }),
    ).rejects.toMatchObject({
      exitCode: ExitCode.Unavailable,
      message: "no word from node rift (a:1) for 0.1s during the deploy of mcq",
    });
  });
});

describe("step renderers", () => {
  let t = 0;
  const now = () => t;

  it("plain: one line per event, durations from when the step started", () => {
    const out = new Sink();
    const r = createPlainRenderer(out, makeStyle(false), { now, withService: true });
    t = 0;
    r.onStep(step("pull", StepStatus.STARTED, { component: "api", service: "mcq" }));
    t = 1500;
    r.onStep(step("pull", StepStatus.DONE, { component: "api", service: "mcq" }));
    r.onStep(
      step("register-dns", StepStatus.FAILED, { service: "mcq", message: "MCNS: 409 conflict" }),
    );
    expect(out.text).toBe(
      "… mcq: pull api\n✔ mcq: pull api (1.5s)\n✖ mcq: register dns failed: MCNS: 409 conflict\n",
    );
  });

  it("falls back to plain lines on a terminal of unknown width (ora would redraw forever)", async () => {
    const out = Object.assign(new Sink(), { isTTY: true, columns: 0 });
    const r = await createStepRenderer(out, makeStyle(false));
    r.onStep(step("pull", StepStatus.STARTED, { component: "api" }));
    r.stop();
    expect(out.text).toBe("… pull api\n");
  });

  it("spinner: spins over whatever is running and leaves one line per finished step", () => {
    const calls: string[] = [];
    const spinner: Spinner & { isSpinning: boolean } = {
      text: "",
      isSpinning: false,
      start(text?: string) {
        this.isSpinning = true;
        if (text !== undefined) this.text = text;
        calls.push(`start ${this.text}`);
      },
      stop() {
        this.isSpinning = false;
        calls.push("stop");
      },
      stopAndPersist(o) {
        this.isSpinning = false;
        calls.push(`persist ${o.symbol} ${o.text}`);
      },
    };
    const r = createSpinnerRenderer(spinner, makeStyle(false), { now });
    t = 0;
    r.onStep(step("pull", StepStatus.STARTED, { component: "api" }));
    r.onStep(step("pull", StepStatus.STARTED, { component: "web" }));
    expect(spinner.text).toBe("pull api, pull web");
    t = 2000;
    r.onStep(step("pull", StepStatus.DONE, { component: "api" }));
    r.onStep(step("pull", StepStatus.DONE, { component: "web" }));
    r.stop();
    expect(calls).toEqual([
      "start pull api",
      "persist ✔ pull api (2.0s)",
      "start pull web",
      "persist ✔ pull web (2.0s)",
    ]);
  });
});
