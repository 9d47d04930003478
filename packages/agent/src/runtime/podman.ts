import type {
  CreateContainerOptions,
  ContainerRuntime as PodmanRuntime,
  RegistryOptions,
  RestartPolicy,
} from "@mcp/podman-client";
import { type ContainerInspector, settingsFromDetails } from "./inspect.ts";
import type {
  ContainerInfo,
  ContainerRuntime,
  CreateContainerSpec,
  LogLine,
  LogOptions,
} from "./runtime.ts";

function restartPolicy(text: string | undefined): RestartPolicy | undefined {
  if (!text) return undefined;
  const [name, retries] = text.split(":");
  if (name !== "no" && name !== "always" && name !== "on-failure" && name !== "unless-stopped") {
    return undefined;
  }
  return retries ? { name, maxRetries: Number(retries) } : { name };
}

/** `host:container[:ro]` → a mount; servicedef has already checked the shape. */
function volume(text: string) {
  const [source = "", target = source, opts = ""] = text.split(":");
  return { source, target, readOnly: opts.split(",").includes("ro") };
}

function createOptions(spec: CreateContainerSpec): CreateContainerOptions {
  const restart = restartPolicy(spec.restart);
  return {
    name: spec.name,
    image: spec.image,
    labels: spec.labels,
    env: spec.env,
    ports: spec.ports.map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol,
      ...(p.hostIp ? { hostIp: p.hostIp } : {}),
    })),
    volumes: spec.volumes.map(volume),
    ...(spec.cmd ? { cmd: spec.cmd } : {}),
    ...(spec.network ? { network: spec.network } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    ...(restart ? { restart } : {}),
    ...(spec.stopTimeout !== undefined ? { stopTimeout: spec.stopTimeout } : {}),
    // The image is pulled by its own step; creating must not reach for a registry.
    pull: "never",
  };
}

/**
 * The agent's runtime port on top of @mcp/podman-client's runtime (the real Podman client
 * or its fake): only what the engine uses, in the agent's terms.
 */
export function adaptRuntime(
  podman: PodmanRuntime,
  // Fixed options, or a function of the image (the auth file covers the image's registry).
  registry: RegistryOptions | ((image: string) => Promise<RegistryOptions>) = {},
): ContainerRuntime & ContainerInspector {
  return {
    async version() {
      return (await podman.version()).version;
    },
    async list(): Promise<ContainerInfo[]> {
      const list = await podman.listContainers({ all: true });
      return list.map((c) => ({
        id: c.id,
        name: c.name,
        image: c.image,
        state: c.state,
        status: c.status,
        exitCode: c.exitCode,
        labels: c.labels,
        ports: c.ports.map((p) => ({
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: p.protocol === "udp" ? "udp" : "tcp",
          hostIp: p.hostIp,
        })),
        createdAt: c.created ? new Date(c.created * 1000) : undefined,
        startedAt: c.startedAt ? new Date(c.startedAt * 1000) : undefined,
        health: "",
        restartCount: 0,
      }));
    },
    imageExists: (image) => podman.imageExists(image),
    async pull(image) {
      await podman.pullImage(
        image,
        typeof registry === "function" ? await registry(image) : registry,
      );
    },
    removeImage: (image) => podman.removeImage(image),
    create: (spec: CreateContainerSpec) => podman.createContainer(createOptions(spec)),
    run: (spec: CreateContainerSpec) => podman.runContainer(createOptions(spec)),
    start: (name) => podman.startContainer(name),
    stop: (name, options) =>
      podman.stopContainer(
        name,
        options?.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {},
      ),
    restart: (name, options) =>
      podman.restartContainer(
        name,
        options?.timeoutSeconds !== undefined ? { timeoutSeconds: options.timeoutSeconds } : {},
      ),
    remove: (name, options) =>
      podman.removeContainer(name, {
        force: options?.force ?? false,
        ...(options?.timeoutSeconds !== undefined
          ? { timeoutSeconds: options.timeoutSeconds }
          : {}),
      }),
    rename: (name, newName) => podman.renameContainer(name, newName),
    inspect: async (name) => settingsFromDetails(await podman.inspectContainer(name)),
    exec: (name, cmd, options) => podman.execContainer(name, cmd, { timeoutMs: options.timeoutMs }),
    async *logs(name: string, options: LogOptions): AsyncIterable<LogLine> {
      const base = {
        ...(options.tail !== undefined ? { tail: options.tail } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
      };
      if (options.follow) {
        for await (const line of podman.followLogs(name, { ...base, signal: options.signal })) {
          yield { stream: "stdout", line };
        }
        return;
      }
      for (const line of await podman.logs(name, { ...base, signal: options.signal })) {
        yield { stream: "stdout", line };
      }
    },
  };
}
