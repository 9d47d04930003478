// Value rules, run after the structural walk (structure.ts) on its output: every value
// here already has its declared type, but may be missing. Each rule pushes diagnostics
// and never stops the others.
import { DNS_LABEL, parseDuration } from "./helpers.ts";
import { imageRepository, imageVersion, parseImageRef, SEMVER_TAG } from "./image.ts";
import type { PathSegment } from "./positions.ts";
import type { Reporter } from "./report.ts";
import type { HealthCheck } from "./types.ts";

type P = PathSegment[];

interface LooseRoute {
  name?: string;
  port?: number | bigint;
  mode?: string;
  hostname?: string;
}
interface LooseComponent {
  name?: string;
  image?: string;
  volumes?: (string | undefined)[];
  cmd?: (string | undefined)[];
  env?: (string | undefined)[];
  network?: string;
  user?: string;
  restart?: string;
  drain?: string;
  health?: LooseHealth;
  routes?: (LooseRoute | undefined)[];
}
interface LooseHealth {
  type?: HealthCheck["type"];
  path?: string;
  status?: number;
  route?: string;
  command?: (string | undefined)[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}
export interface LooseDef {
  name?: string;
  node?: string;
  active?: boolean;
  path?: string;
  build?: { images?: Record<string, string | undefined> };
  components?: (LooseComponent | undefined)[];
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESTART = /^(?:no|always|unless-stopped|on-failure(?::[0-9]+)?)$/;
const NAMED_VOLUME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$|^(?:container|ns):\S+$/;
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const VOLUME_OPTIONS = new Set(
  "ro rw z Z O U copy nocopy shared slave private rshared rslave rprivate bind rbind noexec exec nosuid suid nodev dev idmap chown".split(
    " ",
  ),
);
const ROOT_USERS = new Set(["0", "0:0", "root", "root:root"]);

export function checkName(
  report: Reporter,
  value: string | undefined,
  path: P,
  what: string,
): void {
  if (value !== undefined && !DNS_LABEL.test(value)) {
    report.add(
      "invalid-name",
      path,
      `${what} "${value}" is not a DNS label (lowercase letter first, then lowercase letters, digits or "-", at most 63)`,
    );
  }
}

export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  return (
    labels.length >= 2 &&
    labels.every((l) => HOST_LABEL.test(l)) &&
    !/^[0-9]+$/.test(labels.at(-1) as string)
  );
}

export function runRules(def: LooseDef, report: Reporter): void {
  checkName(report, def.name, ["name"], "service name");
  checkName(report, def.node, ["node"], "node name");
  checkPath(def, report);

  const components = def.components ?? [];
  if (components.length === 0) {
    report.add(
      "no-components",
      def.components ? ["components"] : [],
      "the service has no components; a deploy runs nothing",
      "key",
    );
  }
  const seen = new Map<string, number>();
  const repos = new Set<string>();
  const versions = new Map<string, number>();
  const routeClaims = new Map<string, string>();
  components.forEach((c, i) => {
    if (!c) return;
    const base: P = ["components", i];
    checkName(report, c.name, [...base, "name"], "component name");
    if (c.name !== undefined) {
      const first = seen.get(c.name);
      if (first !== undefined) {
        report.add(
          "duplicate-component",
          [...base, "name"],
          `component "${c.name}" is already defined by components[${first}]`,
        );
      } else seen.set(c.name, i);
    }
    if (c.image !== undefined) {
      checkImage(c.image, [...base, "image"], report);
      const repo = imageRepository(c.image);
      if (repo) repos.add(repo);
      const v = imageVersion(c.image);
      if (v && !versions.has(v)) versions.set(v, i);
    }
    checkComponent(def, c, base, report, routeClaims);
  });

  const images = def.build?.images;
  if (images) {
    for (const [key, dockerfile] of Object.entries(images)) {
      if (!repos.has(key)) {
        const known = [...repos].map((r) => `"${r}"`).join(", ");
        report.add(
          "unmatched-build-image",
          ["build", "images", key],
          `build image "${key}" is not the repository name of any component's image${known ? ` (they are ${known})` : ""}`,
          "key",
        );
      }
      if (dockerfile !== undefined && (dockerfile.trim() === "" || dockerfile.startsWith("/"))) {
        report.add(
          "invalid-value",
          ["build", "images", key],
          `Dockerfile path "${dockerfile}" must be a non-empty path relative to the service's source directory`,
        );
      }
    }
    if (Object.keys(images).length > 0) {
      components.forEach((c, i) => {
        const repo = c?.image === undefined ? undefined : imageRepository(c.image);
        if (repo && !Object.hasOwn(images, repo)) {
          report.add(
            "unbuilt-image",
            ["components", i, "image"],
            `[build.images] has no entry for "${repo}", so \`mcp build\` does not build this image`,
          );
        }
      });
    }
  }

  if (versions.size > 1) {
    const list = [...versions.keys()].join(", ");
    const second = [...versions.values()][1] as number;
    report.add(
      "mixed-versions",
      ["components", second, "image"],
      `components pin different versions (${list}); \`mcp status\` shows one version per service`,
    );
  }
}

function checkPath(def: LooseDef, report: Reporter): void {
  const p = def.path;
  if (p === undefined) return;
  let reason: string | undefined;
  if (p.trim() === "") reason = "is empty";
  else if (p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p))
    reason = "is absolute; it must be relative to the workspace";
  else if (p.startsWith("~")) reason = "starts with ~; it must be relative to the workspace";
  else if (p.includes("\0")) reason = "contains a NUL character";
  else {
    let depth = 0;
    for (const seg of p.split(/[\\/]+/)) {
      if (seg === "..") depth--;
      else if (seg !== "." && seg !== "") depth++;
      if (depth < 0) {
        reason = "leaves the workspace";
        break;
      }
    }
  }
  if (reason) report.add("invalid-path", ["path"], `path "${p}" ${reason}`);
}

function checkImage(image: string, path: P, report: Reporter): void {
  const ref = parseImageRef(image);
  if (typeof ref === "string") {
    report.add("invalid-image", path, `image "${image}": ${ref}`);
    return;
  }
  if (ref.tag === undefined) {
    report.add(
      "unpinned-image",
      path,
      `image "${image}" has no tag; pin a semver tag such as :v1.0.0`,
    );
  } else if (ref.tag === "latest") {
    report.add(
      "unpinned-image",
      path,
      `image "${image}" uses :latest; pin a semver tag such as :v1.0.0`,
    );
  } else if (!SEMVER_TAG.test(ref.tag)) {
    report.add(
      "unpinned-image",
      path,
      `image tag "${ref.tag}" is not a semver version like v1.2.3 or v1.2.3-rc.1`,
    );
  }
}

function checkComponent(
  def: LooseDef,
  c: LooseComponent,
  base: P,
  report: Reporter,
  routeClaims: Map<string, string>,
): void {
  const routes = c.routes ?? [];
  const routeNames = new Map<string, number>();
  routes.forEach((r, j) => {
    if (!r) return;
    const rp: P = [...base, "routes", j];
    checkName(report, r.name, [...rp, "name"], "route name");
    if (r.name !== undefined) {
      const first = routeNames.get(r.name);
      if (first !== undefined) {
        report.add(
          "duplicate-route",
          [...rp, "name"],
          `route "${r.name}" is already defined by routes[${first}] of this component`,
        );
      } else routeNames.set(r.name, j);
    } else if (routes.length > 1) {
      report.add(
        "unnamed-route",
        rp,
        `${label(c, base)} has ${routes.length} routes, so each needs a name (it sets $PORT_<NAME>)`,
        "key",
      );
    }
    if (r.mode !== undefined && r.mode !== "l4" && r.mode !== "l7") {
      report.add("invalid-mode", [...rp, "mode"], `mode must be "l4" or "l7", got "${r.mode}"`);
    }
    if (r.port !== undefined && (r.port < 1 || r.port > 65535)) {
      report.add("invalid-port", [...rp, "port"], `port ${r.port} is outside 1–65535`);
    }
    if (r.hostname !== undefined && !isDnsName(r.hostname)) {
      report.add(
        "invalid-hostname",
        [...rp, "hostname"],
        `hostname "${r.hostname}" is not a DNS name (lowercase labels of letters, digits and "-", separated by dots)`,
      );
    }
    if (r.port !== undefined) {
      const host = r.hostname ?? `<default hostname of ${def.name ?? "the service"}>`;
      const claim = `${host}:${r.port}`;
      const here = `components[${base[1]}].routes[${j}]`;
      const first = routeClaims.get(claim);
      if (first !== undefined) {
        report.add(
          "route-conflict",
          [...rp, "port"],
          `${here} and ${first} both route ${r.hostname ?? "the default hostname"} on port ${r.port}`,
        );
      } else routeClaims.set(claim, here);
    }
  });

  const mounts = new Map<string, number>();
  c.volumes?.forEach((v, k) => {
    if (v === undefined) return;
    const target = checkVolume(v, [...base, "volumes", k], report);
    if (target !== undefined) {
      const first = mounts.get(target);
      if (first !== undefined) {
        report.add(
          "duplicate-mount",
          [...base, "volumes", k],
          `volumes[${first}] already mounts at ${target}`,
        );
      } else mounts.set(target, k);
    }
  });

  const envKeys = new Map<string, number>();
  c.env?.forEach((e, k) => {
    if (e === undefined) return;
    const p: P = [...base, "env", k];
    const eq = e.indexOf("=");
    const key = eq < 0 ? e : e.slice(0, eq);
    if (eq < 0 || !ENV_KEY.test(key)) {
      report.add(
        "invalid-env",
        p,
        eq < 0
          ? `env entry "${e}" is not KEY=VALUE`
          : `"${key}" is not a valid variable name (letters, digits, _; not starting with a digit)`,
      );
      return;
    }
    if (key === "PORT" || key.startsWith("PORT_")) {
      report.add(
        "env-port-override",
        p,
        `${key} is set by the agent from the assigned host port; this value is overridden`,
      );
    }
    const first = envKeys.get(key);
    if (first !== undefined)
      report.add("duplicate-env", p, `${key} is already set by env[${first}]; the last one wins`);
    else envKeys.set(key, k);
  });

  c.cmd?.forEach((arg, k) => {
    if (k === 0 && arg === "")
      report.add(
        "invalid-value",
        [...base, "cmd", k],
        "the first cmd entry (the program or first argument) is empty",
      );
  });
  if (c.user !== undefined && !USER.test(c.user)) {
    report.add(
      "invalid-value",
      [...base, "user"],
      `user "${c.user}" is not user[:group] (names or numeric ids)`,
    );
  }
  if (c.network !== undefined && !NETWORK.test(c.network)) {
    report.add(
      "invalid-value",
      [...base, "network"],
      `network "${c.network}" is not a Podman network name`,
    );
  }
  if (c.restart !== undefined && !RESTART.test(c.restart)) {
    report.add(
      "invalid-restart",
      [...base, "restart"],
      `restart "${c.restart}" is not one of no, always, on-failure[:N], unless-stopped`,
    );
  }
  if (c.drain !== undefined) checkDuration(c.drain, [...base, "drain"], report);
  if (
    c.user !== undefined &&
    !ROOT_USERS.has(c.user) &&
    c.volumes?.some((v) => v?.startsWith("/"))
  ) {
    report.add(
      "nonroot-user",
      [...base, "user"],
      `user "${c.user}" maps to a subordinate host uid under rootless Podman and cannot write the host volumes; use "0:0"`,
    );
  }
  if (c.health) checkHealth(c, [...base, "health"], report);
}

/** `component "api"`, or `components[2]` for a component without a name. */
function label(c: LooseComponent, base: P): string {
  return c.name !== undefined ? `component "${c.name}"` : `components[${String(base[1])}]`;
}

function checkVolume(v: string, path: P, report: Reporter): string | undefined {
  const parts = v.split(":");
  const bad = (why: string) => {
    report.add("invalid-volume", path, `volume "${v}" ${why}`);
    return undefined;
  };
  if (parts.length < 2 || parts.length > 3) return bad("is not host:container[:options]");
  const [host, target, options] = parts as [string, string, string | undefined];
  if (host === "") return bad("has an empty host part");
  if (!host.startsWith("/") && !NAMED_VOLUME.test(host)) {
    return bad("has a host part that is neither an absolute path nor a volume name");
  }
  if (!target.startsWith("/")) return bad(`has a container path "${target}" that is not absolute`);
  if (options !== undefined) {
    for (const o of options.split(",")) {
      const name = o.split("=")[0] as string;
      if (!VOLUME_OPTIONS.has(name)) return bad(`has an unknown option "${o}"`);
    }
  }
  return target.replace(/\/+$/, "") || "/";
}

function checkDuration(text: string, path: P, report: Reporter): number | undefined {
  const ms = parseDuration(text);
  if (ms === undefined) {
    report.add(
      "invalid-duration",
      path,
      `"${text}" is not a duration like "500ms", "10s" or "1m30s"`,
    );
  }
  return ms;
}

function checkHealth(c: LooseComponent, path: P, report: Reporter): void {
  const h = c.health as NonNullable<LooseComponent["health"]>;
  const interval =
    h.interval === undefined ? undefined : checkDuration(h.interval, [...path, "interval"], report);
  const timeout =
    h.timeout === undefined ? undefined : checkDuration(h.timeout, [...path, "timeout"], report);
  if (h.start_period !== undefined)
    checkDuration(h.start_period, [...path, "start_period"], report);
  if (h.retries !== undefined && (h.retries < 1 || h.retries > 100)) {
    report.add(
      "invalid-health",
      [...path, "retries"],
      `retries must be from 1 to 100, got ${h.retries}`,
    );
  }
  if (interval !== undefined && timeout !== undefined && timeout >= interval) {
    report.add(
      "health-timeout",
      [...path, "timeout"],
      `timeout ${h.timeout} is not shorter than interval ${h.interval}; checks would overlap`,
    );
  }
  const routes = (c.routes ?? []).filter((r) => r !== undefined);
  if (h.type === "command") {
    const cmd = h.command;
    if (cmd !== undefined && (cmd.length === 0 || cmd[0] === "")) {
      report.add(
        "invalid-health",
        [...path, "command"],
        "command must name a program: a non-empty list whose first entry is not empty",
      );
    }
    return;
  }
  if (h.type === "http") {
    if (h.status !== undefined && (h.status < 100 || h.status > 599)) {
      report.add(
        "invalid-health",
        [...path, "status"],
        `status must be an HTTP status from 100 to 599, got ${h.status}`,
      );
    }
    if (h.path !== undefined && !h.path.startsWith("/")) {
      report.add("invalid-health", [...path, "path"], `path "${h.path}" must start with "/"`);
    }
  }
  if (routes.length === 0) {
    report.add(
      "invalid-health",
      [...path, "type"],
      `a ${h.type} check needs a route to probe, and ${label(c, path.slice(0, 2))} has none; use type = "command"`,
    );
    return;
  }
  if (h.route !== undefined) {
    if (!routes.some((r) => r.name === h.route)) {
      const names = routes.map((r) => r.name).filter((n) => n !== undefined);
      report.add(
        "invalid-health",
        [...path, "route"],
        `no route named "${h.route}" in this component${names.length ? ` (routes: ${names.join(", ")})` : ""}`,
      );
    }
  } else if (h.type === "http" && routes.length > 1) {
    report.add(
      "invalid-health",
      path,
      `${label(c, path.slice(0, 2))} has ${routes.length} routes; name the one to probe with route = "..."`,
      "key",
    );
  }
}
