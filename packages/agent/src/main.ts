import { chmodSync, closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Logger, pino } from "pino";
import pkg from "../package.json" with { type: "json" };
import { Agent } from "./agent.ts";
import { type AgentConfig, durationMs } from "./config.ts";
import { Engine, nextName, previousName } from "./deploy/engine.ts";
import { parseOperationKind } from "./deploy/journal.ts";
import { LABEL_COMPONENT, LABEL_SERVICE } from "./deploy/plan.ts";
import { ImageRetention, trackPulls } from "./deploy/retention.ts";
import { errorLine } from "./errors.ts";
import { IdleMemoryReducer, memoryReducer } from "./memory.ts";
import type { Monitor } from "./monitor/monitor.ts";
import { createMonitor } from "./monitor/start.ts";
import { ObservedState } from "./observed.ts";
import type { Platform } from "./platform.ts";
import { PlatformChecker } from "./platform-check.ts";
import { lazyRuntime } from "./runtime/lazy.ts";
import type { ContainerRuntime } from "./runtime/runtime.ts";
import type { ValidateToken } from "./server/auth.ts";
import { type RunningServer, startServer } from "./server/server.ts";
import { settleInterrupted } from "./settle.ts";
import { openStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";

export const AGENT_VERSION: string = pkg.version;

/** A start-up failure with a one-line message for the operator. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

export function isStartupError(e: unknown): e is StartupError {
  return e instanceof Error && e.name === "StartupError";
}

function readRequired(path: string, what: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? errorLine(e);
    throw new StartupError(`cannot read the ${what} ${path} (${key}): ${code}`, { cause: e });
  }
}

export interface AgentOverrides {
  runtime?: ContainerRuntime;
  validate?: ValidateToken;
  platform?: Platform;
  log?: Logger;
}

export interface RunningAgent {
  agent: Agent;
  server: RunningServer;
  port: number;
  log: Logger;
  /** Drift detection and alerting (`[monitor]`), started with the agent. */
  monitor: Monitor;
  close(): Promise<void>;
}

/**
 * After a crash mid-deploy: operations still "running" in the journal are closed as
 * interrupted, and a replacement caught half-way is settled — when `<name>` is missing its
 * previous container `<name>_prev` gets its name back (the old version keeps running),
 * otherwise the leftover is removed.
 */
export async function recoverInterrupted(
  store: Store,
  runtime: ContainerRuntime,
  log: Logger,
): Promise<void> {
  const open = store.unfinishedOperations();
  for (const op of open) {
    const { kind, component } = parseOperationKind(op.kind);
    const what = component === undefined ? kind : `${kind} of component ${component}`;
    store.transaction(() => {
      store.finishOperation(
        op.id,
        "failed",
        `interrupted at step ${op.step || "start"} (agent restarted)`,
      );
      store.addEvent({
        service: op.service,
        component: component ?? "",
        kind: `${kind}-interrupted`,
        level: "warning",
        message: `${what} was interrupted at step ${op.step || "start"} by an agent restart`,
      });
    });
    log.warn({ service: op.service, kind: op.kind, step: op.step }, "operation interrupted");
  }
  if (open.length === 0) return;
  const containers = await runtime.list();
  const names = new Set(containers.map((c) => c.name));
  for (const c of containers) {
    if (!c.name.endsWith("_prev")) continue;
    const name = c.name.slice(0, -"_prev".length);
    if (previousName(name) !== c.name) continue;
    try {
      if (!names.has(name)) {
        await runtime.rename(c.name, name);
        await runtime.start(name);
      } else {
        await runtime.remove(c.name, { force: true, timeoutSeconds: 0 });
      }
    } catch (e) {
      log.warn(
        { container: c.name, error: errorLine(e) },
        "could not settle an interrupted replacement",
      );
    }
  }
  // A zero-downtime replacement cut short: once the registry holds the new container's
  // ports, the switch happened and the new one is finished off; before that, it is dropped
  // and the old one (never stopped before the switch) keeps serving.
  for (const c of containers) {
    if (!c.name.endsWith("_next")) continue;
    const name = c.name.slice(0, -"_next".length);
    if (nextName(name) !== c.name) continue;
    const published = new Set(c.ports.map((p) => p.hostPort));
    const registered = store
      .listPorts(c.labels[LABEL_SERVICE] ?? "")
      .filter((p) => p.component === (c.labels[LABEL_COMPONENT] ?? ""));
    const switched = registered.length > 0 && registered.every((p) => published.has(p.hostPort));
    try {
      if (switched || !names.has(name)) {
        if (names.has(name)) await runtime.remove(name, { force: true, timeoutSeconds: 0 });
        await runtime.rename(c.name, name);
      } else {
        await runtime.remove(c.name, { force: true, timeoutSeconds: 0 });
      }
    } catch (e) {
      log.warn(
        { container: c.name, error: errorLine(e) },
        "could not settle an interrupted replacement",
      );
    }
  }
}

/** Builds the agent from its config and starts serving. */
export async function runAgent(
  config: AgentConfig,
  overrides: AgentOverrides = {},
): Promise<RunningAgent> {
  const log =
    overrides.log ??
    pino({
      level: config.log.level,
      base: { node: config.agent.node_name },
      redact: {
        paths: ["token", "authorization", "*.token", "*.authorization"],
        censor: "[redacted]",
      },
    });
  const cert = readRequired(config.server.tls_cert, "TLS certificate", "server.tls_cert");
  const key = readRequired(config.server.tls_key, "TLS key", "server.tls_key");

  let validate = overrides.validate;
  if (!validate) {
    const ca = config.mcias.ca_cert
      ? readRequired(config.mcias.ca_cert, "MCIAS CA certificate", "mcias.ca_cert")
      : undefined;
    // The MCIAS client (and undici beneath it) loads with the first authenticated call.
    let validator: Promise<import("@mcp/mcias-client").CachedValidator> | undefined;
    const load = async () => {
      const { CachedValidator, createMciasClient } = await import("@mcp/mcias-client");
      return new CachedValidator(
        createMciasClient({
          baseUrl: config.mcias.server_url,
          serviceName: config.mcias.service_name,
          ...(ca ? { ca } : {}),
          timeoutMs: durationMs(config.mcias.timeout),
        }),
        { ttlMs: durationMs(config.mcias.cache_ttl) },
      );
    };
    validate = async (token, signal) => {
      validator ??= load();
      const r = await (await validator).validate(token, { signal });
      return r.valid ? { valid: true, username: r.username, roles: r.roles } : { valid: false };
    };
  }

  const runtime =
    overrides.runtime ??
    lazyRuntime(async () => {
      const [{ PodmanClient }, { adaptRuntime }, { pullOptionsFromConfig }] = await Promise.all([
        import("@mcp/podman-client"),
        import("./runtime/podman.ts"),
        import("./registry-auth.ts"),
      ]);
      return adaptRuntime(
        new PodmanClient({
          podmanPath: config.podman.path,
          ...(config.podman.run_as ? { runAs: config.podman.run_as } : {}),
          ...(config.podman.xdg_runtime_dir
            ? { env: { ...process.env, XDG_RUNTIME_DIR: config.podman.xdg_runtime_dir } }
            : {}),
          timeoutMs: 30_000,
          longTimeoutMs: durationMs(config.podman.timeout),
        }),
        await pullOptionsFromConfig(config),
      );
    });

  let store: Store;
  try {
    if (config.database.path !== ":memory:") {
      // The registry holds definitions (env values included): owner-only. SQLite gives its
      // -wal and -shm files the database file's mode, so creating the file 0600 covers them.
      // The directory keeps the umask's mode: the registry auth file written beside the
      // database must stay reachable by the Podman user (`podman.run_as`).
      mkdirSync(dirname(config.database.path), { recursive: true });
      closeSync(openSync(config.database.path, "a", 0o600));
      chmodSync(config.database.path, 0o600);
    }
    store = openStore(config.database.path);
  } catch (e) {
    throw new StartupError(
      `cannot open the database ${config.database.path} (database.path): ${errorLine(e)}`,
      { cause: e },
    );
  }
  // The platform clients load only when one of them is configured.
  const platformConfigured =
    config.metacrypt.server_url !== "" ||
    config.mcproxy.socket !== "" ||
    config.mcns.server_url !== "";
  const platform: Platform =
    overrides.platform ??
    (platformConfigured
      ? (await import("./platform/index.ts")).createPlatform(config, {
          warn: (msg, fields) => log.warn(fields ?? {}, msg),
        })
      : {});
  // With the monitor following `podman events` (real Podman only), every container change
  // invalidates the cached list, so reads can reuse the monitor's listing for a whole interval.
  const followEvents = overrides.runtime === undefined;
  const observed = new ObservedState(
    runtime,
    store,
    followEvents ? Math.max(2000, durationMs(config.monitor.interval)) : undefined,
  );
  const engine = new Engine({
    store,
    // Pulls are noted so that history retention removes only images the agent pulled.
    runtime: trackPulls(runtime, store),
    observed,
    platform,
    options: {
      nodeName: config.agent.node_name,
      address: config.agent.address,
      zone: config.mcns.zone,
      certsDir: config.certs.dir,
      listeners: config.mcproxy.listeners,
      portRange: config.portRange,
      historyKeep: config.history.keep,
      stopTimeoutSeconds: Math.ceil(durationMs(config.podman.stop_timeout) / 1000),
      drainMs: config.deploy.drain === "" ? undefined : durationMs(config.deploy.drain),
      healthMarginMs: durationMs(config.deploy.health_margin),
    },
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
  });
  observed.healthOf = (c) => engine.health.statusOf(c);
  const agent = new Agent(store, engine, observed, runtime, platform, {
    nodeName: config.agent.node_name,
    role: config.agent.role,
    address: config.agent.address,
    listenAddress: config.server.grpc_addr,
    agentVersion: AGENT_VERSION,
    zone: config.mcns.zone,
    listeners: config.mcproxy.listeners,
    certsDir: config.certs.dir,
    rootless: config.podman.run_as !== "" || process.getuid?.() !== 0,
  });

  agent.imageRetention = new ImageRetention({
    store,
    runtime,
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
  });

  const interrupted = store.unfinishedOperations();
  try {
    await recoverInterrupted(store, runtime, log);
  } catch (e) {
    log.warn({ error: errorLine(e) }, "recovery of interrupted operations failed");
  }

  // After a burst of calls V8 keeps the memory the burst needed until told otherwise.
  const reduce = memoryReducer();
  const reducer = reduce
    ? new IdleMemoryReducer({ idleMs: 3000, reduce, afterStartMs: 2000 })
    : undefined;
  let server: RunningServer;
  try {
    server = await startServer(agent, {
      listen: config.server.grpc_addr,
      cert,
      key,
      validate,
      log,
      ...(reducer ? { onRequest: () => reducer.activity() } : {}),
    });
  } catch (e) {
    store.close();
    throw new StartupError(
      `cannot listen on ${config.server.grpc_addr} (server.grpc_addr): ${errorLine(e)}`,
      { cause: e },
    );
  }
  log.info(
    { listen: config.server.grpc_addr, port: server.port, version: AGENT_VERSION },
    "mcp-agent listening",
  );
  void settleInterrupted(interrupted, store, engine, log);
  const monitor = await createMonitor(
    config,
    {
      store,
      observed,
      engine,
      log,
      probeHealth: (containers) =>
        engine.health.probeContainers(containers, store.listServices(), store.listPorts()),
    },
    { followEvents },
  );
  // The first cycle waits a moment so that it does not compete with start-up.
  monitor.start(Math.min(durationMs(config.monitor.interval), 1000));
  const platformCheck = new PlatformChecker(
    { store, platform, lock: engine.lock, site: agent.info },
    durationMs(config.mcproxy.check_interval),
    log,
  );
  platformCheck.start(Math.min(durationMs(config.mcproxy.check_interval), 2000));
  return {
    agent,
    server,
    port: server.port,
    log,
    monitor,
    close: async () => {
      await monitor.stop();
      await platformCheck.stop();
      reducer?.stop();
      await server.close();
      store.close();
    },
  };
}
