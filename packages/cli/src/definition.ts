import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  type ComponentSpec,
  HealthCheckType,
  RouteMode,
  type ServiceSpec,
  ServiceSpecSchema,
} from "@mcp/proto/agent/v1";
import type { Diagnostic, ServiceDef } from "@mcp/servicedef";
import { parse } from "@mcp/servicedef";
import { CliError, ExitCode, notFoundError } from "./errors.js";

/** `file:line:col: code message`, the shape editors and CI annotators understand. */
export function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${file}:${d.line}:${d.column}: ${d.code} ${d.message}`;
}

export interface Definition {
  file: string;
  text: string;
  def: ServiceDef;
  /** Diagnostics of severity "warning": shown, never blocking. */
  warnings: Diagnostic[];
}

/** `<services_dir>/<service>.toml`. */
export function definitionPath(servicesDir: string, service: string): string {
  return join(servicesDir, `${service}.toml`);
}

/**
 * Validates the text of a definition. Pure. The name inside must match the file's name,
 * since the file name is how every command finds it again.
 */
export function checkDefinition(text: string, file: string, expectedName?: string): Definition {
  const result = parse(text, { filename: file });
  if (!result.ok || !result.value) {
    const errors = result.diagnostics.filter((d) => d.severity === "error");
    throw new CliError(
      `${file} is not a valid service definition (${errors.length} error${errors.length === 1 ? "" : "s"})`,
      {
        exitCode: ExitCode.Failed,
        hint: expectedName
          ? `fix the lines above, e.g. with \`mcp edit ${expectedName}\``
          : "fix the lines above",
        details: result.diagnostics.map((d) => formatDiagnostic(file, d)),
      },
    );
  }
  if (expectedName !== undefined && result.value.name !== expectedName) {
    throw new CliError(`${file} defines service "${result.value.name}", not "${expectedName}"`, {
      exitCode: ExitCode.Failed,
      hint: `rename the file to ${result.value.name}.toml or set name = "${expectedName}"`,
    });
  }
  return {
    file,
    text,
    def: result.value,
    warnings: result.diagnostics.filter((d) => d.severity === "warning"),
  };
}

/** Reads and validates `<services_dir>/<service>.toml`. */
export async function loadDefinition(servicesDir: string, service: string): Promise<Definition> {
  const file = definitionPath(servicesDir, service);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") {
      throw notFoundError(
        `no definition for service "${service}": ${file} does not exist`,
        "write one (see the service definition reference), or check services_dir in mcp.toml",
        e,
      );
    }
    throw new CliError(`cannot read ${file}: ${(e as { code?: string }).code ?? e}`, {
      exitCode: ExitCode.Failed,
      cause: e,
    });
  }
  return checkDefinition(text, file, service);
}

const healthTypes = {
  http: HealthCheckType.HTTP,
  tcp: HealthCheckType.TCP,
  command: HealthCheckType.COMMAND,
} as const;

/**
 * The wire form of a definition. The TOML text travels with it and is what the agent trusts;
 * the structured fields are a convenience for readers of the spec.
 */
export function toServiceSpec(def: ServiceDef, toml: string): ServiceSpec {
  const components: ComponentSpec[] = (def.components ?? []).map((c) => {
    const h = c.health;
    return {
      $typeName: "mcp.agent.v1.ComponentSpec",
      name: c.name,
      image: c.image,
      volumes: c.volumes ?? [],
      cmd: c.cmd ?? [],
      env: c.env ?? [],
      ...(c.network !== undefined ? { network: c.network } : {}),
      ...(c.user !== undefined ? { user: c.user } : {}),
      ...(c.restart !== undefined ? { restart: c.restart } : {}),
      drain: c.drain,
      routes: (c.routes ?? []).map((r) => ({
        $typeName: "mcp.agent.v1.RouteSpec",
        ...(r.name !== undefined ? { name: r.name } : {}),
        port: r.port,
        mode: r.mode === "l4" ? RouteMode.L4 : RouteMode.L7,
        ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
      })),
      ...(h
        ? {
            health: {
              $typeName: "mcp.agent.v1.HealthSpec",
              type: healthTypes[h.type],
              command: h.type === "command" ? h.command : [],
              ...(h.type === "http" ? { path: h.path, status: h.status } : {}),
              interval: h.interval,
              timeout: h.timeout,
              retries: h.retries,
              startPeriod: h.start_period,
            },
          }
        : {}),
    };
  });
  return create(ServiceSpecSchema, {
    name: def.name,
    node: def.node,
    active: def.active,
    path: def.path,
    buildImages: { ...(def.build?.images ?? {}) },
    components,
    toml,
  });
}
