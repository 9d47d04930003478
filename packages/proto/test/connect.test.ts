import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import {
  AgentService,
  DeployRequestSchema,
  type DeployResponse,
  RouteMode,
  StepStatus,
} from "../src/agent-v1.ts";
import { ProxyAdminService, RouteMode as ProxyRouteMode } from "../src/mcproxy-v1.ts";

const toml = `name = "web"\nnode = "rift"\n`;

describe("mcp.agent.v1 messages", () => {
  it("round-trip a spec with optional presence and the original TOML", () => {
    const req = create(DeployRequestSchema, {
      dryRun: true,
      spec: {
        name: "web",
        node: "rift",
        toml,
        components: [
          {
            name: "api",
            image: "mcr.example:8443/web:v1.0.0",
            routes: [{ name: "rest", port: 8443, mode: RouteMode.L4 }],
            health: { type: 1, path: "/healthz", retries: 3 },
          },
        ],
      },
    });
    const back = fromBinary(DeployRequestSchema, toBinary(DeployRequestSchema, req));
    expect(back.spec?.toml).toBe(toml);
    expect(back.spec?.active).toBeUndefined();
    expect(back.spec?.components[0]?.routes[0]?.mode).toBe(RouteMode.L4);
    expect(back.spec?.components[0]?.routes[0]?.hostname).toBeUndefined();
    expect(back.spec?.components[0]?.health?.retries).toBe(3);
    expect(back.component).toBeUndefined();
  });
});

describe("service descriptors with Connect v2", () => {
  it("stream deploy progress through the real router (in memory)", async () => {
    const transport = createRouterTransport(({ service }) => {
      service(AgentService, {
        async *deploy(req) {
          yield {
            event: {
              case: "step",
              value: { name: "pull", status: StepStatus.STARTED, time: timestampNow() },
            },
          };
          yield {
            event: {
              case: "result",
              value: { service: req.spec?.name ?? "", version: "v1.0.0", changed: true },
            },
          };
        },
        async nodeInfo() {
          throw new ConnectError("token lacks the admin role", Code.PermissionDenied);
        },
      });
    });
    const client = createClient(AgentService, transport);
    const events: DeployResponse[] = [];
    for await (const ev of client.deploy({ spec: { name: "web", toml } })) events.push(ev);
    expect(events.map((e) => e.event.case)).toEqual(["step", "result"]);
    await expect(client.nodeInfo({})).rejects.toMatchObject({ code: Code.PermissionDenied });
  });

  it("serve the mc-proxy admin API over gRPC on a real unix socket", async () => {
    const routes: { hostname: string; backend: string }[] = [];
    const handler = connectNodeAdapter({
      routes(router) {
        router.service(ProxyAdminService, {
          status: () => ({ version: "test" }),
          addRoute(req) {
            routes.push({ hostname: req.hostname, backend: req.backend });
            return {};
          },
          listRoutes: (req) => ({
            routes: routes.map((r) => ({ ...r, listener: req.listener, mode: ProxyRouteMode.L4 })),
          }),
        });
      },
    });
    const server = http2.createServer(handler);
    const dir = mkdtempSync(join(tmpdir(), "mcp-proto-test-"));
    const sock = join(dir, "admin.sock");
    server.listen(sock);
    await once(server, "listening");
    try {
      const transport = createGrpcTransport({
        baseUrl: "http://localhost",
        nodeOptions: { path: sock } as http2.SecureClientSessionOptions,
      });
      const client = createClient(ProxyAdminService, transport);
      expect((await client.status({})).version).toBe("test");
      await client.addRoute({
        listener: ":443",
        hostname: "web.svc.example",
        backend: "10.0.0.1:10000",
        mode: ProxyRouteMode.L4,
      });
      const list = await client.listRoutes({ listener: ":443" });
      expect(list.routes).toHaveLength(1);
      expect(list.routes[0]?.backend).toBe("10.0.0.1:10000");
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
