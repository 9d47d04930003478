import { createClient, createRouterTransport } from "@connectrpc/connect";
import { AgentService } from "@mcp/proto/agent/v1";
import { pino } from "pino";
import { Agent } from "../../src/agent.ts";
import { Engine } from "../../src/deploy/engine.ts";
import { HealthChecker } from "../../src/health/checker.ts";
import { ObservedState } from "../../src/observed.ts";
import type { Platform } from "../../src/platform.ts";
import type { ContainerRuntime } from "../../src/runtime/runtime.ts";
import { authInterceptor, type ValidateToken } from "../../src/server/auth.ts";
import { errorInterceptor } from "../../src/server/server.ts";
import { agentServiceImpl } from "../../src/server/service.ts";
import { openStore } from "../../src/store/sqlite.ts";
import { FakeRuntime } from "./fake-runtime.ts";

export const TOKENS: Record<string, { username: string; roles: string[] }> = {
  "admin-token": { username: "admin", roles: ["admin"] },
  "user-token": { username: "operator", roles: ["user"] },
};

export const fakeValidate: ValidateToken = async (token) => {
  const t = TOKENS[token];
  return t ? { valid: true, ...t } : { valid: false };
};

export function makeAgent(options: { runtime?: ContainerRuntime; platform?: Platform } = {}) {
  const store = openStore(":memory:");
  const runtime = options.runtime ?? new FakeRuntime();
  const observed = new ObservedState(runtime, store, 0);
  const platform = options.platform ?? {};
  const engine = new Engine({
    store,
    runtime,
    observed,
    platform,
    probe: async () => true,
    // Fake containers serve nothing: health probes pass as a working service's would.
    health: new HealthChecker({ runtime, prober: async () => ({ ok: true, message: "" }) }),
    options: {
      nodeName: "rift",
      address: "127.0.0.1",
      zone: "svc.example",
      certsDir: "/certs",
      listeners: {},
      portRange: { low: 30000, high: 30100 },
      historyKeep: 5,
      stopTimeoutSeconds: 1,
      drainMs: 0,
    },
  });
  const agent = new Agent(store, engine, observed, runtime, platform, {
    nodeName: "rift",
    role: "compute",
    address: "127.0.0.1",
    listenAddress: "127.0.0.1:0",
    agentVersion: "0.0.0-test",
    zone: "svc.example",
    listeners: {},
    certsDir: "/certs",
    rootless: true,
  });
  return { agent, store, runtime };
}

/** The real router with the real interceptors, over an in-memory transport. */
export function clientFor(
  agent: Agent,
  token: string | undefined,
  allow?: Readonly<Record<string, readonly string[]>>,
  validate: ValidateToken = fakeValidate,
) {
  const log = pino({ level: "silent" });
  const transport = createRouterTransport(
    (router) => {
      router.service(AgentService, agentServiceImpl(agent));
    },
    {
      router: { interceptors: [errorInterceptor(log), authInterceptor(validate, allow)] },
      transport: {
        interceptors: [
          (next) => (req) => {
            if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      },
    },
  );
  return createClient(AgentService, transport);
}
