/**
 * Pure functions from options to Podman argument arrays. No I/O: every flag is unit-tested.
 * Values are passed as separate arguments (never interpolated into a shell string), and
 * bad values are refused here with a message naming the option, before Podman runs.
 */
import { InvalidOptionError } from "./errors.ts";
import type {
  BuildOptions,
  CreateContainerOptions,
  CreateNetworkOptions,
  EventsOptions,
  ListContainersOptions,
  LogsOptions,
  RegistryOptions,
  RestartPolicy,
} from "./types.ts";

function fail(message: string): never {
  throw new InvalidOptionError(message);
}

function checkPort(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    fail(`${what} must be an integer from 1 to 65535, got ${value}`);
  }
}

function checkNonEmpty(value: string, what: string): void {
  if (typeof value !== "string" || value === "") fail(`${what} must be a non-empty string`);
  // A value starting with "-" would be read by Podman as a flag.
  if (value.startsWith("-")) fail(`${what} must not start with "-": ${value}`);
}

function checkSeconds(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) {
    fail(`${what} must be a whole number of seconds >= 0, got ${value}`);
  }
}

function envKey(key: string, what: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) fail(`${what}: invalid variable name "${key}"`);
}

function labelKey(key: string, what: string): void {
  if (key === "" || key.includes("=")) fail(`${what}: invalid label name "${key}"`);
}

export function restartArg(policy: RestartPolicy): string {
  if (policy.name === "on-failure" && policy.maxRetries !== undefined) {
    checkSeconds(policy.maxRetries, "restart.maxRetries");
    return policy.maxRetries > 0 ? `on-failure:${policy.maxRetries}` : "on-failure";
  }
  if (!["no", "always", "on-failure", "unless-stopped"].includes(policy.name)) {
    fail(`restart.name must be no, always, on-failure or unless-stopped, got "${policy.name}"`);
  }
  return policy.name;
}

/** Timestamps as Podman takes them: RFC 3339 for a Date, a string passed through. */
function timeArg(value: Date | string, what: string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) fail(`${what} is an invalid date`);
    return value.toISOString();
  }
  checkNonEmpty(value, what);
  return value;
}

/** `podman create` arguments (run = the same with `run -d`). */
export function createContainerArgs(o: CreateContainerOptions, run = false): string[] {
  checkNonEmpty(o.name, "name");
  checkNonEmpty(o.image, "image");
  const a: string[] = run ? ["run", "-d"] : ["create"];
  a.push("--name", o.name);
  if (o.pull !== undefined) a.push(`--pull=${o.pull}`);
  for (const [k, v] of Object.entries(o.env ?? {})) {
    envKey(k, "env");
    a.push("--env", `${k}=${v}`);
  }
  for (const p of o.ports ?? []) {
    checkPort(p.hostPort, "ports[].hostPort");
    checkPort(p.containerPort, "ports[].containerPort");
    const proto = p.protocol && p.protocol !== "tcp" ? `/${p.protocol}` : "";
    const ip = p.hostIp ? `${p.hostIp.includes(":") ? `[${p.hostIp}]` : p.hostIp}:` : "";
    a.push("--publish", `${ip}${p.hostPort}:${p.containerPort}${proto}`);
  }
  for (const v of o.volumes ?? []) {
    checkNonEmpty(v.source, "volumes[].source");
    if (!v.target.startsWith("/")) fail(`volumes[].target must be an absolute path: ${v.target}`);
    if (v.source.includes(":") || v.target.includes(":")) {
      fail(`volumes[]: paths must not contain ":": ${v.source}:${v.target}`);
    }
    a.push("--volume", `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`);
  }
  if (o.network !== undefined) {
    checkNonEmpty(o.network, "network");
    a.push("--network", o.network);
  }
  for (const alias of o.networkAliases ?? []) {
    checkNonEmpty(alias, "networkAliases[]");
    a.push("--network-alias", alias);
  }
  if (o.user !== undefined) {
    checkNonEmpty(o.user, "user");
    a.push("--user", o.user);
  }
  if (o.restart !== undefined) a.push("--restart", restartArg(o.restart));
  for (const [k, v] of Object.entries(o.labels ?? {})) {
    labelKey(k, "labels");
    a.push("--label", `${k}=${v}`);
  }
  if (o.stopTimeout !== undefined) {
    checkSeconds(o.stopTimeout, "stopTimeout");
    a.push("--stop-timeout", String(o.stopTimeout));
  }
  if (o.init) a.push("--init");
  if (o.workdir !== undefined) {
    if (!o.workdir.startsWith("/")) fail(`workdir must be an absolute path: ${o.workdir}`);
    a.push("--workdir", o.workdir);
  }
  if (o.hostname !== undefined) {
    checkNonEmpty(o.hostname, "hostname");
    a.push("--hostname", o.hostname);
  }
  for (const u of o.ulimits ?? []) {
    checkNonEmpty(u, "ulimits[]");
    a.push("--ulimit", u);
  }
  if (o.entrypoint !== undefined) {
    // A JSON array is how Podman takes an entrypoint with arguments.
    a.push(
      "--entrypoint",
      typeof o.entrypoint === "string" ? o.entrypoint : JSON.stringify(o.entrypoint),
    );
  }
  a.push(...(o.extraArgs ?? []));
  // "--" is not accepted between image and command by podman 4; the image is the first
  // positional argument, and everything after it belongs to the container's command.
  a.push(o.image, ...(o.cmd ?? []));
  return a;
}

export function listContainersArgs(o: ListContainersOptions = {}): string[] {
  const a = ["ps", "--format", "json", "--no-trunc"];
  if (o.all ?? true) a.push("--all");
  for (const [k, v] of Object.entries(o.labels ?? {})) {
    labelKey(k, "labels");
    a.push("--filter", v === undefined ? `label=${k}` : `label=${k}=${v}`);
  }
  if (o.name !== undefined) {
    checkNonEmpty(o.name, "name");
    a.push("--filter", `name=${o.name}`);
  }
  return a;
}

export function logsArgs(nameOrId: string, o: LogsOptions = {}, follow = false): string[] {
  checkNonEmpty(nameOrId, "container");
  const a = ["logs"];
  if (follow) a.push("--follow");
  if (o.tail !== undefined) {
    if (!Number.isInteger(o.tail) || o.tail < 0)
      fail(`tail must be an integer >= 0, got ${o.tail}`);
    a.push("--tail", String(o.tail));
  }
  if (o.since !== undefined) a.push("--since", timeArg(o.since, "since"));
  if (o.timestamps) a.push("--timestamps");
  a.push(nameOrId);
  return a;
}

function registryArgs(o: RegistryOptions): string[] {
  const a: string[] = [];
  if (o.authFile !== undefined) {
    checkNonEmpty(o.authFile, "authFile");
    a.push("--authfile", o.authFile);
  }
  if (o.tlsVerify !== undefined) a.push(`--tls-verify=${o.tlsVerify}`);
  if (o.certDir !== undefined) {
    checkNonEmpty(o.certDir, "certDir");
    a.push("--cert-dir", o.certDir);
  }
  return a;
}

export function pullArgs(ref: string, o: RegistryOptions = {}): string[] {
  checkNonEmpty(ref, "image");
  return ["pull", "--quiet", ...registryArgs(o), ref];
}

export function pushArgs(
  ref: string,
  o: RegistryOptions & { destination?: string } = {},
): string[] {
  checkNonEmpty(ref, "image");
  const a = ["push", "--quiet", ...registryArgs(o), ref];
  if (o.destination !== undefined) {
    checkNonEmpty(o.destination, "destination");
    a.push(o.destination);
  }
  return a;
}

export function buildArgs(o: BuildOptions): string[] {
  checkNonEmpty(o.context, "context");
  if (o.tags.length === 0) fail("tags: at least one tag is required");
  const a = ["build"];
  if (o.file !== undefined) {
    checkNonEmpty(o.file, "file");
    a.push("--file", o.file);
  }
  for (const t of o.tags) {
    checkNonEmpty(t, "tags[]");
    a.push("--tag", t);
  }
  for (const [k, v] of Object.entries(o.buildArgs ?? {})) {
    envKey(k, "buildArgs");
    a.push("--build-arg", `${k}=${v}`);
  }
  for (const [k, v] of Object.entries(o.labels ?? {})) {
    labelKey(k, "labels");
    a.push("--label", `${k}=${v}`);
  }
  if (o.pull !== undefined) a.push(`--pull=${o.pull}`);
  if (o.noCache) a.push("--no-cache");
  a.push(o.context);
  return a;
}

export function createNetworkArgs(name: string, o: CreateNetworkOptions = {}): string[] {
  checkNonEmpty(name, "network name");
  const a = ["network", "create"];
  // Podman 4 enables DNS by default only with netavark; say it explicitly.
  if (o.dns ?? true) a.push("--disable-dns=false");
  else a.push("--disable-dns");
  for (const [k, v] of Object.entries(o.labels ?? {})) {
    labelKey(k, "labels");
    a.push("--label", `${k}=${v}`);
  }
  if (o.internal) a.push("--internal");
  if (o.subnet !== undefined) {
    checkNonEmpty(o.subnet, "subnet");
    a.push("--subnet", o.subnet);
  }
  a.push(name);
  return a;
}

export function eventsArgs(o: Omit<EventsOptions, "signal"> = {}): string[] {
  const a = ["events", "--format", "json"];
  for (const [k, values] of Object.entries(o.filters ?? {})) {
    for (const v of values) {
      checkNonEmpty(v, `filters.${k}`);
      a.push("--filter", `${k}=${v}`);
    }
  }
  if (o.since !== undefined) a.push("--since", timeArg(o.since, "since"));
  return a;
}

export function stopArgs(
  verb: "stop" | "restart",
  nameOrId: string,
  timeoutSeconds?: number,
): string[] {
  checkNonEmpty(nameOrId, "container");
  const a: string[] = [verb];
  if (timeoutSeconds !== undefined) {
    checkSeconds(timeoutSeconds, "timeoutSeconds");
    a.push("--time", String(timeoutSeconds));
  }
  a.push(nameOrId);
  return a;
}

export function removeContainerArgs(
  nameOrId: string,
  o: { force?: boolean; timeoutSeconds?: number } = {},
): string[] {
  checkNonEmpty(nameOrId, "container");
  const a = ["rm"];
  if (o.force) a.push("--force");
  if (o.timeoutSeconds !== undefined) {
    checkSeconds(o.timeoutSeconds, "timeoutSeconds");
    a.push("--time", String(o.timeoutSeconds));
  }
  a.push(nameOrId);
  return a;
}
