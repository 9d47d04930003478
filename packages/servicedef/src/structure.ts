// Structural validation by walking the generated JSON Schema (gen/schema.json): types,
// required keys, unknown keys, the health-check variant; defaults are filled in on the way.
// Value rules (names, ports, images...) live in rules.ts with their own codes. The walker
// understands exactly the JSON Schema subset that zod emits for src/schema/source.ts;
// test/schema.test.ts keeps the two in step.

import type { PathSegment } from "./positions.ts";
import type { Reporter } from "./report.ts";

export interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  const?: unknown;
  default?: unknown;
  description?: string;
}

export function kindOf(value: unknown, raw?: string): string {
  if (typeof value === "string") return "a string";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "bigint") return "an integer";
  if (typeof value === "number") {
    if (!Number.isInteger(value) || (raw !== undefined && isFloatLiteral(raw))) return "a float";
    return "an integer";
  }
  if (Array.isArray(value)) return "a list";
  if (value instanceof Date) return "a date-time";
  if (value === null) return "null";
  if (value !== null && typeof value === "object") return "a table";
  return typeof value;
}

function isFloatLiteral(raw: string): boolean {
  if (/^[+-]?0[xob]/.test(raw)) return false;
  return /[.eE]|inf|nan/.test(raw);
}

function expected(schema: SchemaNode): string {
  switch (schema.type) {
    case "string":
      return "a string";
    case "integer":
      return "an integer";
    case "boolean":
      return "a boolean";
    case "array":
      return schema.items?.type === "object"
        ? "a list of tables"
        : `a list of ${schema.items?.type ?? "value"}s`;
    default:
      return "a table";
  }
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.ceil(best.length * 0.4))
    ? best
    : undefined;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Returns the value with defaults filled in and every wrongly typed part left out, so the
 * rules after it only ever see well-typed values.
 */
export function walk(
  schema: SchemaNode,
  value: unknown,
  path: PathSegment[],
  report: Reporter,
): unknown {
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants) return walkVariant(variants, value, path, report);
  switch (schema.type) {
    case "object": {
      if (!isTable(value)) {
        report.add("wrong-type", path, `expected ${expected(schema)}, got ${kindOf(value)}`);
        return undefined;
      }
      const props = schema.properties ?? {};
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        // An object built in code may carry `key: undefined` for an absent optional key.
        if (v === undefined) continue;
        const sub = Object.hasOwn(props, key)
          ? props[key]
          : typeof schema.additionalProperties === "object"
            ? schema.additionalProperties
            : undefined;
        if (!sub) {
          const hint = nearest(key, Object.keys(props));
          report.add(
            "unknown-key",
            [...path, key],
            `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ""}`,
            "key",
          );
          continue;
        }
        const w = walk(sub, v, [...path, key], report);
        // defineProperty: a key named "__proto__" must stay a plain key.
        if (w !== undefined)
          Object.defineProperty(out, key, {
            value: w,
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      for (const key of schema.required ?? []) {
        if (value[key] === undefined || !Object.hasOwn(value, key)) {
          report.add(
            "missing-field",
            [...path, key],
            `missing required key "${key}"${path.length ? ` in ${describe(path)}` : ""}`,
            "key",
          );
        }
      }
      for (const [key, sub] of Object.entries(props)) {
        if (!Object.hasOwn(out, key) && value[key] === undefined && sub.default !== undefined)
          out[key] = sub.default;
      }
      return out;
    }
    case "array": {
      if (!Array.isArray(value)) {
        report.add("wrong-type", path, `expected ${expected(schema)}, got ${kindOf(value)}`);
        return undefined;
      }
      const items = schema.items ?? {};
      const out: unknown[] = [];
      value.forEach((v, i) => {
        out.push(walk(items, v, [...path, i], report));
      });
      return out;
    }
    case "string":
      if (typeof value === "string") return value;
      break;
    case "boolean":
      if (typeof value === "boolean") return value;
      break;
    case "integer": {
      const raw = report.raw(path);
      if (
        (typeof value === "number" && kindOf(value, raw) === "an integer") ||
        typeof value === "bigint"
      ) {
        return value;
      }
      break;
    }
    default:
      return value;
  }
  report.add(
    "wrong-type",
    path,
    `expected ${expected(schema)}, got ${kindOf(value, report.raw(path))}`,
  );
  return undefined;
}

function walkVariant(
  variants: SchemaNode[],
  value: unknown,
  path: PathSegment[],
  report: Reporter,
): unknown {
  if (!isTable(value)) {
    report.add("wrong-type", path, `expected a table, got ${kindOf(value)}`);
    return undefined;
  }
  const types = variants.map((v) => v.properties?.type?.const);
  const list = types.map((t) => `"${String(t)}"`).join(", ");
  if (!Object.hasOwn(value, "type")) {
    report.add(
      "missing-field",
      [...path, "type"],
      `missing required key "type" in ${describe(path)} (one of ${list})`,
      "key",
    );
    return undefined;
  }
  const index = types.indexOf(value.type);
  const chosen = variants[index];
  if (!chosen) {
    report.add(
      "invalid-health",
      [...path, "type"],
      `type must be one of ${list}, got ${JSON.stringify(value.type) ?? kindOf(value.type)}`,
    );
    return undefined;
  }
  // A key that belongs to another variant gets a precise message, not "unknown key".
  const own = chosen.properties ?? {};
  const rest: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const owners = variants.filter((x) => x !== chosen && Object.hasOwn(x.properties ?? {}, key));
    if (!Object.hasOwn(own, key) && owners.length > 0 && v !== undefined) {
      const kinds = owners.map((x) => String(x.properties?.type?.const)).join(" or ");
      report.add(
        "invalid-health",
        [...path, key],
        `"${key}" applies to type = "${kinds}" checks, not to type = "${String(value.type)}"`,
        "key",
      );
    } else rest[key] = v;
  }
  return walk(chosen, rest, path, report);
}

export function describe(path: readonly PathSegment[]): string {
  let out = "";
  for (const s of path) out += typeof s === "number" ? `[${s}]` : out ? `.${s}` : s;
  return out;
}
