import { randomUUID } from "node:crypto";
import {
  errorLine,
  isAgentError,
  NotFoundError,
  PreconditionError,
  StepFailedError,
} from "../errors.ts";
import type { ObservedState } from "../observed.ts";
import type { Platform, RouteRegistration } from "../platform.ts";
import type { ContainerInfo, ContainerRuntime, CreateContainerSpec } from "../runtime/runtime.ts";
import { containerName, hashOf, imageTag, type ServiceDef, serviceVersion } from "../spec.ts";
import type { PortAssignment, Store, StoredService } from "../store/store.ts";
import { KeyedLock } from "./lock.ts";
import {
  type ContainerAction,
  containerSpecFor,
  LABEL_SERVICE,
  planContainers,
  routeKeys,
} from "./plan.ts";
import { allocatePorts, diffPorts, type PortProbe, probeHostPort } from "./ports.ts";
import {
  done,
  type Emit,
  NOT_CONFIGURED,
  runSteps,
  type Step,
  skipped,
  unchanged,
} from "./steps.ts";

export interface EngineOptions {
  nodeName: string;
  /** Node address used as route backend. */
  address: string;
  zone: string;
  certsDir: string;
  /** Route port → mc-proxy listener; default ":<port>". */
  listeners: Record<string, string>;
  portRange: { low: number; high: number };
  historyKeep: number;
  /** Seconds Podman waits for a container to stop before killing it. */
  stopTimeoutSeconds: number;
}

export interface EngineDeps {
  store: Store;
  runtime: ContainerRuntime;
  observed: ObservedState;
  platform: Platform;
  options: EngineOptions;
  probe?: PortProbe;
  /** Warnings that do not fail an operation (a leftover container that would not go). */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface OperationResult {
  service: string;
  version: string;
  changed: boolean;
  /** Route name (or component name for an unnamed route) → host port. */
  ports: Record<string, number>;
}

const PREV_SUFFIX = "_prev";

/** The container that keeps the previous version during a replacement. */
export function previousName(name: string): string {
  // `_` cannot occur in a service or component name, so this never collides with one.
  return `${name}${PREV_SUFFIX}`;
}

function portsRecord(ports: PortAssignment[]): Record<string, number> {
  return Object.fromEntries(ports.map((p) => [p.route || p.component, p.hostPort]));
}

/**
 * The deploy engine: deploy, stop, start, restart and undeploy as sequences of small steps
 * with compensation, serialized per service.
 */
export class Engine {
  readonly #lock = new KeyedLock();
  // Port allocation reads every assignment, probes the host, then writes: deploys of
  // different services run concurrently, so that sequence is serialized node-wide.
  readonly #portLock = new KeyedLock();
  readonly #deps: EngineDeps;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
  }

  get lock(): KeyedLock {
    return this.#lock;
  }

  // --- shared pieces --------------------------------------------------------------------

  async #journaled<T>(
    service: string,
    kind: string,
    emit: Emit,
    body: (emit: Emit, onStep: (s: Step) => void) => Promise<T>,
  ): Promise<T> {
    const { store } = this.#deps;
    const id = randomUUID();
    store.beginOperation({ id, service, kind });
    try {
      const result = await body(emit, (s) => store.updateOperation(id, s.name));
      store.finishOperation(id, "succeeded");
      return result;
    } catch (e) {
      const rolledBack = e instanceof StepFailedError;
      store.transaction(() => {
        store.finishOperation(id, rolledBack ? "rolled_back" : "failed", errorLine(e));
        store.addEvent({ service, kind: `${kind}-failed`, level: "error", message: errorLine(e) });
      });
      throw e;
    } finally {
      this.#deps.observed.invalidate();
    }
  }

  #routeRegistrations(
    def: ServiceDef,
    ports: PortAssignment[],
    certs: { certPath: string; keyPath: string } | undefined,
  ): RouteRegistration[] {
    const { options } = this.#deps;
    const out: RouteRegistration[] = [];
    for (const c of def.components ?? []) {
      for (const r of c.routes ?? []) {
        const p = ports.find((x) => x.component === c.name && x.route === (r.name ?? ""));
        if (!p) continue;
        out.push({
          listener: options.listeners[String(r.port)] ?? `:${r.port}`,
          hostname: r.hostname ?? `${def.name}.${options.zone}`,
          backend: `${options.address}:${p.hostPort}`,
          mode: r.mode,
          tlsCert: r.mode === "l7" ? certs?.certPath : undefined,
          tlsKey: r.mode === "l7" ? certs?.keyPath : undefined,
        });
      }
    }
    return out;
  }

  #certPaths(service: string) {
    const dir = this.#deps.options.certsDir;
    return { certPath: `${dir}/${service}.pem`, keyPath: `${dir}/${service}.key` };
  }

  #hasRoutes(def: ServiceDef): boolean {
    return (def.components ?? []).some((c) => (c.routes ?? []).length > 0);
  }

  #routeSteps(def: ServiceDef, ports: () => PortAssignment[]): Step[] {
    const { platform } = this.#deps;
    const hasL7 = (def.components ?? []).some((c) => (c.routes ?? []).some((r) => r.mode === "l7"));
    const steps: Step[] = [];
    const added: RouteRegistration[] = [];
    steps.push({
      name: "register-routes",
      do: async () => {
        if (!this.#hasRoutes(def)) return skipped("no routes");
        if (!platform.routes) return skipped(NOT_CONFIGURED);
        const regs = this.#routeRegistrations(
          def,
          ports(),
          hasL7 ? this.#certPaths(def.name) : undefined,
        );
        let changed = 0;
        for (const r of regs) {
          if (await platform.routes.add(r)) {
            changed++;
            added.push(r);
          }
        }
        return changed > 0 ? done(`${changed} route(s)`) : unchanged();
      },
      undo: async () => {
        for (const r of added.reverse()) await platform.routes?.remove(r.listener, r.hostname);
      },
    });
    let registered = false;
    steps.push({
      name: "register-dns",
      do: async () => {
        if (!this.#hasRoutes(def)) return skipped("no routes");
        if (!platform.dns) return skipped(NOT_CONFIGURED);
        registered = await platform.dns.register(def.name);
        return registered ? done(`${def.name}.${this.#deps.options.zone}`) : unchanged();
      },
      undo: async () => {
        if (registered) await platform.dns?.unregister(def.name);
      },
    });
    return steps;
  }

  #unrouteSteps(def: ServiceDef, ports: PortAssignment[]): Step[] {
    const { platform } = this.#deps;
    return [
      {
        name: "remove-dns",
        do: async () => {
          if (!this.#hasRoutes(def)) return skipped("no routes");
          if (!platform.dns) return skipped(NOT_CONFIGURED);
          await platform.dns.unregister(def.name);
          return done();
        },
        undo: async () => {
          await platform.dns?.register(def.name);
        },
      },
      {
        name: "remove-routes",
        do: async () => {
          if (!this.#hasRoutes(def)) return skipped("no routes");
          if (!platform.routes) return skipped(NOT_CONFIGURED);
          for (const r of this.#routeRegistrations(def, ports, undefined)) {
            await platform.routes.remove(r.listener, r.hostname);
          }
          return done();
        },
        undo: async () => {
          const regs = this.#routeRegistrations(def, ports, this.#certPaths(def.name));
          for (const r of regs) await platform.routes?.add(r);
        },
      },
    ];
  }

  /**
   * Create and start in one Podman call (`podman run -d`): each call costs Podman's start-up.
   * A run that fails at start leaves the created container behind; it is removed here so
   * that the step has nothing to undo.
   */
  async #run(spec: CreateContainerSpec): Promise<void> {
    const { runtime, options } = this.#deps;
    try {
      await runtime.run(spec);
    } catch (e) {
      await runtime
        .remove(spec.name, { force: true, timeoutSeconds: options.stopTimeoutSeconds })
        .catch(() => undefined);
      throw e;
    }
  }

  #containerStep(action: ContainerAction): Step {
    const { runtime, options } = this.#deps;
    const stopOpts = { timeoutSeconds: options.stopTimeoutSeconds };
    switch (action.kind) {
      case "create": {
        let created = false;
        return {
          name: "create",
          component: action.component,
          do: async () => {
            await this.#run(action.spec);
            created = true;
            return done(`${action.spec.name} (${imageTag(action.spec.image)})`);
          },
          undo: async () => {
            if (created)
              await runtime.remove(action.spec.name, {
                force: true,
                timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
              });
          },
        };
      }
      case "replace": {
        const name = action.spec.name;
        const prev = previousName(name);
        const wasRunning = action.current.state === "running";
        let renamed = false;
        let created = false;
        return {
          name: "replace",
          component: action.component,
          do: async () => {
            if (wasRunning) await runtime.stop(name, stopOpts);
            await runtime.rename(name, prev);
            renamed = true;
            await this.#run(action.spec);
            created = true;
            const from = imageTag(action.current.image);
            const to = imageTag(action.spec.image);
            return done(from === to ? `${name} (${to}, new spec)` : `${name} ${from} → ${to}`);
          },
          undo: async () => {
            if (created)
              await runtime.remove(name, {
                force: true,
                timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
              });
            if (renamed) await runtime.rename(prev, name);
            if (wasRunning) await runtime.start(name);
          },
        };
      }
      case "start": {
        let started = false;
        return {
          name: "start",
          component: action.component,
          do: async () => {
            await runtime.start(action.spec.name);
            started = true;
            return done(action.spec.name);
          },
          undo: async () => {
            if (started) await runtime.stop(action.spec.name, stopOpts);
          },
        };
      }
      case "unchanged":
        return {
          name: "container",
          component: action.component,
          do: async () => unchanged(`${action.spec.name} unchanged`),
        };
      case "remove":
        // Removal of a component that left the definition happens after success (cleanup).
        return {
          name: "container",
          component: action.component,
          do: async () => skipped("removed after the deploy succeeds"),
        };
    }
  }

  async #cleanup(service: string, names: string[], emit: Emit): Promise<void> {
    const { runtime } = this.#deps;
    for (const name of names) {
      try {
        await runtime.remove(name, {
          force: true,
          timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
        });
        emit({
          name: "cleanup",
          component: "",
          service,
          status: "done",
          message: `removed ${name}`,
        });
      } catch (e) {
        this.#deps.warn?.("cleanup failed", { service, container: name, error: errorLine(e) });
        emit({
          name: "cleanup",
          component: "",
          service,
          status: "skipped",
          message: `could not remove ${name}: ${errorLine(e)}`,
        });
      }
    }
  }

  #requireService(name: string): StoredService {
    const s = this.#deps.store.getService(name);
    if (!s) throw new NotFoundError(`service "${name}" is not defined on this node`);
    return s;
  }

  // --- operations -----------------------------------------------------------------------

  /**
   * Deploy (or redeploy) a validated definition. Deploying the same definition twice
   * changes nothing the second time: every step reports "unchanged".
   */
  deploy(
    def: ServiceDef,
    sourceToml: string,
    emit: Emit,
    only?: { component?: string | undefined },
  ): Promise<OperationResult> {
    const component = only?.component;
    if (component !== undefined && !(def.components ?? []).some((c) => c.name === component)) {
      return Promise.reject(
        new NotFoundError(`service "${def.name}" has no component "${component}"`),
      );
    }
    // With `component`, only that component's image and container are touched; the others
    // keep running as they are (and show drift until they are deployed too).
    const touched = (name: string) => component === undefined || name === component;
    return this.#lock.run(def.name, () =>
      this.#journaled(def.name, "deploy", emit, async (emit, onStep) => {
        if (!def.active) {
          // An inactive definition is stored and its containers stopped (sync semantics).
          return this.#storeAndStop(def, sourceToml, emit, onStep);
        }
        const { store, runtime, observed, platform, options } = this.#deps;
        const previous = store.getService(def.name);
        const existingPorts = store.listPorts(def.name);
        const portDiff = diffPorts(routeKeys(def), existingPorts);
        let newPorts: PortAssignment[] = [];
        const ports = () => [...portDiff.keep, ...newPorts];
        const steps: Step[] = [];

        steps.push({
          name: "allocate-ports",
          do: async () => {
            if (portDiff.need.length === 0) {
              return routeKeys(def).length === 0 ? skipped("no routes") : unchanged();
            }
            await this.#portLock.run("ports", async () => {
              const taken = new Set(store.listPorts().map((p) => p.hostPort));
              newPorts = await allocatePorts(
                portDiff.need,
                def.name,
                options.portRange,
                taken,
                this.#deps.probe ?? probeHostPort,
              );
              store.assignPorts(newPorts);
            });
            return done(newPorts.map((p) => `${p.route || p.component}=${p.hostPort}`).join(" "));
          },
          undo: async () => {
            store.releasePorts(def.name, [...portDiff.keep, ...portDiff.release]);
            newPorts = [];
          },
        });

        // Container specs depend on the ports, so they are built lazily after allocation.
        let specs: CreateContainerSpec[] = [];
        const images = [
          ...new Set((def.components ?? []).filter((c) => touched(c.name)).map((c) => c.image)),
        ];
        const present = new Set<string>();
        let actions: ContainerAction[] = [];
        const specHash = hashOf(def);
        steps.push({
          name: "store-spec",
          do: async () => {
            specs = (def.components ?? []).map((c) => containerSpecFor(def.name, c, ports()));
            // Podman's list and the image checks of images the previous definition did
            // not use run together: each is one Podman start-up (65-90 ms).
            const known = new Set(previous?.components.map((c) => c.image) ?? []);
            const [current] = await Promise.all([
              observed.refresh(),
              ...images
                .filter((image) => !known.has(image))
                .map(async (image) => {
                  if (await runtime.imageExists(image)) present.add(image);
                }),
            ]);
            actions = planContainers(def.name, specs, current);
            const componentsSame =
              previous !== undefined &&
              previous.components.length === specs.length &&
              specs.every((s, i) => previous.components[i]?.specHash === s.labels["mcp.spec-hash"]);
            if (
              previous &&
              previous.specHash === specHash &&
              previous.active &&
              previous.sourceToml === sourceToml &&
              componentsSame
            ) {
              return unchanged();
            }
            store.putService({
              name: def.name,
              spec: def,
              sourceToml,
              active: true,
              version: serviceVersion(def),
              specHash,
              components: (def.components ?? []).map((c, i) => ({
                name: c.name,
                image: c.image,
                version: imageTag(c.image),
                specHash: specs[i]?.labels["mcp.spec-hash"] ?? "",
              })),
            });
            return done(previous ? "updated" : "new service");
          },
          undo: async () => {
            if (previous) {
              store.putService(previous);
              store.setActive(previous.name, previous.active);
            } else {
              store.deleteService(def.name);
            }
          },
        });

        const hasL7 = (def.components ?? []).some((c) =>
          (c.routes ?? []).some((r) => r.mode === "l7"),
        );
        steps.push({
          name: "certificate",
          do: async () => {
            if (!hasL7) return skipped("no L7 routes");
            if (!platform.certificates) return skipped(NOT_CONFIGURED);
            const hostnames = [
              ...new Set(
                (def.components ?? []).flatMap((c) =>
                  (c.routes ?? [])
                    .filter((r) => r.mode === "l7")
                    .map((r) => r.hostname ?? `${def.name}.${options.zone}`),
                ),
              ),
            ];
            const r = await platform.certificates.ensure(def.name, hostnames);
            return r.issued ? done(`issued ${r.certPath}`) : unchanged("valid certificate reused");
          },
        });

        // One pull step per distinct image; an image in use by an unchanged running
        // container is there by definition, which keeps a no-op redeploy to one `podman ps`.
        for (const image of images) {
          steps.push({
            name: "pull",
            component: (def.components ?? []).find((c) => c.image === image)?.name ?? "",
            do: async () => {
              const inUse = actions.some(
                (a) => a.kind !== "remove" && a.kind !== "create" && a.current.image === image,
              );
              if (inUse || present.has(image) || (await runtime.imageExists(image))) {
                return unchanged(`${image} present`);
              }
              await runtime.pull(image);
              return done(image);
            },
          });
        }

        // Container steps depend on the plan made in store-spec; a step object per
        // component is created now and looks its action up when it runs.
        for (const c of (def.components ?? []).filter((x) => touched(x.name))) {
          let inner: Step | undefined;
          steps.push({
            name: "container",
            component: c.name,
            do: async () => {
              const action = actions.find((a) => a.kind !== "remove" && a.component === c.name);
              if (!action) throw new Error(`no plan for component ${c.name}`);
              inner = this.#containerStep(action);
              return inner.do();
            },
            undo: async () => {
              await inner?.undo?.();
            },
          });
        }

        steps.push(...this.#routeSteps(def, ports));

        const result = await runSteps(def.name, steps, emit, onStep);

        // Cleanup after success: previous containers of replaced components, containers of
        // components no longer defined, and ports of routes that are gone.
        const leftovers = [
          ...actions
            .filter((a) => a.kind === "replace" && touched(a.component))
            .map((a) => (a.kind === "replace" ? previousName(a.spec.name) : "")),
          ...(component === undefined
            ? actions.filter((a) => a.kind === "remove").map((a) => a.current.name)
            : []),
        ];
        await this.#cleanup(def.name, leftovers, emit);
        const changed = result.changed || leftovers.length > 0 || portDiff.release.length > 0;
        store.transaction(() => {
          if (portDiff.release.length > 0) store.releasePorts(def.name, ports());
          if (changed) {
            store.markDeployed(def.name);
            store.addHistory(
              {
                service: def.name,
                version: serviceVersion(def),
                spec: def,
                sourceToml,
                outcome: "succeeded",
                message: "",
              },
              options.historyKeep,
            );
            store.addEvent({
              service: def.name,
              kind: "deploy",
              from: previous?.version ?? "",
              to: serviceVersion(def),
              message: `deployed ${serviceVersion(def)}`,
            });
          }
        });
        return {
          service: def.name,
          version: serviceVersion(def),
          changed,
          ports: portsRecord(ports()),
        };
      }).catch((e: unknown) => {
        if (e instanceof StepFailedError) {
          this.#deps.store.addHistory(
            {
              service: def.name,
              version: serviceVersion(def),
              spec: def,
              sourceToml,
              outcome: "rolled_back",
              message: e.message,
            },
            this.#deps.options.historyKeep,
          );
        }
        throw e;
      }),
    );
  }

  async #storeAndStop(
    def: ServiceDef,
    sourceToml: string,
    emit: Emit,
    onStep: (s: Step) => void,
  ): Promise<OperationResult> {
    const { store } = this.#deps;
    const previous = store.getService(def.name);
    const specHash = hashOf(def);
    const storeStep: Step = {
      name: "store-spec",
      do: async () => {
        if (previous && previous.specHash === specHash && !previous.active) return unchanged();
        const ports = store.listPorts(def.name);
        store.putService({
          name: def.name,
          spec: def,
          sourceToml,
          active: false,
          version: serviceVersion(def),
          specHash,
          components: (def.components ?? []).map((c) => {
            let hash = "";
            try {
              hash = containerSpecFor(def.name, c, ports).labels["mcp.spec-hash"] ?? "";
            } catch {
              // No ports yet: the service was never deployed; the hash is set on deploy.
            }
            return { name: c.name, image: c.image, version: imageTag(c.image), specHash: hash };
          }),
        });
        return done("inactive");
      },
      undo: async () => {
        if (previous) store.putService(previous);
        else store.deleteService(def.name);
      },
    };
    const containers = await this.#deps.observed.refresh();
    const steps = [
      storeStep,
      ...this.#unrouteSteps(def, store.listPorts(def.name)),
      ...this.#stopSteps(def, containers),
    ];
    const r = await runSteps(def.name, steps, emit, onStep);
    if (r.changed) store.addEvent({ service: def.name, kind: "stop", to: "stopped" });
    return { service: def.name, version: "", changed: r.changed, ports: {} };
  }

  #stopSteps(def: ServiceDef, containers: ContainerInfo[], component?: string): Step[] {
    const { runtime, options } = this.#deps;
    const byName = new Map(containers.map((c) => [c.name, c]));
    return (def.components ?? [])
      .filter((c) => component === undefined || c.name === component)
      .map((c): Step => {
        const name = containerName(def.name, c.name);
        return {
          name: "stop",
          component: c.name,
          do: async () => {
            const cur = byName.get(name);
            if (!cur) return skipped(`${name} does not exist`);
            if (cur.state !== "running") return unchanged(`${name} not running`);
            await runtime.stop(name, { timeoutSeconds: options.stopTimeoutSeconds });
            return done(name);
          },
          undo: () => runtime.start(name),
        };
      });
  }

  #checkComponent(s: StoredService, component: string | undefined): void {
    if (component !== undefined && !s.components.some((c) => c.name === component)) {
      throw new NotFoundError(`service "${s.name}" has no component "${component}"`);
    }
  }

  /** Remove DNS, then routes, then stop the containers; the service stays defined, inactive. */
  stop(service: string, emit: Emit, component?: string): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, "stop", emit, async (emit, onStep) => {
        const { store, observed } = this.#deps;
        const s = this.#requireService(service);
        this.#checkComponent(s, component);
        const containers = await observed.refresh();
        // Stopping one component leaves the service's routes alone.
        const steps = [
          ...(component === undefined ? this.#unrouteSteps(s.spec, store.listPorts(service)) : []),
          ...this.#stopSteps(s.spec, containers, component),
        ];
        const r = await runSteps(service, steps, emit, onStep);
        store.transaction(() => {
          if (component === undefined) store.setActive(service, false);
          if (r.changed) {
            store.addEvent({ service, component: component ?? "", kind: "stop", to: "stopped" });
          }
        });
        return {
          service,
          version: s.version,
          changed: r.changed,
          ports: portsRecord(store.listPorts(service)),
        };
      }),
    );
  }

  /** Start stopped containers in place, then register routes and DNS again. */
  start(service: string, emit: Emit, component?: string): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, "start", emit, async (emit, onStep) => {
        const { store, observed, runtime, options } = this.#deps;
        const s = this.#requireService(service);
        this.#checkComponent(s, component);
        const byName = new Map((await observed.refresh()).map((c) => [c.name, c]));
        const steps: Step[] =
          s.spec.components
            ?.filter((c) => component === undefined || c.name === component)
            .map((c): Step => {
              const name = containerName(service, c.name);
              return {
                name: "start",
                component: c.name,
                do: async () => {
                  const cur = byName.get(name);
                  if (!cur) {
                    throw new PreconditionError(
                      `${name} does not exist; run mcp deploy ${service}`,
                    );
                  }
                  if (cur.state === "running") return unchanged(`${name} already running`);
                  await runtime.start(name);
                  return done(name);
                },
                undo: () => runtime.stop(name, { timeoutSeconds: options.stopTimeoutSeconds }),
              };
            }) ?? [];
        if (component === undefined) {
          const ports = store.listPorts(service);
          steps.push(...this.#routeSteps(s.spec, () => ports));
        }
        const r = await runSteps(service, steps, emit, onStep);
        store.transaction(() => {
          if (component === undefined) store.setActive(service, true);
          if (r.changed) {
            store.addEvent({ service, component: component ?? "", kind: "start", to: "running" });
          }
        });
        return {
          service,
          version: s.version,
          changed: r.changed,
          ports: portsRecord(store.listPorts(service)),
        };
      }),
    );
  }

  /** Restart containers in place. */
  restart(service: string, emit: Emit, component?: string): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, "restart", emit, async (emit, onStep) => {
        const { store, observed, runtime } = this.#deps;
        const s = this.#requireService(service);
        this.#checkComponent(s, component);
        const byName = new Map((await observed.refresh()).map((c) => [c.name, c]));
        const steps = (s.spec.components ?? [])
          .filter((c) => component === undefined || c.name === component)
          .map((c): Step => {
            const name = containerName(service, c.name);
            return {
              name: "restart",
              component: c.name,
              do: async () => {
                if (!byName.has(name)) {
                  throw new PreconditionError(`${name} does not exist; run mcp deploy ${service}`);
                }
                await runtime.restart(name);
                return done(name);
              },
            };
          });
        const r = await runSteps(service, steps, emit, onStep);
        store.addEvent({ service, component: component ?? "", kind: "restart" });
        return {
          service,
          version: s.version,
          changed: r.changed,
          ports: portsRecord(store.listPorts(service)),
        };
      }),
    );
  }

  /** Full teardown: DNS, routes, containers, certificate and port assignments. */
  undeploy(service: string, emit: Emit): Promise<OperationResult> {
    return this.#lock.run(service, () =>
      this.#journaled(service, "undeploy", emit, async (emit, onStep) => {
        const { store, observed, runtime, platform } = this.#deps;
        const s = store.getService(service);
        const containers = await observed.refresh();
        const own = containers.filter(
          (c) =>
            c.labels[LABEL_SERVICE] === service ||
            (s?.components.some((x) => containerName(service, x.name) === c.name) ?? false),
        );
        if (!s && own.length === 0) {
          throw new NotFoundError(`service "${service}" is not defined on this node`);
        }
        const def: ServiceDef = s?.spec ?? {
          name: service,
          node: "",
          active: false,
          path: service,
        };
        const steps: Step[] = [
          ...this.#unrouteSteps(def, store.listPorts(service)),
          ...own.map(
            (c): Step => ({
              name: "remove",
              component: c.labels["mcp.component"] ?? "",
              do: async () => {
                await runtime.remove(c.name, {
                  force: true,
                  timeoutSeconds: this.#deps.options.stopTimeoutSeconds,
                });
                return done(c.name);
              },
            }),
          ),
          {
            name: "remove-certificate",
            do: async () => {
              const hasL7 = (def.components ?? []).some((c) =>
                (c.routes ?? []).some((r) => r.mode === "l7"),
              );
              if (!hasL7) return skipped("no L7 routes");
              if (!platform.certificates) return skipped(NOT_CONFIGURED);
              await platform.certificates.remove(service);
              return done();
            },
          },
          {
            name: "release-ports",
            do: async () => {
              const n = store.listPorts(service).length;
              store.transaction(() => {
                store.deleteService(service);
                store.addEvent({ service, kind: "undeploy", to: "removed" });
              });
              return n > 0 ? done(`${n} port(s)`) : done("service removed");
            },
          },
        ];
        await runSteps(service, steps, emit, onStep);
        return { service, version: "", changed: true, ports: {} };
      }),
    );
  }

  /** Deploys of different services run concurrently; used by sync. */
  isBusy(service: string): boolean {
    return this.#lock.isLocked(service);
  }
}

export function isNotFound(e: unknown): boolean {
  return isAgentError(e) && e.kind === "not-found";
}
