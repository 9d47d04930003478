// Canonical TOML for a service definition: keys in the order of the reference, one
// `[[components]]` block per component with its routes and health check after it, and
// values equal to their defaults left out (active = true, path = name, drain = "5s", the
// health-check defaults). parse(format(d)) deep-equals d for every valid d.
import { DEFAULT_DRAIN, HEALTH_DEFAULTS } from "./helpers.ts";
import { commentLines } from "./positions.ts";
import type { Component, HealthCheck, Route, ServiceDef } from "./types.ts";

const BARE = /^[A-Za-z0-9_-]+$/;
const WIDTH = 100;

export function tomlString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, "0").toUpperCase()}`;
    else if (c >= 0xd800 && c <= 0xdfff)
      out += "\\uFFFD"; // a lone surrogate has no UTF-8 form
    else out += ch;
  }
  return `${out}"`;
}

function key(k: string): string {
  return BARE.test(k) ? k : tomlString(k);
}

function scalar(v: string | number | boolean): string {
  return typeof v === "string" ? tomlString(v) : String(v);
}

function list(name: string, items: readonly string[]): string {
  const one = `${name} = [${items.map(tomlString).join(", ")}]`;
  if (one.length <= WIDTH || items.length === 0) return one;
  return `${name} = [\n${items.map((i) => `  ${tomlString(i)},\n`).join("")}]`;
}

function line(
  out: string[],
  name: string,
  v: string | number | boolean | readonly string[] | undefined,
): void {
  if (v === undefined) return;
  out.push(
    Array.isArray(v)
      ? list(key(name), v)
      : `${key(name)} = ${scalar(v as string | number | boolean)}`,
  );
}

function health(out: string[], h: HealthCheck): void {
  out.push("", "[components.health]");
  line(out, "type", h.type);
  if (h.type === "http") {
    if (h.path !== "/") line(out, "path", h.path);
    if (h.status !== 200) line(out, "status", h.status);
    line(out, "route", h.route);
  } else if (h.type === "tcp") {
    line(out, "route", h.route);
  } else {
    line(out, "command", h.command);
  }
  for (const k of ["interval", "timeout", "retries", "start_period"] as const) {
    if (h[k] !== undefined && h[k] !== HEALTH_DEFAULTS[k]) line(out, k, h[k]);
  }
}

function route(out: string[], r: Route): void {
  out.push("", "[[components.routes]]");
  line(out, "name", r.name);
  line(out, "port", r.port);
  line(out, "mode", r.mode);
  line(out, "hostname", r.hostname);
}

function component(out: string[], c: Component): void {
  out.push("", "[[components]]");
  line(out, "name", c.name);
  line(out, "image", c.image);
  line(out, "volumes", c.volumes);
  line(out, "cmd", c.cmd);
  line(out, "env", c.env);
  line(out, "network", c.network);
  line(out, "user", c.user);
  line(out, "restart", c.restart);
  if (c.drain !== undefined && c.drain !== DEFAULT_DRAIN) line(out, "drain", c.drain);
  if (c.routes?.length === 0) out.push("routes = []");
  for (const r of c.routes ?? []) route(out, r);
  if (c.health) health(out, c.health);
}

/** Canonical TOML text of a definition (see the note at the top of this file). */
export function format(def: ServiceDef): string {
  const out: string[] = [];
  line(out, "name", def.name);
  line(out, "node", def.node);
  if (def.active === false) line(out, "active", false);
  if (def.path !== undefined && def.path !== def.name) line(out, "path", def.path);
  if (def.components?.length === 0) out.push("components = []");
  if (def.build) {
    if (def.build.images === undefined) out.push("", "[build]");
    else {
      out.push("", "[build.images]");
      for (const [k, v] of Object.entries(def.build.images)) line(out, k, v);
    }
  }
  for (const c of def.components ?? []) component(out, c);
  return `${out.join("\n")}\n`;
}

export interface Reformatted {
  text: string;
  /** Lines of comments that the canonical form cannot keep (all but the file's header). */
  lostComments: number[];
}

/**
 * Canonical text for a file: format(def) under the file's header comment (the comment and
 * blank lines it starts with). Other comments cannot survive a rewrite from the parsed
 * value; they are listed so that a caller can refuse to drop them.
 */
export function reformat(source: string, def: ServiceDef): Reformatted {
  const lines = source.replace(/^\uFEFF/, "").split(/\r?\n/);
  let n = 0;
  while (n < lines.length && /^\s*(#.*)?$/.test(lines[n] as string)) n++;
  const header = lines.slice(0, n);
  while (header.length > 0 && (header.at(-1) as string).trim() === "") header.pop();
  const lostComments = commentLines(source).filter((l) => l > n);
  const body = format(def);
  return { text: header.length > 0 ? `${header.join("\n")}\n${body}` : body, lostComments };
}
