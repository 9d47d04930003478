import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";

/**
 * The agent's configuration (`/srv/mcp/mcp-agent.toml`, bootstrap step 3), parsed and
 * validated by a pure function so that every rule is unit-tested without files. Every key
 * can be overridden from the environment as `MCP_<SECTION>_<KEY>`.
 */

const DURATION = /^\d+(ms|s|m|h|d)$/;
const duration = z
  .string()
  .regex(DURATION, 'expected a duration such as "60s", "15m", "2160h" or "30d"');

const str = z.string();
const THIRTY_DAYS_MS = 30 * 86_400_000;
const optStr = z.string().default("");

const sections = {
  server: z.strictObject({
    grpc_addr: str.min(1),
    tls_cert: str.min(1),
    tls_key: str.min(1),
  }),
  database: z.strictObject({ path: str.min(1) }),
  mcias: z.strictObject({
    server_url: z.url(),
    ca_cert: optStr,
    service_name: str.min(1).default("mcp-agent"),
    timeout: duration.default("5s"),
    cache_ttl: duration.default("30s"),
  }),
  agent: z.strictObject({
    node_name: str.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "expected a DNS label"),
    container_runtime: z.literal("podman").default("podman"),
    role: z.enum(["compute", "edge"]).default("compute"),
    // The address mc-proxy uses to reach this node's published ports (route backend).
    address: str.min(1).default("127.0.0.1"),
  }),
  monitor: z.strictObject({
    interval: duration.default("60s"),
    alert_command: z.array(str).default([]),
    cooldown: duration.default("15m"),
    flap_threshold: z.number().int().positive().default(3),
    flap_window: duration.default("10m"),
    retention: duration.default("30d"),
    reconcile: z.boolean().default(false),
  }),
  log: z.strictObject({
    level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  }),
  metacrypt: z.strictObject({
    server_url: optStr,
    ca_cert: optStr,
    token_file: optStr,
    mount: str.default("pki"),
    issuer: str.default("web"),
    profile: str.default("server"),
    // Renewal starts 30 days before expiry: a shorter certificate would be due as soon as it
    // is issued, and the platform check would issue another every check_interval.
    // (A malformed duration is the regex's to report.)
    ttl: duration
      .default("2160h")
      .refine((t) => !DURATION.test(t) || durationMs(t) > THIRTY_DAYS_MS, {
        message:
          "must be more than 30 days (e.g. 2160h), since renewal starts 30 days before expiry",
      }),
  }),
  mcproxy: z.strictObject({
    socket: optStr,
    // Route port (the `port` of a route, e.g. 443) → mc-proxy listener name. A port with no
    // entry uses the listener ":<port>".
    listeners: z.record(z.string().regex(/^\d+$/, "expected a port number"), str).default({}),
    // How often the agent checks that mc-proxy still has every route it registered (putting
    // back any it lost) and renews certificates within 30 days of expiry; "0s" turns it off.
    check_interval: duration.default("60s"),
  }),
  mcns: z.strictObject({
    server_url: optStr,
    ca_cert: optStr,
    token_file: optStr,
    zone: str.default("svc.mcp.metacircular.net"),
    ttl: z.number().int().positive().default(300),
  }),
  certs: z.strictObject({ dir: str.min(1).default("/srv/mc-proxy/certs") }),
  ports: z.strictObject({
    range: str
      .regex(/^\d{1,5}-\d{1,5}$/, 'expected "LOW-HIGH", e.g. "10000-60000"')
      .default("10000-60000"),
  }),
  podman: z.strictObject({
    path: str.min(1).default("podman"),
    // Rootless Podman needs the runtime dir of the user it runs as (bootstrap lessons).
    xdg_runtime_dir: optStr,
    auth_file: optStr,
    // Run podman as this user (via runuser) when the agent itself runs as root; empty in
    // production, where the agent already runs as `mcp`.
    run_as: optStr,
    timeout: duration.default("120s"),
    // How long a container may take to stop before it is killed (busybox as PID 1, for
    // one, ignores SIGTERM).
    stop_timeout: duration.default("10s"),
  }),
  // Credentials for pulls from MCR: the agent writes them into an auth file (0600) in its
  // state directory and hands it to Podman (see registry-auth.ts).
  registry: z.strictObject({
    username: optStr,
    password_file: optStr,
    // The agent's MCIAS service token, presented as the password (instead of password_file).
    token_file: optStr,
    tls_verify: z.boolean().default(true),
    cert_dir: optStr,
  }),
  history: z.strictObject({ keep: z.number().int().min(1).max(100).default(5) }),
  // Zero-downtime replacement: how long a replaced container keeps serving ("" = each
  // component's `drain`), and the slack on top of a new container's health-check budget.
  deploy: z.strictObject({
    drain: z
      .string()
      .regex(
        /^(\d+(ms|s|m|h|d))?$/,
        'expected a duration such as "5s", or "" for the definition\'s',
      )
      .default(""),
    health_margin: duration.default("5s"),
  }),
} as const;

const required = new Set(["server", "database", "mcias", "agent"]);

const configSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(sections).map(([name, schema]) => [
      name,
      required.has(name) ? schema : (schema as z.ZodObject).prefault({}),
    ]),
  ) as { [K in keyof typeof sections]: (typeof sections)[K] },
);

export type AgentConfig = z.output<typeof configSchema> & {
  /** Where the config came from, for messages. */
  readonly file: string;
  readonly portRange: { readonly low: number; readonly high: number };
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof Error && e.name === "ConfigError";
}

/** "60s" → 60000. Inputs are validated by the schema before they get here. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new ConfigError(`invalid duration "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s"];
  return Number(m[1]) * unit;
}

type SectionName = keyof typeof sections;

/** The type of each key, for converting an environment string to the config value. */
function keyKind(section: SectionName, key: string): "string" | "number" | "boolean" | "json" {
  const shape = (sections[section] as unknown as { shape: Record<string, z.ZodType> }).shape;
  let t = shape[key] as z.ZodType | undefined;
  while (t && (t instanceof z.ZodDefault || t instanceof z.ZodOptional)) {
    t = (t as unknown as { unwrap(): z.ZodType }).unwrap();
  }
  if (t instanceof z.ZodNumber) return "number";
  if (t instanceof z.ZodBoolean) return "boolean";
  if (t instanceof z.ZodArray || t instanceof z.ZodRecord) return "json";
  return "string";
}

/** Every (section, key) the config knows, with its environment variable name. */
export function configKeys(): { section: string; key: string; env: string }[] {
  const out: { section: string; key: string; env: string }[] = [];
  for (const [section, schema] of Object.entries(sections)) {
    for (const key of Object.keys((schema as unknown as { shape: object }).shape)) {
      out.push({ section, key, env: `MCP_${section.toUpperCase()}_${key.toUpperCase()}` });
    }
  }
  return out;
}

function applyEnv(
  raw: Record<string, unknown>,
  env: Record<string, string | undefined>,
  file: string,
): void {
  for (const { section, key, env: name } of configKeys()) {
    const value = env[name];
    if (value === undefined) continue;
    const kind = keyKind(section as SectionName, key);
    let converted: unknown = value;
    if (kind === "number") {
      converted = Number(value);
      if (value.trim() === "" || !Number.isFinite(converted)) {
        throw new ConfigError(`${file}: ${name}="${value}" is not a number`);
      }
    } else if (kind === "boolean") {
      if (value !== "true" && value !== "false") {
        throw new ConfigError(`${file}: ${name}="${value}" must be true or false`);
      }
      converted = value === "true";
    } else if (kind === "json") {
      try {
        converted = JSON.parse(value);
      } catch {
        throw new ConfigError(`${file}: ${name} must be JSON (e.g. ["a","b"] or {"443":"https"})`);
      }
    }
    const target = (raw[section] ?? {}) as Record<string, unknown>;
    if (typeof target !== "object" || Array.isArray(target)) continue;
    target[key] = converted;
    raw[section] = target;
  }
}

function describeIssue(issue: z.core.$ZodIssue, file: string): string {
  const where = issue.path.join(".");
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((k) => (where ? `${where}.${k}` : k));
    const what = where ? "key" : "section";
    return `${file}: unknown ${what}${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}`;
  }
  if (issue.code === "invalid_type" && issue.input === undefined) {
    return `${file}: ${where} is required`;
  }
  return `${file}: ${where}: ${issue.message}`;
}

/**
 * Parse and validate the agent config. Pure: the caller passes the file's text and the
 * environment. Throws ConfigError with a one-line message naming the key and the file.
 */
export function parseConfig(
  text: string,
  options: { filename: string; env?: Record<string, string | undefined> },
): AgentConfig {
  const file = options.filename;
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      throw new ConfigError(
        `${file}:${e.line}:${e.column}: invalid TOML: ${e.message.split("\n")[0]}`,
        { cause: e },
      );
    }
    throw new ConfigError(`${file}: invalid TOML`, { cause: e });
  }
  applyEnv(raw, options.env ?? {}, file);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => describeIssue(i, file)).join("; "));
  }
  const value = result.data;
  const [low, high] = value.ports.range.split("-").map(Number) as [number, number];
  if (low < 1 || high > 65535 || low > high) {
    throw new ConfigError(
      `${file}: ports.range "${value.ports.range}" must be within 1-65535, low ≤ high`,
    );
  }
  return { ...value, file, portRange: { low, high } };
}
