import { LABEL_COMPONENT, LABEL_SERVICE, LABEL_VERSION } from "./deploy/plan.ts";
import type { ContainerInfo, ContainerRuntime } from "./runtime/runtime.ts";
import type { Store } from "./store/store.ts";

/**
 * The agent's view of the node's containers, kept from one `podman ps` per refresh so that
 * reads (`ps`, `status`) do not each pay Podman's start-up. Writes invalidate it; a refresh
 * in flight is shared by every reader that asks meanwhile.
 */
export class ObservedState {
  #containers: ContainerInfo[] = [];
  #at = 0;
  #valid = false;
  // Bumped by every invalidate(): a list that started before a write must not be shared
  // with, or cached for, a reader that comes after it.
  #generation = 0;
  #inflight: { generation: number; promise: Promise<ContainerInfo[]> } | undefined;
  /**
   * The agent's own health verdict for a container the runtime gives none for (Podman's
   * list carries no health; the agent runs the checks itself). Read on every list, so a
   * verdict from the monitor shows without waiting for the next refresh.
   */
  healthOf: ((c: ContainerInfo) => string) | undefined;

  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly store: Store,
    private readonly maxAgeMs = 2000,
  ) {}

  get observedAt(): Date {
    return new Date(this.#at);
  }

  invalidate(): void {
    this.#valid = false;
    this.#generation++;
  }

  /** Cached list when fresh, else one refresh. */
  async list(): Promise<ContainerInfo[]> {
    if (this.#valid && Date.now() - this.#at < this.maxAgeMs) {
      return this.#withHealth(this.#containers);
    }
    return this.refresh();
  }

  #withHealth(containers: ContainerInfo[]): ContainerInfo[] {
    const of = this.healthOf;
    if (!of) return containers;
    return containers.map((c) => (c.health ? c : { ...c, health: of(c) }));
  }

  /** A fresh list from the runtime (shared with concurrent callers). */
  refresh(): Promise<ContainerInfo[]> {
    const generation = this.#generation;
    if (this.#inflight?.generation === generation) return this.#inflight.promise;
    const promise = this.runtime
      .list()
      .then((listed) => {
        const containers = this.#withHealth(listed);
        if (generation === this.#generation) {
          this.#containers = listed;
          this.#at = Date.now();
          this.#valid = true;
          this.store.replaceObserved(
            containers.map((c) => ({
              name: c.name,
              id: c.id,
              image: c.image,
              state: c.state,
              exitCode: c.exitCode ?? null,
              health: c.health,
              service: c.labels[LABEL_SERVICE] ?? "",
              component: c.labels[LABEL_COMPONENT] ?? "",
              version: c.labels[LABEL_VERSION] ?? "",
            })),
          );
        }
        return containers;
      })
      .finally(() => {
        if (this.#inflight?.promise === promise) this.#inflight = undefined;
      });
    this.#inflight = { generation, promise };
    return promise;
  }
}
