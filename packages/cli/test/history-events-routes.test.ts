import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ChangeKind,
  DeployOutcome,
  EventLevel,
  type ListEventsRequest,
  type PlanRequest,
  type RollbackRequest,
  RollbackResponseSchema,
  RouteMode,
} from "@mcp/proto/agent/v1";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { ExitCode } from "../src/errors.ts";
import { type AgentImpl, fakeAgent, StepStatus, step } from "./helpers/fake-agent.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

let dir: string;
let services: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-ops-"));
  services = join(dir, "services");
  await mkdir(services);
  await writeFile(
    join(services, "mcq.toml"),
    'name = "mcq"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "mcr.example/mcq:v1.1.0"\n',
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rift = { name: "rift", address: "100.95.252.120:9444" };
const svc = { name: "svc", address: "100.95.252.122:9444" };
const t = (iso: string) => timestampFromDate(new Date(iso));

function setup(nodes: Record<string, AgentImpl | "down">, json = false) {
  const all = [rift, svc].filter((n) => n.name in nodes);
  const ctx = testContext({
    config: testConfig(all, { servicesDir: services }),
    transports: Object.fromEntries(
      Object.entries(nodes).map(([n, impl]) => [
        n,
        fakeAgent(
          impl === "down"
            ? Object.fromEntries(
                ["listRoutes", "listEvents", "listServices"].map((m) => [
                  m,
                  () => {
                    throw new ConnectError(
                      "connect ECONNREFUSED 100.95.252.122:9444",
                      Code.Unavailable,
                    );
                  },
                ]),
              )
            : impl,
        ),
      ]),
    ),
    json,
  });
  return { ctx, ...testRun(ctx) };
}

describe("mcp history", () => {
  const agent: AgentImpl = {
    async history(req) {
      if (req.service !== "mcq") throw new ConnectError("unknown service", Code.NotFound);
      return {
        deployments: [
          {
            id: 3n,
            version: "v1.1.0",
            time: t("2026-03-27T10:00:00Z"),
            outcome: DeployOutcome.FAILED,
            message: "pull api: manifest unknown",
          },
          {
            id: 2n,
            version: "v1.0.0",
            time: t("2026-03-26T15:04:05Z"),
            outcome: DeployOutcome.SUCCEEDED,
          },
        ],
      };
    },
  };

  it("prints versions newest first with time and outcome", async () => {
    const { ctx, io, context } = setup({ rift: agent });
    expect(await run(["history", "mcq"], io, { context })).toBe(0);
    expect(ctx.stdout.text).toBe(
      [
        "TIME                  VERSION   OUTCOME     MESSAGE",
        "2026-03-27 10:00:00   v1.1.0    failed      pull api: manifest unknown",
        "2026-03-26 15:04:05   v1.0.0    succeeded",
        "",
      ].join("\n"),
    );
  });

  it("--json", async () => {
    const { ctx, io, context } = setup({ rift: agent }, true);
    expect(await run(["history", "mcq", "--json"], io, { context })).toBe(0);
    const out = JSON.parse(ctx.stdout.text);
    expect(out.deployments[1]).toEqual({
      id: "2",
      version: "v1.0.0",
      time: "2026-03-26T15:04:05.000Z",
      outcome: "succeeded",
      message: "",
    });
  });

  it("an unknown service is exit 5", async () => {
    await rm(join(services, "mcq.toml"));
    await writeFile(join(services, "nope.toml"), 'name = "nope"\nnode = "rift"\n');
    const { io, context } = setup({ rift: agent });
    expect(await run(["history", "nope"], io, { context })).toBe(ExitCode.NotFound);
  });
});

describe("mcp rollback", () => {
  it("streams the steps like deploy and ends with the version rolled back to", async () => {
    const received: RollbackRequest[] = [];
    const { ctx, io, context } = setup({
      rift: {
        async *rollback(req) {
          received.push(req);
          yield create(RollbackResponseSchema, {
            event: { case: "step", value: step("replace", StepStatus.DONE, { component: "api" }) },
          });
          yield create(RollbackResponseSchema, {
            event: { case: "result", value: { service: "mcq", version: "v1.0.0", changed: true } },
          });
        },
      },
    });
    expect(await run(["rollback", "mcq", "--to", "v1.0.0"], io, { context })).toBe(0);
    expect(received[0]).toMatchObject({ service: "mcq", version: "v1.0.0", dryRun: false });
    expect(ctx.stdout.text).toContain("✔ replace api");
    expect(ctx.stdout.text).toContain("✔ rolled back mcq v1.0.0 on rift\n");
  });

  it("a failed step exits non-zero and names the step", async () => {
    const { ctx, io, context } = setup({
      rift: {
        async *rollback() {
          yield create(RollbackResponseSchema, {
            event: {
              case: "step",
              value: step("pull", StepStatus.FAILED, {
                component: "api",
                message: "manifest unknown",
              }),
            },
          });
          throw new ConnectError("pull api: manifest unknown", Code.FailedPrecondition);
        },
      },
    });
    expect(await run(["rollback", "mcq"], io, { context })).toBe(ExitCode.Failed);
    expect(ctx.stdout.text).toContain("✖ pull api failed: manifest unknown");
  });

  it("--dry-run prints the plan with the shared renderer and changes nothing", async () => {
    const received: RollbackRequest[] = [];
    const { ctx, io, context } = setup({
      rift: {
        async *rollback(req) {
          received.push(req);
          yield create(RollbackResponseSchema, {
            event: {
              case: "result",
              value: {
                service: "mcq",
                version: "v1.0.0",
                changed: true,
                plan: {
                  changes: [
                    {
                      component: "api",
                      field: "image",
                      kind: ChangeKind.MODIFIED,
                      oldValue: "mcr.example/mcq:v1.1.0",
                      newValue: "mcr.example/mcq:v1.0.0",
                    },
                  ],
                  steps: [{ name: "replace", component: "api", description: "replace mcq-api" }],
                },
              },
            },
          });
        },
      },
    });
    expect(await run(["rollback", "mcq", "--dry-run"], io, { context })).toBe(0);
    expect(received[0]?.dryRun).toBe(true);
    expect(ctx.stdout.text).toBe(
      [
        "Rollback of mcq on rift to v1.0.0 (dry run, nothing changed):",
        "Changes:",
        "  ~ api.image: mcr.example/mcq:v1.1.0 -> mcr.example/mcq:v1.0.0",
        "Steps:",
        "  1. replace api: replace mcq-api",
        "",
      ].join("\n"),
    );
  });
});

describe("mcp diff", () => {
  const planning = (received: PlanRequest[], changed: boolean): AgentImpl => ({
    async plan(req) {
      received.push(req);
      return {
        plan: changed
          ? {
              changes: [
                {
                  component: "api",
                  field: "image",
                  kind: ChangeKind.MODIFIED,
                  oldValue: "mcr.example/mcq:v1.0.0",
                  newValue: "mcr.example/mcq:v1.1.0",
                },
                { component: "api", field: "env", kind: ChangeKind.ADDED, newValue: "MODE=prod" },
              ],
              steps: [{ name: "replace", component: "api", description: "replace mcq-api" }],
            }
          : { steps: [{ name: "container", component: "api", description: "mcq-api unchanged" }] },
      };
    },
  });

  it("sends the validated file to Plan and prints the field-by-field changes; exit 0 by default", async () => {
    const received: PlanRequest[] = [];
    const { ctx, io, context } = setup({ rift: planning(received, true) });
    expect(await run(["diff", "mcq"], io, { context })).toBe(0);
    expect(received[0]?.spec?.components[0]?.image).toBe("mcr.example/mcq:v1.1.0");
    expect(received[0]?.spec?.toml).toContain('name = "mcq"');
    expect(ctx.stdout.text).toContain(
      "  ~ api.image: mcr.example/mcq:v1.0.0 -> mcr.example/mcq:v1.1.0\n",
    );
    expect(ctx.stdout.text).toContain("  + api.env: MODE=prod\n");
  });

  it("--exit-code: 1 with changes, 0 without", async () => {
    const a = setup({ rift: planning([], true) });
    expect(await run(["diff", "mcq", "--exit-code"], a.io, a)).toBe(1);
    const b = setup({ rift: planning([], false) });
    expect(await run(["diff", "mcq", "--exit-code"], b.io, b)).toBe(0);
    expect(b.ctx.stdout.text).toContain("no changes to the stored definition");
  });

  it("--json", async () => {
    const { ctx, io, context } = setup({ rift: planning([], true) }, true);
    expect(await run(["diff", "mcq", "--json"], io, { context })).toBe(0);
    const out = JSON.parse(ctx.stdout.text);
    expect(out).toMatchObject({ node: "rift", service: "mcq", changed: true });
    expect(out.plan.changes[1]).toEqual({
      component: "api",
      field: "env",
      kind: "added",
      old: "",
      new: "MODE=prod",
    });
  });

  it("an invalid file is refused before the agent is asked", async () => {
    await writeFile(
      join(services, "mcq.toml"),
      'name = "mcq"\nnode = "rift"\n[[components]]\nname = "api"\nimage = "x:latest"\n',
    );
    const received: PlanRequest[] = [];
    const { ctx, io, context } = setup({ rift: planning(received, true) });
    expect(await run(["diff", "mcq"], io, { context })).toBe(ExitCode.Failed);
    expect(received).toEqual([]);
    expect(ctx.stderr.text).toContain("is not a valid service definition");
  });
});

describe("mcp events", () => {
  const events = (received: ListEventsRequest[]): AgentImpl => ({
    async listEvents(req) {
      received.push(req);
      return {
        events: [
          {
            id: 2n,
            time: t("2026-03-26T15:05:00Z"),
            service: "mcq",
            component: "api",
            kind: "drift",
            level: EventLevel.WARNING,
            from: "running",
            to: "exited",
            message: "running → exited",
          },
          {
            id: 1n,
            time: t("2026-03-26T15:04:05Z"),
            service: "mcq",
            kind: "adopt",
            level: EventLevel.INFO,
            message: "adopted mcq-api",
          },
        ],
      };
    },
  });

  it("prints a table oldest first, FROM and TO from the transition", async () => {
    const received: ListEventsRequest[] = [];
    const { ctx, io, context } = setup({ rift: events(received) });
    expect(await run(["events", "mcq", "--since", "1h", "--limit", "5"], io, { context })).toBe(0);
    expect(received[0]?.service).toBe("mcq");
    expect(received[0]?.limit).toBe(5);
    const since = received[0]?.since ? timestampMs(received[0].since) : 0;
    expect(Math.abs(Date.now() - 3_600_000 - since)).toBeLessThan(10_000);
    expect(ctx.stdout.text).toBe(
      [
        "TIME                  NODE   SERVICE   COMPONENT   KIND    FROM      TO       MESSAGE",
        "2026-03-26 15:04:05   rift   mcq       -           adopt   -         -        adopted mcq-api",
        "2026-03-26 15:05:00   rift   mcq       api         drift   running   exited",
        "",
      ].join("\n"),
    );
  });

  it("without a service asks every node; one that is down gets its line and exit 3", async () => {
    const { ctx, io, context } = setup({ rift: events([]), svc: "down" });
    expect(await run(["events"], io, { context })).toBe(ExitCode.Unavailable);
    expect(ctx.stdout.text).toContain("adopted mcq-api");
    expect(ctx.stderr.text).toContain("node svc (100.95.252.122:9444) did not answer");
  });

  it("--json", async () => {
    const { ctx, io, context } = setup({ rift: events([]) }, true);
    expect(
      await run(["events", "--json", "--since", "2026-03-26T00:00:00Z"], io, { context }),
    ).toBe(0);
    const out = JSON.parse(ctx.stdout.text);
    expect(out.events[1]).toEqual({
      id: "2",
      node: "rift",
      time: "2026-03-26T15:05:00.000Z",
      service: "mcq",
      component: "api",
      kind: "drift",
      level: "warning",
      from: "running",
      to: "exited",
      message: "running → exited",
    });
  });

  it("a bad --since is a usage error", async () => {
    const { ctx, io, context } = setup({ rift: events([]) });
    expect(await run(["events", "--since", "yesterday"], io, { context })).toBe(ExitCode.Usage);
    expect(ctx.stderr.text).toContain('--since "yesterday" is neither a duration nor a time');
  });
});

describe("mcp route list", () => {
  const routes: AgentImpl = {
    async listRoutes() {
      return {
        listeners: [
          {
            address: ":443",
            routes: [
              {
                hostname: "mcq.svc.mcp.metacircular.net",
                backend: "100.95.252.120:10001",
                mode: RouteMode.L7,
                service: "mcq",
                component: "web",
                tlsCert: "/srv/mc-proxy/certs/mcq.pem",
              },
              {
                hostname: "docs.svc.mcp.metacircular.net",
                backend: "100.95.252.120:10003",
                mode: RouteMode.L7,
                service: "mcdoc",
                component: "web",
              },
            ],
          },
          {
            address: ":8443",
            routes: [
              {
                hostname: "mcq.svc.mcp.metacircular.net",
                backend: "100.95.252.120:10002",
                mode: RouteMode.L4,
                service: "mcq",
                component: "api",
                routeName: "rest",
              },
            ],
          },
        ],
      };
    },
  };

  it("per node, per listener a count, then `mode host → backend` lines; a down node on its own line", async () => {
    const { ctx, io, context } = setup({ rift: routes, svc: "down" });
    expect(await run(["route", "list"], io, { context })).toBe(ExitCode.Unavailable);
    expect(ctx.stdout.text).toBe(
      [
        "rift",
        "  :443    2 routes",
        "    l7  docs.svc.mcp.metacircular.net → 100.95.252.120:10003  (mcdoc/web)",
        "    l7  mcq.svc.mcp.metacircular.net  → 100.95.252.120:10001  (mcq/web)",
        "  :8443   1 route",
        "    l4  mcq.svc.mcp.metacircular.net → 100.95.252.120:10002  (mcq/api rest)",
        "svc: node svc (100.95.252.122:9444) did not answer: connect ECONNREFUSED 100.95.252.122:9444",
        "",
      ].join("\n"),
    );
  });

  it("-n asks one node; --json", async () => {
    const { ctx, io, context } = setup({ rift: routes, svc: "down" }, true);
    expect(await run(["route", "list", "-n", "rift", "--json"], io, { context })).toBe(0);
    const out = JSON.parse(ctx.stdout.text);
    expect(out.nodes).toHaveLength(1);
    expect(out.nodes[0].listeners[1].routes[0]).toEqual({
      hostname: "mcq.svc.mcp.metacircular.net",
      backend: "100.95.252.120:10002",
      mode: "l4",
      service: "mcq",
      component: "api",
      route: "rest",
      tlsCert: null,
      computeNode: null,
    });
  });

  it("an edge node's routes name the service and the compute node they reach", async () => {
    const edge: AgentImpl = {
      async listRoutes() {
        return {
          listeners: [
            {
              address: ":443",
              routes: [
                {
                  hostname: "mcq.metacircular.net",
                  backend: "100.95.252.120:10001",
                  mode: RouteMode.L7,
                  service: "mcq",
                  node: "rift",
                  tlsCert: "/srv/mc-proxy/certs/edge_mcq.metacircular.net.pem",
                },
              ],
            },
          ],
        };
      },
    };
    const { ctx, io, context } = setup({ rift: routes, svc: edge });
    expect(await run(["route", "list", "-n", "svc"], io, { context })).toBe(0);
    expect(ctx.stdout.text).toBe(
      [
        "svc",
        "  :443   1 route",
        "    l7  mcq.metacircular.net → 100.95.252.120:10001  (mcq on rift)",
        "",
      ].join("\n"),
    );
    const j = setup({ rift: routes, svc: edge }, true);
    expect(await run(["route", "list", "-n", "svc", "--json"], j.io, { context: j.context })).toBe(
      0,
    );
    expect(JSON.parse(j.ctx.stdout.text).nodes[0].listeners[0].routes[0]).toMatchObject({
      service: "mcq",
      computeNode: "rift",
      tlsCert: "/srv/mc-proxy/certs/edge_mcq.metacircular.net.pem",
    });
  });

  it("an unknown -n is a usage error", async () => {
    const { io, context } = setup({ rift: routes });
    expect(await run(["route", "list", "-n", "mars"], io, { context })).toBe(ExitCode.Usage);
  });
});
