import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type AdoptRequest, PortMappingSchema, ServiceSpecSchema } from "@mcp/proto/agent/v1";
import { format, parse } from "@mcp/servicedef";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { containerSplits, findAmbiguities } from "../src/commands/adopt.ts";
import { ExitCode } from "../src/errors.ts";
import { annotateExport } from "../src/export-annotate.ts";
import { type AgentImpl, container, fakeAgent } from "./helpers/fake-agent.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

let dir: string;
let services: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-adopt-"));
  services = join(dir, "services");
  await mkdir(services);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rift = { name: "rift", address: "100.95.252.120:9444" };
const orion = { name: "orion", address: "100.95.252.121:9444" };

function setup(impl: AgentImpl, opts: { json?: boolean; nodes?: Record<string, AgentImpl> } = {}) {
  const impls = opts.nodes ?? { rift: impl };
  const ctx = testContext({
    config: testConfig(
      Object.keys(impls).map((n) => (n === "rift" ? rift : orion)),
      { servicesDir: services },
    ),
    transports: Object.fromEntries(Object.entries(impls).map(([n, i]) => [n, fakeAgent(i)])),
    ...(opts.json ? { json: true } : {}),
  });
  return { ctx, ...testRun(ctx) };
}

/** An agent with hand-started containers mc-demo-web and mc-demo-api. */
function adoptingAgent(received: AdoptRequest[], known: string[] = []): AgentImpl {
  return {
    async adopt(req) {
      received.push(req);
      if (req.service !== "mc-demo") {
        throw new ConnectError("no container named x-<component> to adopt", Code.NotFound);
      }
      return {
        service: req.service,
        adopted: [
          { container: "mc-demo-api", component: "api", image: "localhost/demo:v1.0.0" },
          { container: "mc-demo-web", component: "web", image: "localhost/demo:v1.0.0" },
        ],
        skipped: ["mc-demo-old: labelled for service other"],
      };
    },
    async listServices() {
      return { services: known.map((name) => ({ name })) };
    },
  };
}

describe("mcp adopt", () => {
  it("previews, then adopts, and prints what was adopted and skipped", async () => {
    const received: AdoptRequest[] = [];
    const { ctx, io, context } = setup(adoptingAgent(received, ["mc"]));
    expect(await run(["adopt", "mc-demo"], io, { context })).toBe(0);
    expect(received.map((r) => r.dryRun)).toEqual([true, false]);
    expect(ctx.stdout.text).toContain(
      "✔ adopted mc-demo-api as mc-demo/api (localhost/demo:v1.0.0)\n",
    );
    expect(ctx.stdout.text).toContain("✔ adopted mc-demo-web as mc-demo/web");
    expect(ctx.stdout.text).toContain("- skipped mc-demo-old: labelled for service other\n");
    expect(ctx.stdout.text).toContain("next: mcp service export mc-demo");
  });

  it("--dry-run records nothing: only the preview is asked for", async () => {
    const received: AdoptRequest[] = [];
    const { ctx, io, context } = setup(adoptingAgent(received));
    expect(await run(["adopt", "mc-demo", "--dry-run"], io, { context })).toBe(0);
    expect(received.map((r) => r.dryRun)).toEqual([true]);
    expect(ctx.stdout.text).toContain("~ would adopt mc-demo-api as mc-demo/api");
  });

  it("--json prints the node, the adopted containers and the skipped ones", async () => {
    const { ctx, io, context } = setup(adoptingAgent([]), { json: true });
    expect(await run(["adopt", "mc-demo", "--json"], io, { context })).toBe(0);
    expect(JSON.parse(ctx.stdout.text)).toEqual({
      node: "rift",
      service: "mc-demo",
      dryRun: false,
      adopted: [
        { container: "mc-demo-api", component: "api", image: "localhost/demo:v1.0.0" },
        { container: "mc-demo-web", component: "web", image: "localhost/demo:v1.0.0" },
      ],
      skipped: ["mc-demo-old: labelled for service other"],
    });
  });

  it("refuses an ambiguous name, lists the candidates, and adopts nothing", async () => {
    const received: AdoptRequest[] = [];
    const agent: AgentImpl = {
      async adopt(req) {
        received.push(req);
        return {
          service: "mc",
          adopted: [{ container: "mc-demo-web", component: "demo-web", image: "x/y:v1.0.0" }],
        };
      },
      async listServices() {
        return { services: [] };
      },
    };
    const { ctx, io, context } = setup(agent);
    expect(await run(["adopt", "mc"], io, { context })).toBe(ExitCode.Usage);
    expect(received.map((r) => r.dryRun)).toEqual([true]);
    expect(ctx.stderr.text).toContain("refusing to adopt for mc: a container name is ambiguous");
    expect(ctx.stderr.text).toContain("mc-demo-web could be mc-demo/web or mc/demo-web");
  });

  it("a definition file naming the component settles the split", async () => {
    await writeFile(
      join(services, "mc.toml"),
      'name = "mc"\nnode = "rift"\n[[components]]\nname = "demo-web"\nimage = "x/y:v1.0.0"\n',
    );
    const received: AdoptRequest[] = [];
    const { io, context } = setup({
      async adopt(req) {
        received.push(req);
        return {
          service: "mc",
          adopted: [{ container: "mc-demo-web", component: "demo-web", image: "x/y:v1.0.0" }],
        };
      },
      async listServices() {
        return { services: [] };
      },
    });
    expect(await run(["adopt", "mc"], io, { context })).toBe(0);
    expect(received.map((r) => r.dryRun)).toEqual([true, false]);
  });

  it("with several nodes and no hint, asks them all and adopts where the containers are", async () => {
    const onRift: AdoptRequest[] = [];
    const onOrion: AdoptRequest[] = [];
    const { ctx, io, context } = setup(
      {},
      {
        nodes: {
          rift: adoptingAgent(onRift),
          orion: {
            async adopt(req) {
              onOrion.push(req);
              throw new ConnectError("no container named mc-demo-<component>", Code.NotFound);
            },
          },
        },
      },
    );
    expect(await run(["adopt", "mc-demo"], io, { context })).toBe(0);
    expect(onRift.map((r) => r.dryRun)).toEqual([true, false]);
    expect(onOrion.map((r) => r.dryRun)).toEqual([true]);
    expect(ctx.stdout.text).toContain("adopted mc-demo-web");
  });

  it("an unreachable agent is exit 3 with the node named", async () => {
    const down = () => {
      throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
    };
    const { ctx, io, context } = setup({ adopt: down, listServices: down });
    expect(await run(["adopt", "mc-demo"], io, { context })).toBe(ExitCode.Unavailable);
    expect(ctx.stderr.text).toContain("node rift (100.95.252.120:9444) did not answer");
  });

  it("splits longest first: a longer service known anywhere claims its containers", () => {
    expect(containerSplits("mc-demo-web", "mc-demo", ["mc"])).toEqual([
      { service: "mc-demo", component: "web" },
    ]);
    expect(containerSplits("mc-proxy", "mc", ["mc-proxy"])).toEqual([
      { service: "mc-proxy", component: "mc-proxy" },
      { service: "mc", component: "proxy" },
    ]);
    expect(
      findAmbiguities(
        [{ container: "mc-proxy", component: "proxy" }],
        "mc",
        ["mc-proxy"],
        new Set(),
      ),
    ).toHaveLength(1);
    expect(
      findAmbiguities(
        [{ container: "metacrypt-api", component: "api" }],
        "metacrypt",
        [],
        new Set(),
      ),
    ).toEqual([]);
  });
});

const adoptedToml = format({
  name: "mc-demo",
  node: "rift",
  active: true,
  path: "mc-demo",
  components: [
    {
      name: "api",
      image: "localhost/demo:v1.0.0",
      volumes: ["/srv/mc-demo:/srv/mc-demo"],
      env: ["MODE=demo"],
      restart: "unless-stopped",
      drain: "5s",
    },
    { name: "web", image: "localhost/demo:v1.0.0", drain: "5s" },
  ],
});

function exportAgent(): AgentImpl {
  return {
    async exportService(req) {
      if (req.service !== "mc-demo") throw new ConnectError("unknown service", Code.NotFound);
      return {
        spec: create(ServiceSpecSchema, { name: "mc-demo", node: "rift" }),
        toml: adoptedToml,
      };
    },
    async listContainers(req) {
      expect(req.includeUnmanaged).toBe(true);
      return {
        containers: [
          container({
            service: "mc-demo",
            component: "web",
            managed: false,
            ports: [
              create(PortMappingSchema, { hostPort: 18080, containerPort: 8080, protocol: "tcp" }),
              create(PortMappingSchema, { hostPort: 18443, containerPort: 8443, protocol: "tcp" }),
            ],
          }),
          container({ service: "mc-demo", component: "api", managed: false }),
        ],
      };
    },
    async listServices() {
      return { services: [{ name: "mc-demo" }] };
    },
  };
}

describe("mcp service export", () => {
  it("writes the file: the agent's definition, a header, and a commented route per published port; it lints clean", async () => {
    const { ctx, io, context } = setup(exportAgent());
    expect(await run(["service", "export", "mc-demo"], io, { context })).toBe(0);
    const file = join(services, "mc-demo.toml");
    const text = await readFile(file, "utf8");
    expect(ctx.stdout.text).toBe(`✔ wrote ${file}\n`);
    expect(text).toMatch(/^# mc-demo: exported by `mcp service export` from node rift\./);
    expect(text).toContain('volumes = ["/srv/mc-demo:/srv/mc-demo"]');
    expect(text).toContain("# Published by hand on host port 18080 (container port 8080/tcp).");
    expect(text).toContain('# name = "port8443"\n# port = 8443\n');
    // The templates sit in the web component, not in api.
    expect(text.indexOf("# port = 8080")).toBeGreaterThan(text.indexOf('name = "web"'));
    const linted = parse(text, { filename: file });
    expect(linted.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(linted.ok).toBe(true);
    expect(linted.value?.components?.map((c) => c.name)).toEqual(["api", "web"]);
    expect(linted.value?.components?.[1]?.routes ?? []).toEqual([]);
  });

  it("refuses to overwrite an existing file without --force, shows the diff, leaves the file alone", async () => {
    const file = join(services, "mc-demo.toml");
    const mine =
      'name = "mc-demo"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "localhost/demo:v0.9.0"\n';
    await writeFile(file, mine);
    const { ctx, io, context } = setup(exportAgent());
    expect(await run(["service", "export", "mc-demo"], io, { context })).toBe(ExitCode.Failed);
    expect(await readFile(file, "utf8")).toBe(mine);
    expect(ctx.stdout.text).toContain(`--- ${file}\n+++ ${file} (exported)\n`);
    expect(ctx.stdout.text).toContain('-image = "localhost/demo:v0.9.0"\n');
    expect(ctx.stdout.text).toContain('+image = "localhost/demo:v1.0.0"\n');
    expect(ctx.stderr.text).toContain("exists and differs from the export; left it as it is");
    expect(ctx.stderr.text).toContain("pass --force");
  });

  it("--force replaces the file and shows the diff; a second export finds it up to date", async () => {
    const file = join(services, "mc-demo.toml");
    await writeFile(file, 'name = "mc-demo"\nnode = "rift"\n');
    const first = setup(exportAgent());
    expect(await run(["service", "export", "mc-demo", "--force"], first.io, first)).toBe(0);
    expect(first.ctx.stdout.text).toContain("@@ ");
    expect(first.ctx.stdout.text).toContain(`✔ wrote ${file} (replaced)\n`);
    const second = setup(exportAgent());
    expect(await run(["service", "export", "mc-demo"], second.io, second)).toBe(0);
    expect(second.ctx.stdout.text).toBe(`= ${file} is already up to date\n`);
  });

  it("--json says what was written, with the text and the diff", async () => {
    const { ctx, io, context } = setup(exportAgent(), { json: true });
    expect(await run(["service", "export", "mc-demo", "--json"], io, { context })).toBe(0);
    const out = JSON.parse(ctx.stdout.text);
    expect(out).toMatchObject({ node: "rift", service: "mc-demo", written: true, existed: false });
    expect(out.toml).toContain("[[components]]");
  });

  it("an export the definition rules reject is not written", async () => {
    const { ctx, io, context } = setup({
      ...exportAgent(),
      async exportService() {
        return {
          toml: 'name = "mc-demo"\nnode = "rift"\n[[components]]\nname = "api"\nimage = "x:latest"\n',
        };
      },
    });
    expect(await run(["service", "export", "mc-demo"], io, { context })).toBe(ExitCode.Failed);
    expect(ctx.stderr.text).toContain("is not a valid service definition");
    await expect(readFile(join(services, "mc-demo.toml"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("a service no agent knows is exit 5", async () => {
    const { io, context } = setup({
      ...exportAgent(),
      async listServices() {
        return { services: [] };
      },
    });
    expect(await run(["service", "export", "nope"], io, { context })).toBe(ExitCode.NotFound);
  });

  it("a deployed service's own file comes back as written: no header, no templates for MCP's ports", async () => {
    const source =
      '# mcq: the queue\nname = "mc-demo"\nnode = "rift"\n\n[[components]]\nname = "web"\nimage = "localhost/demo:v1.0.0"\n\n[[components.routes]]\nport = 8080\nmode = "l4"\n';
    const { io, context } = setup({
      ...exportAgent(),
      async exportService() {
        return { toml: source };
      },
      async listContainers() {
        return {
          containers: [
            container({
              service: "mc-demo",
              component: "web",
              ports: [
                create(PortMappingSchema, {
                  hostPort: 10001,
                  containerPort: 10001,
                  protocol: "tcp",
                }),
              ],
            }),
          ],
        };
      },
    });
    expect(await run(["service", "export", "mc-demo"], io, { context })).toBe(0);
    expect(await readFile(join(services, "mc-demo.toml"), "utf8")).toBe(source);
  });

  it("annotation leaves components without published ports alone", () => {
    const text = annotateExport({
      toml: 'name = "a"\nnode = "n"\n\n[[components]]\nname = "x"\nimage = "i:v1"\n',
      service: "a",
      node: "n",
      ports: new Map(),
    });
    expect(text.endsWith('[[components]]\nname = "x"\nimage = "i:v1"\n')).toBe(true);
  });
});
