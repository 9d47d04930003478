import type { ContainerDetails } from "@mcp/podman-client";
import type { ContainerRuntime } from "./runtime.ts";

/**
 * What a container was started with, in the terms of a service definition's component:
 * enough for `mcp service export` of an adopted container to be a definition that recreates
 * it, rather than a name and an image. Absent fields were left at Podman's defaults.
 */
export interface ContainerSettings {
  network?: string | undefined;
  volumes?: string[] | undefined;
  user?: string | undefined;
  restart?: string | undefined;
  cmd?: string[] | undefined;
  env?: string[] | undefined;
}

/** An optional ability of a runtime: reading back a container's settings. */
export interface ContainerInspector {
  inspect(name: string): Promise<ContainerSettings>;
}

export function canInspect(
  runtime: ContainerRuntime,
): runtime is ContainerRuntime & ContainerInspector {
  return typeof (runtime as Partial<ContainerInspector>).inspect === "function";
}

// Networks every rootless container gets without asking: writing them down would pin a
// Podman default into the definition.
const DEFAULT_NETWORKS = new Set(["", "podman", "slirp4netns", "pasta", "bridge", "private"]);
// Variables Podman sets in every container, and the ones the agent sets itself at deploy.
const RUNTIME_ENV = new Set(["container", "HOSTNAME", "HOME", "TERM"]);
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A component's settings from `podman container inspect`. Pure. Only bind mounts become
 * volumes (a named volume's inspect shows its storage path, not its name); the command is
 * kept as Podman reports it, which may repeat the image's default, harmlessly.
 */
export function settingsFromDetails(d: ContainerDetails): ContainerSettings {
  const out: ContainerSettings = {};
  const network = d.networks.find((n) => !DEFAULT_NETWORKS.has(n));
  if (network) out.network = network;
  const volumes = d.mounts
    .filter((m) => m.type === "bind" && m.source.startsWith("/") && m.target.startsWith("/"))
    .map((m) => `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`);
  if (volumes.length > 0) out.volumes = volumes;
  if (d.user) out.user = d.user;
  const r = d.restartPolicy;
  if (r.name && r.name !== "no") {
    out.restart = r.name === "on-failure" && r.maxRetries ? `on-failure:${r.maxRetries}` : r.name;
  }
  if (d.command.length > 0) out.cmd = [...d.command];
  const env = Object.entries(d.env)
    .filter(([k, v]) => {
      if (RUNTIME_ENV.has(k) || k === "PORT" || k.startsWith("PORT_")) return false;
      if (k === "PATH" && v === DEFAULT_PATH) return false;
      return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k);
    })
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  if (env.length > 0) out.env = env;
  return out;
}
