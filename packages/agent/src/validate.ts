import { parse, validate } from "@mcp/servicedef";
import { InvalidArgumentError, InvalidSpecError } from "./errors.ts";
import { isDnsLabel, type ServiceDef, type SpecDiagnostic } from "./spec.ts";

/** The structured fields of a spec as sent over the wire (proto ServiceSpec, minus TOML). */
export interface WireSpec {
  name: string;
  node: string;
  active?: boolean | undefined;
  path?: string | undefined;
  buildImages: Record<string, string>;
  components: {
    name: string;
    image: string;
    volumes: string[];
    cmd: string[];
    env: string[];
    network?: string | undefined;
    user?: string | undefined;
    restart?: string | undefined;
    drain?: string | undefined;
    /** `[components.health]` as a table; servicedef validates it. */
    health?: Record<string, unknown> | undefined;
    routes: {
      name?: string | undefined;
      port: number;
      mode: string;
      hostname?: string | undefined;
    }[];
  }[];
  toml: string;
}

function describe(diagnostics: SpecDiagnostic[], file: string): string {
  const errors = diagnostics.filter((d) => d.severity === "error");
  const first = errors[0];
  if (!first) return `${file}: invalid service definition`;
  const where = first.line > 0 ? `${file}:${first.line}:${first.column}` : file;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  return `${where}: ${first.code} ${first.message}${first.path ? ` [${first.path}]` : ""}${more}`;
}

function wireToObject(w: WireSpec): Record<string, unknown> {
  const drop = <T extends object>(o: T) =>
    Object.fromEntries(
      Object.entries(o).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)),
    );
  return drop({
    name: w.name,
    node: w.node,
    active: w.active,
    path: w.path,
    build: Object.keys(w.buildImages).length > 0 ? { images: w.buildImages } : undefined,
    components: w.components.map((c) =>
      drop({
        ...c,
        routes: c.routes.map((r) => drop({ ...r })),
      }),
    ),
  });
}

/**
 * Validates a spec received from a client: the agent never trusts the CLI. The TOML is
 * authoritative; the structured fields must name the same service. Invalid specs become
 * InvalidSpecError carrying servicedef's diagnostics (code, path, line, column).
 */
export function validateWireSpec(w: WireSpec): { def: ServiceDef; toml: string } {
  const file = `${w.name || "service"}.toml`;
  if (w.toml.trim() !== "") {
    const r = parse(w.toml, { filename: file });
    if (!r.ok || !r.value) throw new InvalidSpecError(describe(r.diagnostics, file), r.diagnostics);
    if (w.name !== "" && w.name !== r.value.name) {
      throw new InvalidArgumentError(
        `spec.name "${w.name}" does not match the definition's name "${r.value.name}"`,
      );
    }
    return { def: r.value as ServiceDef, toml: w.toml };
  }
  const r = validate(wireToObject(w));
  if (!r.ok || !r.value) throw new InvalidSpecError(describe(r.diagnostics, file), r.diagnostics);
  return { def: r.value as ServiceDef, toml: "" };
}

/**
 * A service name from a request. Names become paths (`/srv/<service>`), container names
 * and hostnames, so only DNS labels get through.
 */
export function checkServiceName(name: string, what = "service"): string {
  if (!isDnsLabel(name)) {
    throw new InvalidArgumentError(
      `${what} name "${name.slice(0, 80)}" is not a DNS label (lowercase letters, digits and -, starting with a letter)`,
    );
  }
  return name;
}

/** `/srv/<service>`, refusing anything that would not stay directly under /srv. */
export function serviceDataDir(name: string, root = "/srv"): string {
  checkServiceName(name);
  return `${root}/${name}`;
}
