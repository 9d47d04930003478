import { splitContainerName } from "@mcp/servicedef";
import { matchAdopted, observedSpecHash } from "./deploy/adopted.ts";
import { compareService } from "./deploy/drift.ts";
import type { Engine, OperationResult } from "./deploy/engine.ts";
import {
  containerSpecFor,
  LABEL_SERVICE,
  LABEL_SPEC_HASH,
  planContainers,
  routeKeys,
} from "./deploy/plan.ts";
import { diffPorts } from "./deploy/ports.ts";
import type { ImageRetention } from "./deploy/retention.ts";
import type { Emit } from "./deploy/steps.ts";
import { edgeRegistration, refuseContainersOnEdge } from "./edge.ts";
import { errorLine, isAgentError, NotFoundError, PreconditionError } from "./errors.ts";
import type { ObservedState } from "./observed.ts";
import type { Platform, RouteRegistration } from "./platform.ts";
import { type ContainerSettings, canInspect } from "./runtime/inspect.ts";
import type { ContainerInfo, ContainerRuntime, LogLine } from "./runtime/runtime.ts";
import { routeRegistrations } from "./service-routes.ts";
import {
  canonicalJson,
  containerName,
  hashOf,
  imageTag,
  isDnsLabel,
  type ServiceDef,
  serviceVersion,
} from "./spec.ts";
import type { Store, StoredService } from "./store/store.ts";

export interface AgentInfo {
  nodeName: string;
  role: "compute" | "edge";
  address: string;
  listenAddress: string;
  agentVersion: string;
  zone: string;
  listeners: Record<string, string>;
  certsDir: string;
  rootless: boolean;
}

export interface PlannedStep {
  name: string;
  component: string;
  description: string;
}

export interface FieldChange {
  component: string;
  field: string;
  kind: "added" | "removed" | "modified";
  oldValue: string;
  newValue: string;
}

export type SyncOutcome = {
  service: string;
  action: "unchanged" | "deployed" | "stopped" | "failed";
  version: string;
  message: string;
};

export interface ListedRoute extends RouteRegistration {
  service: string;
  component: string;
  routeName: string;
  /** Edge routes: the compute node the route reaches. */
  node?: string | undefined;
}

/**
 * The agent's domain functions: what the RPC handlers call. Each handler parses its
 * request, calls one of these (or one Engine operation) and renders the answer.
 */
export class Agent {
  readonly startedAt = new Date();
  #podmanVersion: string | undefined;
  /** Prunes images no kept history entry needs after each deploy that changed something. */
  imageRetention: ImageRetention | undefined;

  constructor(
    readonly store: Store,
    readonly engine: Engine,
    readonly observed: ObservedState,
    readonly runtime: ContainerRuntime,
    readonly platform: Platform,
    readonly info: AgentInfo,
  ) {}

  /** The spec must be meant for this node: deploying rift's service on svc is a mistake. */
  checkNode(def: ServiceDef): void {
    if (def.node !== this.info.nodeName) {
      throw new PreconditionError(
        `service "${def.name}" is defined for node "${def.node}", this agent is "${this.info.nodeName}"`,
      );
    }
    refuseContainersOnEdge(this.info.role, this.info.nodeName, def);
  }

  deploy(
    def: ServiceDef,
    toml: string,
    emit: Emit,
    component?: string | undefined,
  ): Promise<OperationResult> {
    this.checkNode(def);
    return this.engine.deploy(def, toml, emit, { component }).then((r) => this.#retain(r));
  }

  async #retain(r: OperationResult): Promise<OperationResult> {
    if (r.changed) await this.imageRetention?.afterDeploy();
    return r;
  }

  requireService(name: string): StoredService {
    const s = this.store.getService(name);
    if (!s) throw new NotFoundError(`service "${name}" is not defined on this node`);
    return s;
  }

  async listServices() {
    const observed = await this.observed.list();
    return this.store.listServices().map((s) => {
      const cmp = compareService(s, observed);
      return {
        name: s.name,
        active: s.active,
        version: s.version,
        components: s.components.length,
        running: cmp.components.filter((c) => c.observedState === "running").length,
        drift: cmp.drift,
      };
    });
  }

  async listContainers(filter: { service?: string | undefined; includeUnmanaged: boolean }) {
    const all = await this.observed.list();
    const containers = all.filter((c) => {
      // Leftovers of a replacement (`<name>_prev`) are the agent's own bookkeeping.
      const managed = c.labels[LABEL_SERVICE] !== undefined;
      if (filter.service !== undefined) return c.labels[LABEL_SERVICE] === filter.service;
      return managed || filter.includeUnmanaged;
    });
    return { containers, observedAt: this.observed.observedAt };
  }

  async serviceStatus(name: string) {
    const s = this.requireService(name);
    const observed = await this.observed.list();
    const cmp = compareService(s, observed);
    const ports = this.store.listPorts(name);
    return {
      service: s,
      drift: cmp.drift,
      components: cmp.components.map((c) => ({
        ...c,
        ports: Object.fromEntries(
          ports.filter((p) => p.component === c.name).map((p) => [p.route || c.name, p.hostPort]),
        ),
      })),
      events: this.store.listEvents({ service: name, limit: 10 }),
    };
  }

  /** Containers a Logs call reads: one component, or all of the service. */
  logTargets(
    service: string,
    component: string | undefined,
  ): { component: string; name: string }[] {
    const s = this.requireService(service);
    const comps = s.components.filter((c) => component === undefined || c.name === component);
    if (comps.length === 0) {
      throw new NotFoundError(`service "${service}" has no component "${component}"`);
    }
    return comps.map((c) => ({ component: c.name, name: containerName(service, c.name) }));
  }

  /** Lines of several containers, interleaved as they come; ends when all end or on abort. */
  async *logs(
    targets: { component: string; name: string }[],
    options: {
      follow: boolean;
      tail?: number | undefined;
      since?: Date | undefined;
      signal: AbortSignal;
    },
  ): AsyncGenerator<LogLine & { component: string }> {
    const iterators = targets.map((t) => ({
      component: t.component,
      it: this.runtime.logs(t.name, options)[Symbol.asyncIterator](),
    }));
    const pending = new Map<number, Promise<{ i: number; r: IteratorResult<LogLine> }>>();
    const pull = (i: number) => {
      const entry = iterators[i];
      if (entry)
        pending.set(
          i,
          entry.it.next().then((r) => ({ i, r })),
        );
    };
    iterators.forEach((_, i) => {
      pull(i);
    });
    try {
      while (pending.size > 0) {
        const { i, r } = await Promise.race(pending.values());
        if (r.done) {
          pending.delete(i);
          continue;
        }
        yield { ...r.value, component: iterators[i]?.component ?? "" };
        pull(i);
      }
    } finally {
      await Promise.all(iterators.map((x) => x.it.return?.().catch(() => undefined)));
    }
  }

  /** `mcp sync`: each definition deployed or stopped as its `active` says; failures per item. */
  async pushDefinitions(
    defs: ({ def: ServiceDef; toml: string } | { error: string; service: string })[],
    dryRun: boolean,
    emit: Emit,
    onResult: (r: SyncOutcome) => void,
  ): Promise<void> {
    // Different services deploy concurrently; each one's steps are serialized by its lock.
    await Promise.all(
      defs.map(async (item) => {
        if ("error" in item) {
          onResult({ service: item.service, action: "failed", version: "", message: item.error });
          return;
        }
        const { def, toml } = item;
        try {
          this.checkNode(def);
          if (dryRun) {
            const cur = this.store.getService(def.name);
            const same =
              cur !== undefined && cur.specHash === hashOf(def) && cur.active === def.active;
            onResult({
              service: def.name,
              action: same ? "unchanged" : def.active ? "deployed" : "stopped",
              version: cur?.version ?? "",
              message: "dry run",
            });
            return;
          }
          const r = await this.#retain(await this.engine.deploy(def, toml, emit));
          onResult({
            service: def.name,
            action: !r.changed ? "unchanged" : def.active ? "deployed" : "stopped",
            version: r.version,
            message: "",
          });
        } catch (e) {
          onResult({
            service: def.name,
            action: "failed",
            version: "",
            message: isAgentError(e) ? e.message : errorLine(e),
          });
        }
      }),
    );
  }

  async nodeInfo() {
    if (this.#podmanVersion === undefined) {
      try {
        this.#podmanVersion = await this.runtime.version();
      } catch {
        // Reported as unknown; NodeInfo must answer even when Podman is broken.
        return { ...this.info, podmanVersion: "", uptimeMs: Date.now() - this.startedAt.getTime() };
      }
    }
    return {
      ...this.info,
      podmanVersion: this.#podmanVersion,
      uptimeMs: Date.now() - this.startedAt.getTime(),
    };
  }

  /** The routes this agent registers: for its active services, and as an edge node. */
  listRoutes(): ListedRoute[] {
    const out: ListedRoute[] = [];
    for (const s of this.store.listServices()) {
      if (!s.active) continue;
      for (const r of routeRegistrations(s.spec, this.store.listPorts(s.name), this.info)) {
        out.push({ ...r, service: s.name });
      }
    }
    for (const e of this.store.listEdgeRoutes()) {
      out.push({
        ...edgeRegistration(e, this.info.certsDir),
        service: e.service,
        component: "",
        routeName: "",
        node: e.node,
      });
    }
    return out;
  }

  /** What a deploy of `def` would do; changes nothing. */
  async plan(def: ServiceDef): Promise<{ steps: PlannedStep[]; changes: FieldChange[] }> {
    const previous = this.store.getService(def.name);
    const existing = this.store.listPorts(def.name);
    const diff = diffPorts(routeKeys(def), existing);
    // Ports not yet assigned are planned as 0, which marks their containers as changing.
    const ports = [
      ...diff.keep,
      ...diff.need.map((n) => ({ hostPort: 0, service: def.name, ...n })),
    ];
    const specs = (def.components ?? []).map((c) => containerSpecFor(def.name, c, ports));
    const observed: ContainerInfo[] = await this.observed.refresh();
    // Unlabelled containers: adopted ones the deploy would keep, as the engine decides.
    const unlabelled = new Map<string, string>();
    const kept: PlannedStep[] = [];
    let keptRoutes = 0;
    for (const [i, c] of (def.components ?? []).entries()) {
      const name = containerName(def.name, c.name);
      const cur = observed.find((x) => x.name === name);
      if (!cur || cur.labels[LABEL_SPEC_HASH] !== undefined) continue;
      const stored = previous?.components.find((p) => p.name === c.name)?.specHash;
      if (stored === "" && canInspect(this.runtime)) {
        const settings = await this.runtime.inspect(name).catch(() => undefined);
        const m = settings ? matchAdopted(def.name, c, cur, settings) : undefined;
        if (!m?.ok) continue;
        unlabelled.set(name, specs[i]?.labels[LABEL_SPEC_HASH] ?? "");
        keptRoutes += m.ports.length;
        kept.push({
          name: "adopted",
          component: c.name,
          description: `keep adopted ${name}: it runs as defined`,
        });
      } else {
        const h = observedSpecHash(cur, stored);
        if (h !== undefined) unlabelled.set(name, h);
      }
    }
    const actions = planContainers(def.name, specs, observed, unlabelled);
    const steps: PlannedStep[] = [...kept];
    const need = diff.need.length - keptRoutes;
    if (need > 0) {
      steps.push({
        name: "allocate-ports",
        component: "",
        description: `assign ${need} host port(s)`,
      });
    }
    for (const a of actions) {
      const description =
        a.kind === "create"
          ? `create and start ${a.spec.name}`
          : a.kind === "replace"
            ? `replace ${a.current.name} (${a.current.image} → ${a.spec.image})${
                a.current.state === "running" && a.spec.ports.length > 0
                  ? ": the new one starts beside it on fresh ports; routes switch once it is healthy"
                  : ""
              }`
            : a.kind === "start"
              ? `start ${a.spec.name}`
              : a.kind === "remove"
                ? `remove ${a.current.name}`
                : `${a.spec.name} unchanged`;
      steps.push({
        name: a.kind === "unchanged" ? "container" : a.kind,
        component: a.component,
        description,
      });
    }
    return { steps, changes: diffDefs(previous?.spec, def) };
  }

  /**
   * Takes over running containers of a service that MCP did not deploy (bootstrap step 8):
   * each container `<service>-<component>` (split against the known services, longest
   * first, so `mc-proxy-x` is not `mc`'s) becomes a component with its image and, where the
   * runtime can inspect it, its network, bind mounts, user, restart policy, command and env;
   * `mcp service export` then gives the operator a file to complete with routes. Containers labelled for another service, and replacement leftovers, are
   * skipped with the reason.
   */
  async adopt(service: string, dryRun: boolean) {
    const containers = await this.observed.refresh();
    const known = new Set([...this.store.listServices().map((s) => s.name), service]);
    const existing = this.store.getService(service);
    const have = new Set(existing?.components.map((c) => c.name) ?? []);
    const adopted: { container: string; component: string; image: string }[] = [];
    const skipped: string[] = [];
    for (const c of containers) {
      const split = splitContainerName(c.name, known).match;
      if (split?.service !== service) continue;
      const label = c.labels[LABEL_SERVICE];
      if (label !== undefined && label !== service) {
        skipped.push(`${c.name}: labelled for service ${label}`);
      } else if (!isDnsLabel(split.component)) {
        skipped.push(`${c.name}: "${split.component}" is not a valid component name`);
      } else if (have.has(split.component)) {
        skipped.push(`${c.name}: component ${split.component} is already defined`);
      } else {
        adopted.push({ container: c.name, component: split.component, image: c.image });
      }
    }
    if (adopted.length === 0 && !existing) {
      throw new NotFoundError(`no container named ${service}-<component> to adopt`);
    }
    if (!dryRun && adopted.length > 0) {
      const settings = await Promise.all(adopted.map((a) => this.#settingsOf(a.container)));
      const base: ServiceDef = existing?.spec ?? {
        name: service,
        node: this.info.nodeName,
        active: true,
        path: service,
      };
      const def: ServiceDef = {
        ...base,
        components: [
          ...(base.components ?? []),
          ...adopted.map((a, i) => ({ ...settings[i], name: a.component, image: a.image })),
        ],
      };
      this.store.transaction(() => {
        this.store.putService({
          name: service,
          spec: def,
          sourceToml: "",
          active: existing?.active ?? true,
          version: serviceVersion(def),
          specHash: hashOf(def),
          components: [
            ...(existing?.components ?? []),
            ...adopted.map((a) => ({
              name: a.component,
              image: a.image,
              version: imageTag(a.image),
              // Not deployed by MCP: no spec hash until the first deploy replaces it.
              specHash: "",
            })),
          ],
        });
        this.store.addEvent({
          service,
          kind: "adopt",
          message: `adopted ${adopted.map((a) => a.container).join(", ")}`,
        });
      });
    }
    return { adopted, skipped };
  }

  /**
   * How a hand-started container was run, so the adopted definition can recreate it. Best
   * effort: a runtime that cannot say, or a container gone since it was listed, leaves name
   * and image, which is what adopt recorded before and what the operator completes.
   */
  async #settingsOf(container: string): Promise<ContainerSettings> {
    if (!canInspect(this.runtime)) return {};
    try {
      return await this.runtime.inspect(container);
    } catch {
      return {};
    }
  }

  history(service: string, limit?: number) {
    return this.store.listHistory(service, limit);
  }

  /** Deploy a previous version again: the given tag, or the newest successful other one. */
  async rollback(service: string, version: string | undefined, emit: Emit) {
    const target = this.rollbackTarget(service, version);
    return this.#retain(await this.engine.deploy(target.spec, target.sourceToml, emit));
  }

  /** The history entry a rollback would deploy. */
  rollbackTarget(service: string, version: string | undefined) {
    const current = this.requireService(service);
    const entries = this.store.listHistory(service).filter((h) => h.outcome === "succeeded");
    const target =
      version !== undefined
        ? entries.find((h) => h.version === version)
        : entries.find((h) => h.version !== current.version || hashOf(h.spec) !== current.specHash);
    if (!target) {
      throw new PreconditionError(
        version !== undefined
          ? `no successful deploy of ${service} ${version} in the kept history (no longer kept, or it never succeeded); see mcp history ${service}`
          : `no earlier successful deploy of ${service} in the kept history`,
      );
    }
    return target;
  }

  async close(): Promise<void> {
    this.store.close();
  }
}

/** Field-by-field differences between two definitions, for Plan. Pure. */
export function diffDefs(prev: ServiceDef | undefined, next: ServiceDef): FieldChange[] {
  const out: FieldChange[] = [];
  const text = (v: unknown) =>
    v === undefined ? "" : typeof v === "string" ? v : canonicalJson(v);
  const cmp = (component: string, field: string, a: unknown, b: unknown) => {
    const ta = text(a);
    const tb = text(b);
    if (ta === tb) return;
    out.push({
      component,
      field,
      kind: a === undefined ? "added" : b === undefined ? "removed" : "modified",
      oldValue: ta,
      newValue: tb,
    });
  };
  cmp("", "active", prev?.active, next.active);
  const before = new Map((prev?.components ?? []).map((c) => [c.name, c]));
  const after = new Map((next.components ?? []).map((c) => [c.name, c]));
  for (const [name, c] of after) {
    const p = before.get(name);
    if (!p) {
      cmp(name, "component", undefined, c.image);
      continue;
    }
    const keys = new Set([...Object.keys(p), ...Object.keys(c)]);
    for (const k of keys) {
      if (k === "name") continue;
      cmp(
        name,
        k,
        (p as unknown as Record<string, unknown>)[k],
        (c as unknown as Record<string, unknown>)[k],
      );
    }
  }
  for (const [name, p] of before) if (!after.has(name)) cmp(name, "component", p.image, undefined);
  return out;
}
