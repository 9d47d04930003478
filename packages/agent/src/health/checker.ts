import { observedSpecHash, parseStoredHash } from "../deploy/adopted.ts";
import { LABEL_COMPONENT, LABEL_SERVICE } from "../deploy/plan.ts";
import type { ContainerInfo, ContainerRuntime } from "../runtime/runtime.ts";
import { containerName } from "../spec.ts";
import type { PortAssignment, StoredService } from "../store/store.ts";
import {
  type HealthPolicy,
  type HealthRecord,
  type HealthStatus,
  healthPolicy,
  initialHealth,
  probeDue,
  recordProbe,
} from "./decide.ts";
import { type ProbeResult, type ProbeTarget, probeOnce } from "./probe.ts";

export type Prober = (policy: HealthPolicy, target: ProbeTarget) => Promise<ProbeResult>;

/** One container's health after a cycle, for the monitor. */
export interface ContainerHealth {
  service: string;
  component: string;
  container: string;
  id: string;
  status: HealthStatus;
  /** Why the last probe failed; "" when it passed. */
  lastError: string;
}

export interface HealthCheckerOptions {
  runtime: Pick<ContainerRuntime, "exec">;
  /** Host that reaches published ports (127.0.0.1 on the node). */
  host?: string;
  now?: () => number;
  /** Replaces the real probes (unit tests). */
  prober?: Prober;
}

/**
 * The agent's health verdicts, one record per container id (an id survives the rename at
 * the end of a replacement). The deploy engine seeds it when a new container passes its
 * check; the monitor calls `checkAll` every cycle; ObservedState reads `statusOf` so that
 * `ps` and `status` show it.
 */
export class HealthChecker {
  readonly #records = new Map<string, HealthRecord>();
  readonly #runtime: Pick<ContainerRuntime, "exec">;
  readonly #host: string;
  readonly #now: () => number;
  readonly #prober: Prober;

  constructor(o: HealthCheckerOptions) {
    this.#runtime = o.runtime;
    this.#host = o.host ?? "127.0.0.1";
    this.#now = o.now ?? Date.now;
    this.#prober = o.prober ?? ((policy, target) => probeOnce(policy, target, this.#runtime));
  }

  get host(): string {
    return this.#host;
  }

  probe(policy: HealthPolicy, target: ProbeTarget): Promise<ProbeResult> {
    return this.#prober(policy, target);
  }

  /** The verdict for a container id: "healthy", "unhealthy", "starting" or "" (none). */
  statusOf(c: Pick<ContainerInfo, "id">): HealthStatus | "" {
    return this.#records.get(c.id)?.status ?? "";
  }

  record(id: string): HealthRecord | undefined {
    return this.#records.get(id);
  }

  /** Sets a container's record (the engine, after a new container passed its check). */
  set(id: string, rec: HealthRecord): void {
    this.#records.set(id, rec);
  }

  forget(id: string): void {
    this.#records.delete(id);
  }

  /**
   * One monitor cycle's health work: `checkAll`, then the containers with the verdicts in
   * their `health` (the runtime's own, when it has one and the agent has none).
   */
  async probeContainers(
    containers: ContainerInfo[],
    services: StoredService[],
    ports: PortAssignment[],
  ): Promise<ContainerInfo[]> {
    await this.checkAll(containers, services, ports);
    return containers.map((c) => {
      const status = this.statusOf(c);
      return status && status !== c.health ? { ...c, health: status } : c;
    });
  }

  /**
   * Probes every running managed container whose component has a check and whose interval
   * has passed (the others keep their last verdict), and forgets containers that are gone.
   * Running-but-unhealthy is drift: the caller decides what to do about it. Never throws.
   */
  async checkAll(
    containers: ContainerInfo[],
    services: StoredService[],
    ports: PortAssignment[],
  ): Promise<ContainerHealth[]> {
    const live = new Set(containers.map((c) => c.id));
    for (const id of this.#records.keys()) if (!live.has(id)) this.#records.delete(id);
    const byName = new Map(services.map((s) => [s.name, s]));
    const out: ContainerHealth[] = [];
    await Promise.all(
      containers.map(async (c) => {
        const service = c.labels[LABEL_SERVICE];
        const component = c.labels[LABEL_COMPONENT];
        if (!service || !component || c.state !== "running") return;
        // A replacement's temporary container is the deploy engine's to judge, and the
        // registry's ports are not yet its ports.
        if (c.name !== containerName(service, component)) return;
        const stored = byName.get(service);
        // While a deploy is under way the store may already hold the next spec; judging the
        // running container by a check it was not made for would mark it unhealthy. So only
        // a container that is what the stored spec describes is probed; the others keep
        // their last verdict.
        const storedHash = stored?.components?.find((x) => x.name === component)?.specHash;
        if (
          storedHash !== undefined &&
          observedSpecHash(c, storedHash) !== parseStoredHash(storedHash).hash
        ) {
          const last = this.#records.get(c.id);
          if (last) out.push(healthOf(service, component, c, last));
          return;
        }
        const def = stored?.spec.components?.find((x) => x.name === component);
        const policy = def ? healthPolicy(def) : undefined;
        if (!policy) return;
        const now = this.#now();
        let rec = this.#records.get(c.id) ?? initialHealth(c.startedAt?.getTime() ?? now);
        if (probeDue(rec, now, policy)) {
          const r = await this.#prober(policy, {
            container: c.name,
            component,
            ports: ports.filter((p) => p.service === service),
            host: this.#host,
          });
          rec = recordProbe(rec, r, this.#now(), policy);
          this.#records.set(c.id, rec);
        }
        out.push(healthOf(service, component, c, rec));
      }),
    );
    return out.sort((a, b) => a.container.localeCompare(b.container));
  }
}

function healthOf(
  service: string,
  component: string,
  c: ContainerInfo,
  rec: { status: ContainerHealth["status"]; lastError: string },
): ContainerHealth {
  return {
    service,
    component,
    container: c.name,
    id: c.id,
    status: rec.status,
    lastError: rec.lastError,
  };
}
