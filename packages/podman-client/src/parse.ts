/**
 * Parsing of Podman's JSON, checked at run time. Podman's shapes drift between releases
 * (ps `Command` is a list, not a string; inspect `Config.Entrypoint` became a list in 5.0;
 * events `Time` became `time`/`timeNano` in 5.0), so each schema accepts the known variants
 * of 4.x and 5.x and anything else fails with the path of the field that did not match.
 */
import { z } from "zod";
import { PodmanOutputError } from "./errors.ts";
import type {
  ContainerDetails,
  ContainerState,
  ContainerSummary,
  ImageDetails,
  ImageSummary,
  MountInfo,
  NetworkSummary,
  PortMapping,
  PortProtocol,
  RestartPolicy,
  RuntimeEvent,
  RuntimeInfo,
  VersionInfo,
} from "./types.ts";

const str = z.string();
const num = z.number();
/** null and absent mean "none" in Podman's JSON. */
const strList = z
  .array(str)
  .nullish()
  .transform((v) => v ?? []);
const strMap = z
  .record(str, str)
  .nullish()
  .transform((v) => v ?? {});
/** A command/entrypoint: a list (4.x ps, 5.x inspect), a string (4.x inspect), or null. */
const argv = z
  .union([z.array(str), str])
  .nullish()
  .transform((v) => (v == null || v === "" ? [] : typeof v === "string" ? [v] : v));

const KNOWN_STATES = new Set<string>([
  "configured",
  "created",
  "initialized",
  "running",
  "paused",
  "stopping",
  "stopped",
  "exited",
  "removing",
]);
function toState(s: string): ContainerState {
  const l = s.toLowerCase();
  return KNOWN_STATES.has(l) ? (l as ContainerState) : "unknown";
}

function toProtocol(p: string): PortProtocol {
  return p === "udp" || p === "sctp" ? p : "tcp";
}

/** Go's zero time comes out as -62135596800 (unix) or "0001-01-01T00:00:00Z". */
function unixOrUndefined(n: number | null | undefined): number | undefined {
  return n == null || n <= 0 ? undefined : n;
}
function dateOrUndefined(s: string | null | undefined): Date | undefined {
  if (!s || s.startsWith("0001-01-01")) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const psPort = z.object({
  host_ip: str.nullish(),
  container_port: num,
  host_port: num,
  range: num.nullish(),
  protocol: str.nullish(),
});

const psEntry = z.object({
  Id: str,
  Names: strList,
  Image: str,
  ImageID: str.nullish(),
  Command: argv,
  State: str,
  Status: str.nullish(),
  Created: z.union([num, str]),
  StartedAt: num.nullish(),
  ExitedAt: num.nullish(),
  ExitCode: num.nullish(),
  Labels: strMap,
  Ports: z.array(psPort).nullish(),
  Networks: strList,
  Pod: str.nullish(),
});

const psOutput = z.array(psEntry).nullable();

function expandPorts(ports: z.infer<typeof psPort>[] | null | undefined): PortMapping[] {
  const out: PortMapping[] = [];
  for (const p of ports ?? []) {
    const range = p.range && p.range > 1 ? p.range : 1;
    for (let i = 0; i < range; i++) {
      out.push({
        hostIp: p.host_ip ?? "",
        hostPort: p.host_port + i,
        containerPort: p.container_port + i,
        protocol: toProtocol(p.protocol ?? "tcp"),
      });
    }
  }
  return out;
}

function check<T extends z.ZodType>(schema: T, data: unknown, what: string): z.output<T> {
  const r = schema.safeParse(data);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length === 0 ? "(top level)" : formatPath(issue.path);
  throw new PodmanOutputError(
    field,
    `podman ${what}: unexpected output at ${field}: ${issue.message}`,
    { cause: r.error },
  );
}

function formatPath(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) {
    if (typeof p === "number") s += `[${p}]`;
    else s += s === "" ? String(p) : `.${String(p)}`;
  }
  return s;
}

/** JSON.parse with the command named in the error. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const head = text.trim().slice(0, 80);
    throw new PodmanOutputError("(json)", `podman ${what}: output is not JSON: ${head}`, {
      cause: e,
    });
  }
}

export function parseContainerList(data: unknown): ContainerSummary[] {
  const list = check(psOutput, data, "ps") ?? [];
  return list.map((c) => ({
    id: c.Id,
    name: c.Names[0] ?? "",
    names: c.Names,
    image: c.Image,
    imageId: c.ImageID ?? "",
    command: c.Command,
    state: toState(c.State),
    status: c.Status ?? "",
    created:
      typeof c.Created === "number" ? c.Created : Math.floor(new Date(c.Created).getTime() / 1000),
    startedAt: unixOrUndefined(c.StartedAt),
    exitedAt: unixOrUndefined(c.ExitedAt),
    exitCode: c.ExitCode ?? 0,
    labels: c.Labels,
    ports: expandPorts(c.Ports),
    networks: c.Networks,
    pod: c.Pod ?? "",
  }));
}

const portBindings = z
  .record(str, z.array(z.object({ HostIp: str.nullish(), HostPort: str })).nullable())
  .nullish();

const inspectEntry = z.object({
  Id: str,
  Name: str,
  Image: str,
  ImageName: str.nullish(),
  Created: str,
  RestartCount: num.nullish(),
  State: z.object({
    Status: str,
    Running: z.boolean(),
    Pid: num.nullish(),
    ExitCode: num.nullish(),
    StartedAt: str.nullish(),
    FinishedAt: str.nullish(),
    Error: str.nullish(),
  }),
  Config: z.object({
    Cmd: argv,
    Entrypoint: argv,
    Env: strList,
    Labels: strMap,
    User: str.nullish(),
    StopTimeout: num.nullish(),
  }),
  HostConfig: z
    .object({
      RestartPolicy: z.object({ Name: str.nullish(), MaximumRetryCount: num.nullish() }).nullish(),
      Init: z.boolean().nullish(),
      PortBindings: portBindings,
    })
    .nullish(),
  NetworkSettings: z
    .object({
      Ports: portBindings,
      Networks: z.record(str, z.unknown()).nullish(),
    })
    .nullish(),
  Mounts: z
    .array(
      z.object({
        Type: str.nullish(),
        Source: str.nullish(),
        Destination: str,
        RW: z.boolean().nullish(),
      }),
    )
    .nullish(),
});

const inspectOutput = z.array(inspectEntry);

function bindingsToPorts(b: z.output<typeof portBindings>): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [key, binds] of Object.entries(b ?? {})) {
    const [port, proto] = key.split("/");
    for (const bind of binds ?? []) {
      out.push({
        hostIp: bind.HostIp ?? "",
        hostPort: Number(bind.HostPort),
        containerPort: Number(port),
        protocol: toProtocol(proto ?? "tcp"),
      });
    }
  }
  return out;
}

function restartPolicy(
  name: string | null | undefined,
  max: number | null | undefined,
): RestartPolicy {
  switch (name) {
    case "always":
    case "unless-stopped":
      return { name };
    case "on-failure":
      return max ? { name, maxRetries: max } : { name };
    default:
      return { name: "no" };
  }
}

function envMap(list: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export function parseContainerInspect(data: unknown): ContainerDetails[] {
  return check(inspectOutput, data, "container inspect").map((c) => {
    const ports = bindingsToPorts(c.NetworkSettings?.Ports);
    const mounts: MountInfo[] = (c.Mounts ?? []).map((m) => ({
      type: m.Type ?? "",
      source: m.Source ?? "",
      target: m.Destination,
      readOnly: m.RW === false,
    }));
    return {
      id: c.Id,
      name: c.Name,
      image: c.ImageName ?? c.Image,
      imageId: c.Image,
      created: new Date(c.Created),
      state: {
        status: toState(c.State.Status),
        running: c.State.Running,
        pid: c.State.Pid ?? 0,
        exitCode: c.State.ExitCode ?? 0,
        startedAt: dateOrUndefined(c.State.StartedAt),
        finishedAt: dateOrUndefined(c.State.FinishedAt),
        error: c.State.Error ?? "",
      },
      command: c.Config.Cmd,
      entrypoint: c.Config.Entrypoint,
      env: envMap(c.Config.Env),
      labels: c.Config.Labels,
      user: c.Config.User ?? "",
      stopTimeout: c.Config.StopTimeout ?? undefined,
      init: c.HostConfig?.Init ?? false,
      restartPolicy: restartPolicy(
        c.HostConfig?.RestartPolicy?.Name,
        c.HostConfig?.RestartPolicy?.MaximumRetryCount,
      ),
      restartCount: c.RestartCount ?? 0,
      // A created (never started) container has no NetworkSettings ports yet.
      ports: ports.length > 0 ? ports : bindingsToPorts(c.HostConfig?.PortBindings),
      mounts,
      networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
    };
  });
}

const imagesOutput = z
  .array(
    z.object({
      Id: str,
      Names: strList,
      RepoTags: strList,
      RepoDigests: strList,
      Digest: str.nullish(),
      Created: z.union([num, str]),
      Size: num.nullish(),
      Labels: strMap,
    }),
  )
  .nullable();

export function parseImageList(data: unknown): ImageSummary[] {
  return (check(imagesOutput, data, "images") ?? []).map((i) => ({
    id: i.Id,
    names: i.Names.length > 0 ? i.Names : i.RepoTags,
    digest: i.Digest ?? "",
    repoDigests: i.RepoDigests,
    created:
      typeof i.Created === "number" ? i.Created : Math.floor(new Date(i.Created).getTime() / 1000),
    size: i.Size ?? 0,
    labels: i.Labels,
  }));
}

const imageInspectOutput = z.array(
  z.object({
    Id: str,
    Digest: str.nullish(),
    RepoTags: strList,
    RepoDigests: strList,
    Created: str,
    Size: num.nullish(),
    Architecture: str.nullish(),
    Os: str.nullish(),
    Labels: strMap,
    Config: z.object({ Labels: strMap }).nullish(),
  }),
);

export function parseImageInspect(data: unknown): ImageDetails[] {
  return check(imageInspectOutput, data, "image inspect").map((i) => ({
    id: i.Id,
    repoTags: i.RepoTags,
    repoDigests: i.RepoDigests,
    digest: i.Digest ?? "",
    created: new Date(i.Created),
    size: i.Size ?? 0,
    architecture: i.Architecture ?? "",
    os: i.Os ?? "",
    labels: Object.keys(i.Labels).length > 0 ? i.Labels : (i.Config?.Labels ?? {}),
  }));
}

const versionPart = z.object({
  Version: str,
  APIVersion: z.union([str, num]).nullish(),
  GoVersion: str.nullish(),
  OsArch: str.nullish(),
});
const versionOutput = z.object({ Client: versionPart, Server: versionPart.nullish() });

/** The server's version when Podman talks to a remote service, else the client's. */
export function parseVersion(data: unknown): VersionInfo {
  const v = check(versionOutput, data, "version");
  const p = v.Server ?? v.Client;
  return {
    version: p.Version,
    apiVersion: p.APIVersion == null ? "" : String(p.APIVersion),
    goVersion: p.GoVersion ?? "",
    osArch: p.OsArch ?? "",
  };
}

const infoOutput = z.object({
  host: z.object({
    arch: str.nullish(),
    os: str.nullish(),
    kernel: str.nullish(),
    hostname: str.nullish(),
    cgroupVersion: str,
    cgroupManager: str.nullish(),
    networkBackend: str.nullish(),
    eventLogger: str.nullish(),
    ociRuntime: z.object({ name: str }),
    security: z.object({ rootless: z.boolean() }),
  }),
  store: z.object({
    graphDriverName: str,
    graphRoot: str.nullish(),
    runRoot: str.nullish(),
  }),
  version: z.object({ Version: str }),
});

export function parseInfo(data: unknown): RuntimeInfo {
  const i = check(infoOutput, data, "info");
  return {
    version: i.version.Version,
    rootless: i.host.security.rootless,
    ociRuntime: i.host.ociRuntime.name,
    cgroupVersion: i.host.cgroupVersion,
    cgroupManager: i.host.cgroupManager ?? "",
    networkBackend: i.host.networkBackend ?? "",
    graphDriver: i.store.graphDriverName,
    graphRoot: i.store.graphRoot ?? "",
    runRoot: i.store.runRoot ?? "",
    eventLogger: i.host.eventLogger ?? "",
    hostname: i.host.hostname ?? "",
    kernel: i.host.kernel ?? "",
    os: i.host.os ?? "",
    arch: i.host.arch ?? "",
  };
}

const networkOutput = z
  .array(
    z.object({
      name: str,
      id: str,
      driver: str,
      dns_enabled: z.boolean().nullish(),
      internal: z.boolean().nullish(),
      subnets: z.array(z.object({ subnet: str, gateway: str.nullish() })).nullish(),
      labels: strMap,
    }),
  )
  .nullable();

export function parseNetworkList(data: unknown): NetworkSummary[] {
  return (check(networkOutput, data, "network ls") ?? []).map((n) => ({
    name: n.name,
    id: n.id,
    driver: n.driver,
    dnsEnabled: n.dns_enabled ?? false,
    internal: n.internal ?? false,
    subnets: (n.subnets ?? []).map((s) => ({ subnet: s.subnet, gateway: s.gateway ?? "" })),
    labels: n.labels,
  }));
}

const eventLine = z
  .object({
    ID: str.nullish(),
    Name: str.nullish(),
    Image: str.nullish(),
    Status: str,
    Type: str,
    // 4.x: "Time" as RFC 3339; 5.x: "time" (unix seconds) and "timeNano".
    Time: str.nullish(),
    time: num.nullish(),
    timeNano: num.nullish(),
    ContainerExitCode: num.nullish(),
    Attributes: strMap,
  })
  .refine((e) => e.Time != null || e.time != null || e.timeNano != null, {
    message: "neither Time nor time/timeNano present",
    path: ["Time"],
  });

export function parseEvent(data: unknown): RuntimeEvent {
  const e = check(eventLine, data, "events");
  const time =
    e.Time != null
      ? new Date(e.Time)
      : e.timeNano != null
        ? new Date(Math.floor(e.timeNano / 1e6))
        : new Date((e.time ?? 0) * 1000);
  return {
    type: e.Type,
    action: e.Status,
    id: e.ID ?? "",
    name: e.Name ?? "",
    image: e.Image ?? "",
    time,
    exitCode: e.ContainerExitCode ?? undefined,
    attributes: e.Attributes,
  };
}
