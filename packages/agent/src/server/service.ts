import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type AgentService,
  ChangeKind,
  DeployOutcome,
  EventLevel,
  HealthCheckType,
  HealthState,
  LogStream,
  NodeRole,
  RouteMode,
  type ServiceSpecSchema,
  type StepSchema,
  StepStatus,
  SyncAction,
} from "@mcp/proto/agent/v1";
import { format } from "@mcp/servicedef";
import type { Agent, SyncOutcome } from "../agent.ts";
import type { OperationResult } from "../deploy/engine.ts";
import { LABEL_COMPONENT, LABEL_SERVICE, LABEL_VERSION } from "../deploy/plan.ts";
import type { StepEvent } from "../deploy/steps.ts";
import { addEdgeRoute, removeEdgeRoute } from "../edge.ts";
import { InvalidArgumentError } from "../errors.ts";
import { EDGE_LOCK } from "../platform-check.ts";
import type { ContainerInfo } from "../runtime/runtime.ts";
import { imageTag, type ServiceDef } from "../spec.ts";
import type { StoredEvent } from "../store/store.ts";
import { checkServiceName, validateWireSpec, type WireSpec } from "../validate.ts";

type SpecInit = MessageInitShape<typeof ServiceSpecSchema>;
type StepInit = MessageInitShape<typeof StepSchema>;

const STEP_STATUS: Record<StepEvent["status"], StepStatus> = {
  started: StepStatus.STARTED,
  done: StepStatus.DONE,
  // The wire has no "unchanged": it is a skip whose message says "unchanged".
  unchanged: StepStatus.SKIPPED,
  skipped: StepStatus.SKIPPED,
  failed: StepStatus.FAILED,
  undone: StepStatus.UNDONE,
};

function stepMessage(e: StepEvent): StepInit {
  return {
    name: e.name,
    status: STEP_STATUS[e.status],
    message: e.message || (e.status === "unchanged" ? "unchanged" : ""),
    component: e.component,
    service: e.service,
    time: timestampFromDate(new Date()),
  };
}

function resultMessage(r: OperationResult) {
  return { service: r.service, version: r.version, changed: r.changed, ports: r.ports };
}

/**
 * Bridges an operation that reports through `emit` to a server stream: each step event is
 * yielded as it happens, then the operation's result. A client that goes away stops the
 * stream, not the operation: a deploy half-done is worse than one finished unobserved.
 */
async function* streamOperation<E, R, M>(
  run: (emit: (e: E) => void) => Promise<R>,
  onEvent: (e: E) => M,
  onResult: (r: R) => M | undefined,
): AsyncGenerator<M> {
  const queue: E[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let result: R | undefined;
  let error: unknown;
  let failed = false;
  run((e) => {
    queue.push(e);
    wake?.();
  }).then(
    (r) => {
      result = r;
      finished = true;
      wake?.();
    },
    (e: unknown) => {
      error = e;
      failed = true;
      finished = true;
      wake?.();
    },
  );
  for (;;) {
    while (queue.length > 0) yield onEvent(queue.shift() as E);
    if (finished) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
  if (failed) throw error;
  const last = onResult(result as R);
  if (last !== undefined) yield last;
}

/** A structured health check → the definition's `[components.health]` table (set keys only). */
function wireHealthOf(
  h: NonNullable<NonNullable<SpecInit["components"]>[number]["health"]> | undefined,
): Record<string, unknown> | undefined {
  if (!h) return undefined;
  const type = Object.entries(HEALTH_TYPE).find(([, v]) => v === h.type)?.[0];
  const out: Record<string, unknown> = {
    type,
    path: h.path,
    status: h.status,
    route: h.route,
    command: h.command && h.command.length > 0 ? [...h.command] : undefined,
    interval: h.interval,
    timeout: h.timeout,
    retries: h.retries,
    start_period: h.startPeriod,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

function wireSpecOf(spec: SpecInit | undefined): WireSpec {
  if (!spec) throw new InvalidArgumentError("spec is required");
  return {
    name: spec.name ?? "",
    node: spec.node ?? "",
    active: spec.active,
    path: spec.path,
    buildImages: { ...(spec.buildImages ?? {}) },
    components: (spec.components ?? []).map((c) => ({
      name: c.name ?? "",
      image: c.image ?? "",
      volumes: [...(c.volumes ?? [])],
      cmd: [...(c.cmd ?? [])],
      env: [...(c.env ?? [])],
      network: c.network,
      user: c.user,
      restart: c.restart,
      drain: c.drain,
      health: wireHealthOf(c.health),
      routes: (c.routes ?? []).map((r) => ({
        name: r.name,
        port: r.port ?? 0,
        mode: r.mode === RouteMode.L7 ? "l7" : r.mode === RouteMode.L4 ? "l4" : "",
        hostname: r.hostname,
      })),
    })),
    toml: spec.toml ?? "",
  };
}

const HEALTH_TYPE = {
  http: HealthCheckType.HTTP,
  tcp: HealthCheckType.TCP,
  command: HealthCheckType.COMMAND,
} as const;

/** A stored definition as a wire ServiceSpec. */
export function specMessage(def: ServiceDef, toml: string): SpecInit {
  return {
    name: def.name,
    node: def.node,
    active: def.active,
    path: def.path,
    buildImages: def.build?.images ?? {},
    toml,
    components: (def.components ?? []).map((c) => {
      const h = c.health as
        | {
            type: "http" | "tcp" | "command";
            path?: string;
            status?: number;
            command?: string[];
            interval?: string;
            timeout?: string;
            retries?: number;
            start_period?: string;
          }
        | undefined;
      return {
        name: c.name,
        image: c.image,
        volumes: c.volumes ?? [],
        cmd: c.cmd ?? [],
        env: c.env ?? [],
        network: c.network,
        user: c.user,
        restart: c.restart,
        drain: c.drain,
        routes: (c.routes ?? []).map((r) => ({
          name: r.name,
          port: r.port,
          mode: r.mode === "l7" ? RouteMode.L7 : RouteMode.L4,
          hostname: r.hostname,
        })),
        health: h
          ? {
              type: HEALTH_TYPE[h.type],
              path: h.path,
              status: h.status,
              command: h.command ?? [],
              interval: h.interval,
              timeout: h.timeout,
              retries: h.retries,
              startPeriod: h.start_period,
            }
          : undefined,
      };
    }),
  };
}

function healthState(h: string): HealthState {
  if (h === "healthy") return HealthState.HEALTHY;
  if (h === "unhealthy") return HealthState.UNHEALTHY;
  if (h === "starting") return HealthState.STARTING;
  return HealthState.NONE;
}

function containerMessage(c: ContainerInfo) {
  return {
    id: c.id,
    name: c.name,
    service: c.labels[LABEL_SERVICE] ?? "",
    component: c.labels[LABEL_COMPONENT] ?? "",
    image: c.image,
    version: c.labels[LABEL_VERSION] ?? imageTag(c.image),
    state: c.state,
    status: c.status,
    health: healthState(c.health),
    ports: c.ports.map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol,
      hostIp: p.hostIp ?? "",
    })),
    createdAt: c.createdAt ? timestampFromDate(c.createdAt) : undefined,
    startedAt: c.startedAt ? timestampFromDate(c.startedAt) : undefined,
    managed: c.labels[LABEL_SERVICE] !== undefined,
    restartCount: c.restartCount,
  };
}

const EVENT_LEVEL = {
  info: EventLevel.INFO,
  warning: EventLevel.WARNING,
  error: EventLevel.ERROR,
} as const;

function eventMessage(e: StoredEvent) {
  return {
    id: BigInt(e.id),
    time: timestampFromDate(new Date(e.time)),
    service: e.service,
    component: e.component,
    kind: e.kind,
    level: EVENT_LEVEL[e.level],
    message: e.message || (e.from || e.to ? `${e.from || "-"} → ${e.to || "-"}` : ""),
    from: e.from,
    to: e.to,
  };
}

const CHANGE_KIND = {
  added: ChangeKind.ADDED,
  removed: ChangeKind.REMOVED,
  modified: ChangeKind.MODIFIED,
} as const;

const SYNC_ACTION = {
  unchanged: SyncAction.UNCHANGED,
  deployed: SyncAction.DEPLOYED,
  stopped: SyncAction.STOPPED,
  failed: SyncAction.FAILED,
} as const;

const OUTCOME = {
  succeeded: DeployOutcome.SUCCEEDED,
  failed: DeployOutcome.FAILED,
  rolled_back: DeployOutcome.ROLLED_BACK,
} as const;

function optionalComponent(c: string | undefined): string | undefined {
  return c === undefined ? undefined : checkServiceName(c, "component");
}

/**
 * The AgentService handlers. Each parses its request, calls one domain function and renders
 * the answer; errors are mapped to Connect codes by the interceptor in server.ts.
 */
export function agentServiceImpl(agent: Agent): ServiceImpl<typeof AgentService> {
  type OpEvent = {
    event:
      | { case: "step"; value: StepInit }
      | { case: "result"; value: ReturnType<typeof resultMessage> };
  };
  const step = (e: StepEvent): OpEvent => ({ event: { case: "step", value: stepMessage(e) } });
  const result = (r: OperationResult): OpEvent => ({
    event: { case: "result", value: resultMessage(r) },
  });

  return {
    async *deploy(req) {
      const component = optionalComponent(req.component);
      const { def, toml } = validateWireSpec(wireSpecOf(req.spec));
      if (req.dryRun) {
        agent.checkNode(def);
        const plan = await agent.plan(def);
        yield {
          event: {
            case: "result" as const,
            value: {
              service: def.name,
              version: agent.store.getService(def.name)?.version ?? "",
              changed: plan.steps.some((s) => s.name !== "container") || plan.changes.length > 0,
              plan: planMessage(plan),
            },
          },
        };
        return;
      }
      yield* streamOperation((emit) => agent.deploy(def, toml, emit, component), step, result);
    },

    async *undeploy(req) {
      const service = checkServiceName(req.service);
      yield* streamOperation((emit) => agent.engine.undeploy(service, emit), step, result);
    },

    async *stop(req) {
      const service = checkServiceName(req.service);
      const component = optionalComponent(req.component);
      yield* streamOperation((emit) => agent.engine.stop(service, emit, component), step, result);
    },

    async *start(req) {
      const service = checkServiceName(req.service);
      const component = optionalComponent(req.component);
      yield* streamOperation((emit) => agent.engine.start(service, emit, component), step, result);
    },

    async *restart(req) {
      const service = checkServiceName(req.service);
      const component = optionalComponent(req.component);
      yield* streamOperation(
        (emit) => agent.engine.restart(service, emit, component),
        step,
        result,
      );
    },

    async listServices() {
      return { services: await agent.listServices() };
    },

    async listContainers(req) {
      const service = req.service === undefined ? undefined : checkServiceName(req.service);
      const r = await agent.listContainers({ service, includeUnmanaged: req.includeUnmanaged });
      return {
        containers: r.containers.map(containerMessage),
        observedAt: timestampFromDate(r.observedAt),
      };
    },

    async serviceStatus(req) {
      const st = await agent.serviceStatus(checkServiceName(req.service));
      const s = st.service;
      return {
        service: s.name,
        active: s.active,
        version: s.version,
        drift: st.drift,
        components: st.components.map((c) => ({
          name: c.name,
          desiredState: c.desiredState,
          observedState: c.observedState,
          drift: c.drift,
          driftReasons: c.reasons,
          desiredVersion: c.desiredVersion,
          observedVersion: c.observedVersion,
          health: healthState(c.container?.health ?? ""),
          containerId: c.container?.id ?? "",
          ports: c.ports,
          startedAt: c.container?.startedAt ? timestampFromDate(c.container.startedAt) : undefined,
          restartCount: c.container?.restartCount ?? 0,
        })),
        spec: specMessage(s.spec, s.sourceToml),
        recentEvents: st.events.map(eventMessage),
        deployedAt: s.deployedAt ? timestampFromDate(new Date(s.deployedAt)) : undefined,
      };
    },

    async *logs(req, ctx) {
      const service = checkServiceName(req.service);
      const targets = agent.logTargets(service, optionalComponent(req.component));
      const lines = agent.logs(targets, {
        follow: req.follow,
        tail: req.tail,
        since: req.since ? timestampDate(req.since) : undefined,
        // Client cancel aborts the podman logs processes.
        signal: ctx.signal,
      });
      for await (const l of lines) {
        yield {
          component: l.component,
          stream: l.stream === "stderr" ? LogStream.STDERR : LogStream.STDOUT,
          line: l.line,
          time: l.time ? timestampFromDate(l.time) : undefined,
        };
      }
    },

    async *pushDefinitions(req) {
      const items = req.specs.map((spec) => {
        try {
          return validateWireSpec(wireSpecOf(spec));
        } catch (e) {
          return { error: (e as Error).message, service: spec.name };
        }
      });
      const built = new Set(req.built);
      type Item = { step: StepEvent } | { sync: SyncOutcome };
      yield* streamOperation(
        (emit: (e: Item) => void) =>
          agent.pushDefinitions(
            items,
            req.dryRun,
            (step) => emit({ step }),
            (sync) => emit({ sync }),
          ),
        (e: Item) =>
          "step" in e
            ? { event: { case: "step" as const, value: stepMessage(e.step) } }
            : {
                event: {
                  case: "serviceResult" as const,
                  value: {
                    service: e.sync.service,
                    action: SYNC_ACTION[e.sync.action],
                    built: built.has(e.sync.service),
                    version: e.sync.version,
                    message: e.sync.message,
                  },
                },
              },
        () => undefined,
      );
    },

    async exportService(req) {
      const s = agent.requireService(checkServiceName(req.service));
      const toml = s.sourceToml || format(s.spec as Parameters<typeof format>[0]);
      return { spec: specMessage(s.spec, toml), toml };
    },

    async adopt(req) {
      const service = checkServiceName(req.service);
      const r = await agent.adopt(service, req.dryRun);
      return { service, adopted: r.adopted, skipped: r.skipped };
    },

    async nodeInfo() {
      const n = await agent.nodeInfo();
      return {
        name: n.nodeName,
        role: n.role === "edge" ? NodeRole.EDGE : NodeRole.COMPUTE,
        agentVersion: n.agentVersion,
        podmanVersion: n.podmanVersion,
        rootless: n.rootless,
        cgroupVersion: 0,
        uptime: durationFromMs(n.uptimeMs),
        address: n.address,
        listenAddress: n.listenAddress,
      };
    },

    async listRoutes() {
      const byListener = new Map<string, ReturnType<Agent["listRoutes"]>>();
      for (const r of agent.listRoutes()) {
        const list = byListener.get(r.listener) ?? [];
        list.push(r);
        byListener.set(r.listener, list);
      }
      return {
        listeners: [...byListener].map(([address, routes]) => ({
          address,
          routes: routes.map((r) => ({
            hostname: r.hostname,
            backend: r.backend,
            mode: r.mode === "l7" ? RouteMode.L7 : RouteMode.L4,
            service: r.service,
            component: r.component,
            routeName: r.routeName,
            tlsCert: r.tlsCert ?? "",
            node: r.node ?? "",
          })),
        })),
      };
    },

    async listEvents(req) {
      const service = req.service === undefined ? undefined : checkServiceName(req.service);
      const events = agent.store.listEvents({
        ...(service !== undefined ? { service } : {}),
        ...(req.since ? { since: timestampDate(req.since).toISOString() } : {}),
        ...(req.limit ? { limit: req.limit } : {}),
      });
      return { events: events.map(eventMessage) };
    },

    async plan(req) {
      const { def } = validateWireSpec(wireSpecOf(req.spec));
      agent.checkNode(def);
      return { plan: planMessage(await agent.plan(def)) };
    },

    async *rollback(req) {
      const service = checkServiceName(req.service);
      if (req.dryRun) {
        const target = agent.rollbackTarget(service, req.version);
        const plan = await agent.plan(target.spec);
        yield {
          event: {
            case: "result" as const,
            value: {
              service,
              version: target.version,
              changed: plan.steps.some((s) => s.name !== "container") || plan.changes.length > 0,
              plan: planMessage(plan),
            },
          },
        };
        return;
      }
      yield* streamOperation((emit) => agent.rollback(service, req.version, emit), step, result);
    },

    async history(req) {
      const service = checkServiceName(req.service);
      return {
        deployments: agent.history(service, req.limit).map((h) => ({
          id: BigInt(h.id),
          version: h.version,
          time: timestampFromDate(new Date(h.time)),
          outcome: OUTCOME[h.outcome],
          message: h.message,
          spec: specMessage(h.spec, h.sourceToml),
        })),
      };
    },

    async addEdgeRoute(req) {
      const ctx = edgeContext(agent);
      return agent.engine.lock.run(EDGE_LOCK, () =>
        addEdgeRoute(ctx, {
          port: req.port,
          hostname: req.hostname,
          backend: req.backend,
          mode: req.mode === RouteMode.L7 ? "l7" : req.mode === RouteMode.L4 ? "l4" : "",
          service: req.service,
          node: req.node,
        }),
      );
    },

    async removeEdgeRoute(req) {
      const ctx = edgeContext(agent);
      return agent.engine.lock.run(EDGE_LOCK, () =>
        removeEdgeRoute(ctx, { port: req.port, hostname: req.hostname, listener: req.listener }),
      );
    },
  };
}

function edgeContext(agent: Agent) {
  return {
    role: agent.info.role,
    nodeName: agent.info.nodeName,
    listeners: agent.info.listeners,
    certsDir: agent.info.certsDir,
    platform: agent.platform,
    store: agent.store,
  };
}

function planMessage(plan: Awaited<ReturnType<Agent["plan"]>>) {
  return {
    steps: plan.steps,
    changes: plan.changes.map((c) => ({ ...c, kind: CHANGE_KIND[c.kind] })),
  };
}
