import { toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { AgentService, StepStatus } from "@mcp/proto/agent/v1";
import { describe, expect, it } from "vitest";
import { ALLOW, authorize, bearerToken } from "../src/server/auth.ts";
import { clientFor, makeAgent } from "./helpers/agent.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

const IMAGE = "reg.example/web:v1.0.0";
const toml = (name = "web", image = IMAGE) => `name = "${name}"
node = "rift"

[[components]]
name = "api"
image = "${image}"

[[components.routes]]
port = 8443
mode = "l4"
`;

async function codeOf(p: Promise<unknown> | AsyncIterable<unknown>): Promise<Code | "ok"> {
  try {
    if (Symbol.asyncIterator in (p as object)) {
      for await (const _ of p as AsyncIterable<unknown>) {
        // drain
      }
    } else {
      await p;
    }
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

describe("allow map", () => {
  it("has an entry for every AgentService method", () => {
    for (const m of AgentService.methods) expect(Object.hasOwn(ALLOW, m.localName)).toBe(true);
  });

  it("denies a method without an entry, by construction", () => {
    expect(authorize("someNewMethod", ["admin"])).toEqual({
      ok: false,
      reason: "method someNewMethod is not allowed on this agent",
    });
    expect(authorize("toString", ["admin"]).ok).toBe(false);
    expect(authorize("deploy", ["user"]).ok).toBe(false);
    expect(authorize("deploy", ["admin"]).ok).toBe(true);
  });

  it("denies over the wire a service method missing from the map", async () => {
    const { agent } = makeAgent();
    const { nodeInfo: _dropped, ...partial } = ALLOW;
    const client = clientFor(agent, "admin-token", partial);
    const err = await client.nodeInfo({}).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    expect(await codeOf(client.listServices({}))).toBe("ok");
  });

  it("parses bearer tokens strictly", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer abc ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken(null)).toBeUndefined();
  });
});

describe("AgentService over the real router", () => {
  it("refuses calls without a valid admin token and changes nothing", async () => {
    const { agent, runtime, store } = makeAgent();
    const spec = { spec: { name: "web", node: "rift", toml: toml() } };
    expect(await codeOf(clientFor(agent, undefined).deploy(spec))).toBe(Code.Unauthenticated);
    expect(await codeOf(clientFor(agent, "garbage").deploy(spec))).toBe(Code.Unauthenticated);
    expect(await codeOf(clientFor(agent, "user-token").deploy(spec))).toBe(Code.PermissionDenied);
    expect(await codeOf(clientFor(agent, "user-token").listServices({}))).toBe(
      Code.PermissionDenied,
    );
    expect(store.listServices()).toEqual([]);
    expect((runtime as FakeRuntime).calls).toEqual([]);
  });

  it("deploys with streamed steps and a result", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    const { agent } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    const events = [];
    for await (const r of client.deploy({ spec: { name: "web", node: "rift", toml: toml() } })) {
      events.push(r.event);
    }
    const last = events.at(-1);
    expect(last?.case).toBe("result");
    if (last?.case === "result") {
      expect(last.value.changed).toBe(true);
      expect(last.value.version).toBe("v1.0.0");
      expect(last.value.ports).toEqual({ api: 30000 });
    }
    const steps = events.flatMap((e) => (e.case === "step" ? [e.value] : []));
    expect(
      steps.find((s) => s.name === "register-routes" && s.status === StepStatus.SKIPPED)?.message,
    ).toBe("skipped (not configured)");

    const status = await client.serviceStatus({ service: "web" });
    expect(status.drift).toBe(false);
    expect(status.components[0]?.observedState).toBe("running");
    expect(status.components[0]?.ports).toEqual({ api: 30000 });
    expect(status.spec?.toml).toBe(toml());

    const list = await client.listServices({});
    expect(list.services.map((s) => [s.name, s.running, s.drift])).toEqual([["web", 1, false]]);
    const ps = await client.listContainers({});
    expect(ps.containers.map((c) => [c.name, c.state, c.version])).toEqual([
      ["web-api", "running", "v1.0.0"],
    ]);

    // Same spec again: nothing changes.
    let result: boolean | undefined;
    for await (const r of client.deploy({ spec: { name: "web", node: "rift", toml: toml() } })) {
      if (r.event.case === "result") result = r.event.value.changed;
    }
    expect(result).toBe(false);

    const events2 = await client.listEvents({ service: "web" });
    expect(events2.events.map((e) => e.kind)).toContain("deploy");
    const hist = await client.history({ service: "web" });
    expect(hist.deployments).toHaveLength(1);
  });

  it("answers an invalid spec with InvalidArgument carrying the diagnostics", async () => {
    const { agent, store } = makeAgent();
    const client = clientFor(agent, "admin-token");
    const bad = toml().replace('mode = "l4"', 'mode = "l9"');
    const err = await (async () => {
      for await (const _ of client.deploy({ spec: { name: "web", node: "rift", toml: bad } })) {
        // drain
      }
    })().catch((e) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    const ce = err as ConnectError;
    expect(ce.code).toBe(Code.InvalidArgument);
    expect(ce.rawMessage).toMatch(
      /^web\.toml:10:\d+: SD\d+ .*\[components\[0\]\.routes\[0\]\.mode\]/,
    );
    const details = ce.findDetails(StructSchema);
    expect(details).toHaveLength(1);
    const json = toJson(StructSchema, details[0]!) as { diagnostics: Record<string, unknown>[] };
    expect(json.diagnostics[0]).toMatchObject({
      path: "components[0].routes[0].mode",
      line: 10,
      severity: "error",
    });
    expect(json.diagnostics[0]?.code).toMatch(/^SD\d+$/);
    expect(store.listServices()).toEqual([]);
  });

  it("refuses names that would escape /srv, before anything runs", async () => {
    const { agent, runtime } = makeAgent();
    const client = clientFor(agent, "admin-token");
    for (const name of ["../etc", "a/b", "..", "", "Web", "x".repeat(70)]) {
      expect(await codeOf(client.stop({ service: name }))).toBe(Code.InvalidArgument);
      expect(await codeOf(client.serviceStatus({ service: name }))).toBe(Code.InvalidArgument);
    }
    expect(await codeOf(client.logs({ service: "web", component: "../x" }))).toBe(
      Code.InvalidArgument,
    );
    expect((runtime as FakeRuntime).calls).toEqual([]);
  });

  it("maps domain errors to Connect codes", async () => {
    const { agent } = makeAgent();
    const client = clientFor(agent, "admin-token");
    expect(await codeOf(client.serviceStatus({ service: "nope" }))).toBe(Code.NotFound);
    expect(await codeOf(client.undeploy({ service: "nope" }))).toBe(Code.NotFound);
    // A spec for another node.
    expect(
      await codeOf(
        client.deploy({
          spec: { name: "web", node: "svc", toml: toml().replace('"rift"', '"svc"') },
        }),
      ),
    ).toBe(Code.FailedPrecondition);
    expect(await codeOf(client.adopt({ service: "web" }))).toBe(Code.NotFound);
  });

  it("reports a failed step with its name and leaves nothing behind", async () => {
    const runtime = new FakeRuntime();
    runtime.failOn("pull", undefined, "registry unreachable");
    const { agent, store } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    const steps: string[] = [];
    const err = await (async () => {
      for await (const r of client.deploy({ spec: { name: "web", node: "rift", toml: toml() } })) {
        if (r.event.case === "step" && r.event.value.status === StepStatus.FAILED) {
          steps.push(`${r.event.value.name}: ${r.event.value.message}`);
        }
      }
    })().catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toBe("pull (api) failed: registry unreachable");
    expect(steps).toEqual(["pull: registry unreachable"]);
    expect(store.listPorts()).toEqual([]);
  });

  it("syncs definitions: deploys active ones, stops inactive ones, reports failures per service", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    const { agent } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    const results: [string, number][] = [];
    const inactive = `active = false\n${toml("db")}`;
    for await (const r of client.pushDefinitions({
      specs: [
        { name: "web", node: "rift", toml: toml() },
        { name: "db", node: "rift", toml: inactive },
        { name: "bad", node: "rift", toml: "name = 1" },
      ],
    })) {
      if (r.event.case === "serviceResult")
        results.push([r.event.value.service, r.event.value.action]);
    }
    expect(results.sort()).toEqual([
      ["bad", 5],
      ["db", 3],
      ["web", 2],
    ]);
  });

  it("streams logs and ends a follow when the client cancels", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    const { agent } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    for await (const _ of client.deploy({ spec: { name: "web", node: "rift", toml: toml() } })) {
      // drain
    }
    const lines = [];
    for await (const l of client.logs({ service: "web" })) lines.push(l.line);
    expect(lines).toEqual(["hello from web-api"]);

    const ac = new AbortController();
    const got: string[] = [];
    const follow = (async () => {
      for await (const l of client.logs({ service: "web", follow: true }, { signal: ac.signal })) {
        got.push(l.line);
        ac.abort();
      }
    })();
    expect(await codeOf(follow)).toBe(Code.Canceled);
    expect(got).toEqual(["hello from web-api"]);
  });

  it("answers NodeInfo and ExportService", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    const { agent } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    const info = await client.nodeInfo({});
    expect(info.name).toBe("rift");
    expect(info.podmanVersion).toBe("4.3.1-fake");
    expect(info.agentVersion).toBe("0.0.0-test");
    for await (const _ of client.deploy({ spec: { name: "web", node: "rift", toml: toml() } })) {
      // drain
    }
    const exp = await client.exportService({ service: "web" });
    expect(exp.toml).toBe(toml());
    expect(exp.spec?.components[0]?.image).toBe(IMAGE);
    const plan = await client.plan({
      spec: { name: "web", node: "rift", toml: toml("web", "reg.example/web:v1.1.0") },
    });
    expect(plan.plan?.steps.map((s) => s.name)).toEqual(["replace"]);
    expect(plan.plan?.changes.map((c) => [c.field, c.oldValue, c.newValue])).toEqual([
      ["image", IMAGE, "reg.example/web:v1.1.0"],
    ]);
  });

  it("adopts unlabelled containers by name, longest known service first", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    const { agent, store } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    // mc-proxy is already a known service; its container must not go to "mc".
    for await (const _ of client.deploy({
      spec: { name: "mc-proxy", node: "rift", toml: toml("mc-proxy") },
    })) {
      // drain
    }
    const bare = { image: IMAGE, labels: {}, env: {}, ports: [], volumes: [] };
    await runtime.run({ ...bare, name: "mc-api" });
    await runtime.run({ ...bare, name: "mc-web" });

    const dry = await client.adopt({ service: "mc", dryRun: true });
    expect(dry.adopted.map((a) => a.component).sort()).toEqual(["api", "web"]);
    expect(store.getService("mc")).toBeUndefined();

    const r = await client.adopt({ service: "mc" });
    expect(r.adopted.map((a) => [a.container, a.image]).sort()).toEqual([
      ["mc-api", IMAGE],
      ["mc-web", IMAGE],
    ]);
    const exp = await client.exportService({ service: "mc" });
    expect(exp.toml).toContain('name = "mc"');
    expect(exp.toml).toContain(`image = "${IMAGE}"`);
    expect(store.getService("mc-proxy")?.components.map((c) => c.name)).toEqual(["api"]);
    // Adopting again finds nothing new.
    const again = await client.adopt({ service: "mc" });
    expect(again.adopted).toEqual([]);
    expect(again.skipped).toHaveLength(2);
  });

  it("rolls back to the previous successful version, with a dry run first", async () => {
    const runtime = new FakeRuntime();
    runtime.images.add(IMAGE);
    runtime.images.add("reg.example/web:v1.1.0");
    const { agent } = makeAgent({ runtime });
    const client = clientFor(agent, "admin-token");
    const deploy = async (image: string) => {
      for await (const _ of client.deploy({
        spec: { name: "web", node: "rift", toml: toml("web", image) },
      })) {
        // drain
      }
    };
    await deploy(IMAGE);
    await deploy("reg.example/web:v1.1.0");
    expect((await client.history({ service: "web" })).deployments.map((d) => d.version)).toEqual([
      "v1.1.0",
      "v1.0.0",
    ]);
    let plan: string[] = [];
    for await (const r of client.rollback({ service: "web", dryRun: true })) {
      if (r.event.case === "result") plan = r.event.value.plan?.steps.map((s) => s.name) ?? [];
    }
    expect(plan).toEqual(["replace"]);
    expect(runtime.containers.get("web-api")?.image).toBe("reg.example/web:v1.1.0");
    let version = "";
    for await (const r of client.rollback({ service: "web" })) {
      if (r.event.case === "result") version = r.event.value.version;
    }
    expect(version).toBe("v1.0.0");
    expect(runtime.containers.get("web-api")?.image).toBe(IMAGE);
    expect(await codeOf(client.rollback({ service: "web", version: "v9.9.9" }))).toBe(
      Code.FailedPrecondition,
    );
  });
});
