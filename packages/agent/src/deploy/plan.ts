import type { ContainerInfo, CreateContainerSpec } from "../runtime/runtime.ts";
import {
  type ComponentDef,
  containerName,
  hashOf,
  imageTag,
  portEnvName,
  type ServiceDef,
} from "../spec.ts";
import type { PortAssignment } from "../store/store.ts";
import type { RouteKey } from "./ports.ts";

export const LABEL_SERVICE = "mcp.service";
export const LABEL_COMPONENT = "mcp.component";
export const LABEL_VERSION = "mcp.version";
export const LABEL_SPEC_HASH = "mcp.spec-hash";

/** Every route of the service that needs a host port. */
export function routeKeys(def: ServiceDef): RouteKey[] {
  return (def.components ?? []).flatMap((c) =>
    (c.routes ?? []).map((r) => ({ component: c.name, route: r.name ?? "" })),
  );
}

/** `KEY=VALUE` strings → a record; the last of a repeated key wins, as with `podman -e`. */
function envRecord(env: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of env ?? []) {
    const eq = item.indexOf("=");
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/**
 * The container a component should run as: name, labels, `$PORT`/`$PORT_<NAME>`, published
 * ports. The spec-hash label covers everything that needs a new container when it changes,
 * so a redeploy compares one label instead of inspecting the container. Pure.
 */
export function containerSpecFor(
  service: string,
  component: ComponentDef,
  ports: PortAssignment[],
): CreateContainerSpec {
  const env = envRecord(component.env);
  const publish: CreateContainerSpec["ports"] = [];
  for (const route of component.routes ?? []) {
    const assigned = ports.find(
      (p) => p.component === component.name && p.route === (route.name ?? ""),
    );
    if (!assigned)
      throw new Error(`no host port assigned to ${component.name}/${route.name ?? ""}`);
    // The service binds $PORT inside its network namespace; publishing the same number on
    // the host keeps the two equal, which is what operators expect to see in `podman ps`.
    env[portEnvName(route)] = String(assigned.hostPort);
    publish.push({
      hostPort: assigned.hostPort,
      containerPort: assigned.hostPort,
      protocol: "tcp",
    });
  }
  const spec: CreateContainerSpec = {
    name: containerName(service, component.name),
    image: component.image,
    labels: {
      [LABEL_SERVICE]: service,
      [LABEL_COMPONENT]: component.name,
      [LABEL_VERSION]: imageTag(component.image),
    },
    env,
    ports: publish,
    volumes: component.volumes ?? [],
    cmd: component.cmd && component.cmd.length > 0 ? component.cmd : undefined,
    network: component.network,
    user: component.user,
    restart: component.restart,
  };
  spec.labels[LABEL_SPEC_HASH] = containerSpecHash(spec);
  return spec;
}

/** Hash of a container spec without its spec-hash label. */
export function containerSpecHash(spec: CreateContainerSpec): string {
  const { [LABEL_SPEC_HASH]: _ignored, ...labels } = spec.labels;
  return hashOf({ ...spec, labels });
}

export type ContainerAction =
  /** No container yet. */
  | { kind: "create"; component: string; spec: CreateContainerSpec }
  /** A container with a different spec hash runs or exists: replace it. */
  | { kind: "replace"; component: string; spec: CreateContainerSpec; current: ContainerInfo }
  /** Same spec, not running. */
  | { kind: "start"; component: string; spec: CreateContainerSpec; current: ContainerInfo }
  | { kind: "unchanged"; component: string; spec: CreateContainerSpec; current: ContainerInfo }
  /** A container of this service whose component is no longer defined. */
  | { kind: "remove"; component: string; current: ContainerInfo };

/**
 * Desired containers against what the runtime has: one action per component, plus a
 * removal for each managed container of the service that is no longer defined. Pure.
 */
export function planContainers(
  service: string,
  desired: CreateContainerSpec[],
  observed: ContainerInfo[],
  /** Container name → the hash an unlabelled (kept adopted) container stands for. */
  unlabelled: Map<string, string> = new Map(),
): ContainerAction[] {
  const byName = new Map(observed.map((c) => [c.name, c]));
  const actions: ContainerAction[] = [];
  const wanted = new Set<string>();
  for (const spec of desired) {
    const component = spec.labels[LABEL_COMPONENT] ?? "";
    wanted.add(spec.name);
    const current = byName.get(spec.name);
    if (!current) {
      actions.push({ kind: "create", component, spec });
    } else if (
      (current.labels[LABEL_SPEC_HASH] ?? unlabelled.get(current.name)) !==
      spec.labels[LABEL_SPEC_HASH]
    ) {
      actions.push({ kind: "replace", component, spec, current });
    } else if (current.state !== "running") {
      actions.push({ kind: "start", component, spec, current });
    } else {
      actions.push({ kind: "unchanged", component, spec, current });
    }
  }
  for (const c of observed) {
    if (c.labels[LABEL_SERVICE] === service && !wanted.has(c.name)) {
      actions.push({ kind: "remove", component: c.labels[LABEL_COMPONENT] ?? "", current: c });
    }
  }
  return actions;
}
