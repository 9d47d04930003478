import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ComponentStatusSchema,
  ListServicesResponseSchema,
  NodeRole,
  PortMappingSchema,
} from "@mcp/proto/agent/v1";
import { describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { ExitCode } from "../src/errors.ts";
import { container, downAgent, fakeAgent } from "./helpers/fake-agent.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

const nodes = [
  { name: "rift", address: "100.95.252.120:9444" },
  { name: "orion", address: "100.95.252.121:9444" },
  { name: "svc", address: "100.95.252.122:9444" },
];

function fleet(json = false) {
  const rift = fakeAgent({
    listContainers: (req) => ({
      containers: [
        container({
          service: "metacrypt",
          component: "web",
          ports: [
            create(PortMappingSchema, { hostPort: 10002, containerPort: 443, protocol: "tcp" }),
          ],
        }),
        container({
          service: "metacrypt",
          component: "api",
          ports: [
            create(PortMappingSchema, { hostPort: 10001, containerPort: 8443, protocol: "tcp" }),
          ],
        }),
        ...(req.includeUnmanaged
          ? [
              container({
                service: "",
                component: "",
                name: "stray",
                managed: false,
                state: "exited",
                version: "",
                image: "alpine:3",
              }),
            ]
          : []),
      ],
    }),
    nodeInfo: () => ({
      name: "rift",
      agentVersion: "0.1.0",
      role: NodeRole.COMPUTE,
      podmanVersion: "4.3.1",
      rootless: true,
      uptime: durationFromMs(7_200_000),
    }),
    listServices: () =>
      create(ListServicesResponseSchema, {
        services: [
          {
            name: "metacrypt",
            active: true,
            version: "v1.4.1",
            components: 2,
            running: 2,
            drift: false,
          },
          { name: "mcq", active: true, version: "v0.4.0", components: 1, running: 0, drift: true },
        ],
      }),
  });
  const svc = fakeAgent({
    listContainers: () => ({
      containers: [
        container({ service: "mc-proxy", component: "proxy", state: "exited", version: "v1.2.1" }),
      ],
    }),
    nodeInfo: () => ({ name: "svc", agentVersion: "0.1.0", role: NodeRole.EDGE }),
    listServices: () => ({
      services: [{ name: "mc-proxy", active: false, version: "v1.2.1", components: 1, running: 0 }],
    }),
  });
  const ctx = testContext({
    config: testConfig(nodes),
    transports: { rift, orion: downAgent(), svc },
    json,
  });
  return { ctx, ...testRun(ctx) };
}

describe("mcp ps", () => {
  it("lists every node's containers, and a node that does not answer gets its own line without hiding the others", async () => {
    const { ctx, io, context } = fleet();
    const code = await run(["ps"], io, { context });
    expect(code).toBe(ExitCode.Unavailable);
    expect(ctx.stdout.text).toBe(
      [
        "NODE   SERVICE     COMPONENT   STATE     IMAGE/VERSION   PORTS             UPTIME",
        "rift   metacrypt   api         running   v1.0.0          10001->8443/tcp   1h1m",
        "rift   metacrypt   web         running   v1.0.0          10002->443/tcp    1h1m",
        "svc    mc-proxy    proxy       exited    v1.2.1          -                 -",
        "",
      ].join("\n"),
    );
    expect(ctx.stderr.text).toBe(
      "error: node orion (100.95.252.121:9444) did not answer: connect ECONNREFUSED 127.0.0.1:9444\n" +
        "hint: is mcp-agent running there, and is the address in mcp.toml [[nodes]] right?\n",
    );
    expect(ctx.closed).toBe(1);
  });

  it("asks the nodes in parallel: every node has its question before any answers", async () => {
    // A barrier: each agent answers only once all three were asked (or after 5 s). Asked one
    // after the other, no call would ever see the others arrive.
    let arrived = 0;
    let release: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sawOthers: boolean[] = [];
    const waiting = () =>
      fakeAgent({
        listContainers: async () => {
          if (++arrived === 3) release();
          const together = await Promise.race([
            all.then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), 5_000)),
          ]);
          sawOthers.push(together);
          return { containers: [] };
        },
      });
    const ctx = testContext({
      config: testConfig(nodes),
      transports: { rift: waiting(), orion: waiting(), svc: waiting() },
      timeoutMs: 10_000,
    });
    const { io, context } = testRun(ctx);
    expect(await run(["ps", "--timeout", "10"], io, { context })).toBe(0);
    expect(sawOthers).toEqual([true, true, true]);
  });

  it("prints the headings when the nodes that answered have nothing, and no table when none answered", async () => {
    const empty = fakeAgent({ listContainers: () => ({ containers: [] }) });
    const ctx = testContext({
      config: testConfig(nodes.slice(0, 2)),
      transports: { rift: empty, orion: downAgent() },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["ps"], io, { context })).toBe(ExitCode.Unavailable);
    expect(ctx.stdout.text).toMatch(
      /^NODE\s+SERVICE\s+COMPONENT\s+STATE\s+IMAGE\/VERSION\s+PORTS\s+UPTIME\n$/,
    );
    const none = testContext({
      config: testConfig(nodes.slice(1, 2)),
      transports: { orion: downAgent() },
    });
    const n = testRun(none);
    expect(await run(["ps"], n.io, { context: n.context })).toBe(ExitCode.Unavailable);
    expect(none.stdout.text).toBe("");
    expect(none.stderr.text).toContain("node orion");
  });

  it("gives scripts every node with its containers or its error under --json, and --all adds unmanaged containers", async () => {
    const { ctx, io, context } = fleet();
    expect(await run(["ps", "--json", "--all"], io, { context })).toBe(ExitCode.Unavailable);
    const out = JSON.parse(ctx.stdout.text) as {
      nodes: {
        node: string;
        ok: boolean;
        containers?: { name: string; managed: boolean; ports: unknown[] }[];
        error?: { exitCode: number };
      }[];
    };
    expect(out.nodes.map((n) => [n.node, n.ok])).toEqual([
      ["rift", true],
      ["orion", false],
      ["svc", true],
    ]);
    expect(out.nodes[0]?.containers?.map((c) => [c.name, c.managed])).toEqual([
      ["metacrypt-web", true],
      ["metacrypt-api", true],
      ["stray", false],
    ]);
    expect(out.nodes[1]?.error?.exitCode).toBe(3);
  });

  it("--node asks one node only, and an unknown node is a usage error naming the ones there are", async () => {
    const { ctx, io, context } = fleet();
    expect(await run(["ps", "--node", "svc"], io, { context })).toBe(0);
    expect(ctx.stdout.text).toContain("mc-proxy");
    expect(ctx.stdout.text).not.toContain("metacrypt");
    const other = fleet();
    expect(await run(["ps", "--node", "nope"], other.io, { context: other.context })).toBe(
      ExitCode.Usage,
    );
    expect(other.ctx.stderr.text).toContain('node "nope" is not in /nonexistent/mcp.toml');
    expect(other.ctx.stderr.text).toContain("rift, orion, svc");
  });

  it("exits 4 when the agent rejects the token", async () => {
    const reject = fakeAgent({
      listContainers: () => {
        throw new ConnectError("token expired", Code.Unauthenticated);
      },
    });
    const ctx = testContext({
      config: testConfig(nodes.slice(0, 1)),
      transports: { rift: reject },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["ps"], io, { context })).toBe(ExitCode.Auth);
    expect(ctx.stderr.text).toContain("hint: run `mcp login` for a fresh token");
  });
});

describe("mcp node list", () => {
  it("shows NAME, ADDRESS, VERSION per node; an unreachable one says so", async () => {
    const { ctx, io, context } = fleet();
    expect(await run(["node", "list"], io, { context })).toBe(ExitCode.Unavailable);
    const lines = ctx.stdout.text.split("\n");
    expect(lines[0]).toMatch(/^NAME\s+ADDRESS\s+VERSION\s+ROLE\s+PODMAN\s+UPTIME$/);
    expect(lines[1]).toMatch(
      /^rift\s+100\.95\.252\.120:9444\s+0\.1\.0\s+compute\s+4\.3\.1 \(rootless\)\s+2h0m$/,
    );
    expect(lines[2]).toMatch(
      /^orion\s+100\.95\.252\.121:9444\s+unreachable: connect ECONNREFUSED 127\.0\.0\.1:9444/,
    );
    expect(lines[3]).toMatch(/^svc\s+100\.95\.252\.122:9444\s+0\.1\.0\s+edge/);
  });

  it("--json", async () => {
    const { ctx, io, context } = fleet();
    await run(["node", "list", "--json"], io, { context });
    const out = JSON.parse(ctx.stdout.text) as {
      nodes: { name: string; ok: boolean; agentVersion?: string }[];
    };
    expect(out.nodes.map((n) => [n.name, n.ok, n.agentVersion])).toEqual([
      ["rift", true, "0.1.0"],
      ["orion", false, undefined],
      ["svc", true, "0.1.0"],
    ]);
  });
});

describe("mcp status", () => {
  it("summarises desired, observed, drift and version of every service", async () => {
    const { ctx, io, context } = fleet();
    expect(await run(["status"], io, { context })).toBe(ExitCode.Unavailable);
    expect(ctx.stdout.text).toBe(
      [
        "NODE   SERVICE     DESIRED   OBSERVED   DRIFT      VERSION",
        "rift   mcq         running   stopped    drift      v0.4.0",
        "rift   metacrypt   running   running    no drift   v1.4.1",
        "svc    mc-proxy    stopped   stopped    no drift   v1.2.1",
        "",
      ].join("\n"),
    );
  });

  it("shows one service in detail, found on whichever node knows it", async () => {
    const rift = fakeAgent({
      listServices: () => ({
        services: [{ name: "mcq", active: true, version: "v0.4.0", components: 1, running: 1 }],
      }),
      serviceStatus: (req) => ({
        service: req.service,
        active: true,
        version: "v0.4.0",
        drift: true,
        components: [
          create(ComponentStatusSchema, {
            name: "api",
            desiredState: "running",
            observedState: "exited",
            drift: true,
            driftReasons: ["container exited (code 1)"],
            desiredVersion: "v0.4.0",
            observedVersion: "v0.3.9",
            ports: { rest: 10001 },
          }),
        ],
      }),
    });
    const ctx = testContext({
      config: testConfig(nodes.slice(0, 2)),
      transports: { rift, orion: fakeAgent({ listServices: () => ({ services: [] }) }) },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["status", "mcq"], io, { context })).toBe(0);
    const out = ctx.stdout.text;
    expect(out).toContain("mcq on rift, desired running, version v0.4.0, drift\n");
    expect(out).toMatch(
      /api\s+running\s+exited\s+v0\.4\.0 \(running v0\.3\.9\)\s+-\s+rest=10001\s+-\s+yes/,
    );
    expect(out).toContain("Drift:\n  api: container exited (code 1)\n");

    const j = testContext({
      config: testConfig(nodes.slice(0, 2)),
      transports: { rift, orion: fakeAgent({ listServices: () => ({ services: [] }) }) },
    });
    const jr = testRun(j);
    expect(await run(["status", "mcq", "--json"], jr.io, { context: jr.context })).toBe(0);
    expect(JSON.parse(j.stdout.text)).toMatchObject({
      node: "rift",
      service: "mcq",
      drift: true,
      components: [{ name: "api", observed: "exited", ports: { rest: 10001 } }],
    });
  });

  it("exits 5 when no node knows the service", async () => {
    const ctx = testContext({
      config: testConfig(nodes.slice(0, 1)),
      transports: { rift: fakeAgent({ listServices: () => ({ services: [] }) }) },
    });
    const { io, context } = testRun(ctx);
    expect(await run(["status", "ghost"], io, { context })).toBe(ExitCode.NotFound);
    expect(ctx.stderr.text).toContain('no node knows service "ghost"');
  });
});
