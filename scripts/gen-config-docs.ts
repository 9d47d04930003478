// Regenerates the generated sections of docs/configuration.md from the code they describe:
// the service definition's JSON Schema and rule codes (@mcp/servicedef) and the agent's config
// keys with their defaults (@mcp/agent). `--check` changes nothing and exits 1 when the doc is
// stale. Run with Node 24 after `pnpm build`:
//   node scripts/gen-config-docs.ts [--check] [--doc FILE]
// The root has no dependency on the packages, so their built dist/ is imported by path.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// `--doc FILE` points at another copy (the test checks that a stale copy is caught).
const docArg = process.argv.indexOf("--doc");
const docPath =
  docArg > 0 ? (process.argv[docArg + 1] ?? "") : join(root, "docs", "configuration.md");

interface RuleInfo {
  rule: string;
  code: string;
  severity: string;
  description: string;
}
interface AgentModule {
  configKeys(): { section: string; key: string; env: string }[];
  parseConfig(text: string, options: { filename: string; env?: Record<string, string> }): unknown;
}
interface ServicedefModule {
  ruleList(): RuleInfo[];
}

// What each agent key means. The names, environment variables and defaults come from the
// agent's own schema; only the prose lives here, and a key without prose fails the check.
const AGENT_MEANING: Record<string, string> = {
  "server.grpc_addr": "`host:port` to listen on (TLS 1.3, HTTP/2); `GET /healthz` answers here too",
  "server.tls_cert": "certificate (PEM); the agent refuses to start without it",
  "server.tls_key": "private key (PEM)",
  "database.path":
    "SQLite file (WAL); migrations are applied at start; the file and its `-wal`/`-shm` are made 0600",
  "mcias.server_url": "MCIAS base URL",
  "mcias.ca_cert": "CA to trust for MCIAS (PEM file); empty: system roots",
  "mcias.service_name": "sent with every token validation",
  "mcias.timeout": "per validation call",
  "mcias.cache_ttl":
    "how long a valid answer is reused (keyed by SHA-256 of the token, never past its expiry): a revoked token works at most this long; `0s` asks MCIAS every call",
  "agent.node_name": "this node (a DNS label); definitions for another node are refused",
  "agent.container_runtime": "only `podman`",
  "agent.role": "`compute` or `edge`",
  "agent.address": "address mc-proxy reaches this node's host ports at (route backend)",
  "monitor.interval": "monitor period (Podman events bring a cycle forward)",
  "monitor.alert_command": "argv run on alerts, no shell; `MCP_ALERT_*` in its environment",
  "monitor.cooldown": "at most one alert per component this often",
  "monitor.flap_threshold": "state changes within `flap_window` that count as flapping",
  "monitor.flap_window": "window for flapping, and quiet time before `stable`",
  "monitor.retention": "events older than this are deleted",
  "monitor.reconcile": "redeploy active services whose components are stopped, exited or missing",
  "log.level": "`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`",
  "metacrypt.server_url": "Metacrypt base URL; empty: certificate steps are skipped",
  "metacrypt.ca_cert": "CA to trust for Metacrypt",
  "metacrypt.token_file": "file holding the bearer token (trimmed)",
  "metacrypt.mount": "engine mount",
  "metacrypt.issuer": "issuer",
  "metacrypt.profile": "certificate profile",
  "metacrypt.ttl":
    "certificate lifetime asked for; more than 30 days (renewal starts 30 days before expiry)",
  "mcproxy.socket": "mc-proxy admin socket; empty: route steps are skipped",
  "mcproxy.listeners":
    'route port → listener name (`{"443" = "https"}`); a port without an entry uses `:<port>`',
  "mcproxy.check_interval":
    'how often the agent checks that mc-proxy still has every route it registered (service and edge routes), putting back any it lost, and renews certificates within 30 days of expiry; `"0s"` turns it off',
  "mcns.server_url": "MCNS base URL; empty: DNS steps are skipped",
  "mcns.ca_cert": "CA to trust for MCNS",
  "mcns.token_file": "file holding the bearer token (trimmed)",
  "mcns.zone": "zone of the records; default hostnames are `<service>.<zone>`",
  "mcns.ttl": "record TTL in seconds",
  "certs.dir": "where L7 certificates are written, `<service>.pem` and `.key` (0600)",
  "ports.range": "host ports handed to routes, `LOW-HIGH`",
  "podman.path": "the podman binary",
  "podman.xdg_runtime_dir": "`XDG_RUNTIME_DIR` for rootless Podman (`/run/user/<uid>`)",
  "podman.auth_file": "a ready-made auth file for pulls when `[registry]` has no credentials",
  "podman.run_as": "run podman as this user (an agent running as root, e.g. tests)",
  "podman.timeout": "long Podman calls (pull)",
  "podman.stop_timeout": "wait before a stopping container is killed",
  "registry.username":
    "MCR account for pulls (with `password_file`); with `token_file` it defaults to `mcias-token`",
  "registry.password_file":
    "file holding the password, read on every pull (rotation needs no restart)",
  "registry.token_file": "the agent's MCIAS service token, presented as the password instead",
  "registry.tls_verify": "`false` for a plain-HTTP or self-signed registry",
  "registry.cert_dir": "directory of CA certificates (`*.crt`) for the registry",
  "history.keep": "deployed specs kept per service (rollback, history), 1–100",
  "deploy.drain":
    "overrides every component's `drain` during a zero-downtime replacement (`\"\"`: each definition's)",
  "deploy.health_margin":
    "added to `start_period + retries × interval` while a deploy waits for a new container to be healthy",
};

// The sections the agent refuses to start without; each key in them without a default is
// required. Verified below: dropping any one of them must make the config invalid.
const MINIMAL: Record<string, Record<string, string>> = {
  server: { grpc_addr: "127.0.0.1:9444", tls_cert: "/c.pem", tls_key: "/k.pem" },
  database: { path: "/srv/mcp/mcp.db" },
  mcias: { server_url: "https://mcias.example:8443" },
  agent: { node_name: "rift" },
};

function toml(sections: Record<string, Record<string, string>>): string {
  return Object.entries(sections)
    .map(
      ([s, kv]) =>
        `[${s}]\n${Object.entries(kv)
          .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
          .join("\n")}`,
    )
    .join("\n");
}

// Table cells: `|` would end the cell, and `<service>` outside code spans would be read as HTML.
function cell(text: string): string {
  return text
    .replaceAll("\n", " ")
    .split("`")
    .map((part, i) => (i % 2 === 1 ? part : part.replaceAll("<", "&lt;").replaceAll(">", "&gt;")))
    .join("`")
    .replaceAll("|", "\\|");
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function agentSection(agent: AgentModule, problems: string[]): string {
  const required = new Set<string>();
  for (const [s, kv] of Object.entries(MINIMAL)) {
    for (const k of Object.keys(kv)) {
      const without = structuredClone(MINIMAL);
      delete without[s]?.[k];
      try {
        agent.parseConfig(toml(without), { filename: "minimal.toml" });
        problems.push(`agent key ${s}.${k} is listed as required but has a default`);
      } catch {
        required.add(`${s}.${k}`);
      }
    }
  }
  const parsed = agent.parseConfig(toml(MINIMAL), { filename: "minimal.toml" }) as Record<
    string,
    Record<string, unknown>
  >;
  const rows: string[][] = [];
  for (const { section, key, env } of agent.configKeys()) {
    const name = `${section}.${key}`;
    const meaning = AGENT_MEANING[name];
    if (meaning === undefined)
      problems.push(`agent key ${name} has no meaning in scripts/gen-config-docs.ts`);
    const value = parsed[section]?.[key];
    const def = required.has(name) ? "required" : `\`${JSON.stringify(value)}\``;
    rows.push([`\`${name}\``, `\`${env}\``, def, cell(meaning ?? "")]);
  }
  for (const name of Object.keys(AGENT_MEANING)) {
    if (!rows.some((r) => r[0] === `\`${name}\``))
      problems.push(`agent key ${name} no longer exists`);
  }
  return table(["key", "environment", "default", "meaning"], rows);
}

interface JsonSchema {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  oneOf?: JsonSchema[];
}

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  let t = s.type ?? "";
  if (t === "array") t = `array of ${s.items?.type ?? "?"}`;
  if (t === "object" && typeof s.additionalProperties === "object") {
    t = `table of ${s.additionalProperties.type}`;
  }
  if (s.minimum !== undefined && s.maximum !== undefined) t += ` ${s.minimum}–${s.maximum}`;
  return t;
}

function schemaRows(s: JsonSchema, prefix: string, rows: string[][]): void {
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const key = `${prefix}${name}`;
    const required = s.required?.includes(name) ? "yes" : "";
    const def = prop.default === undefined ? "" : `\`${JSON.stringify(prop.default)}\``;
    if (prop.oneOf) {
      rows.push([`\`${key}\``, "table", required, def, cell(prop.description ?? "")]);
      // Variants of a tagged union (health checks): one row per key, naming the variants.
      const seen = new Map<
        string,
        { variants: string[]; schema: JsonSchema; req: boolean; descs: string[] }
      >();
      for (const variant of prop.oneOf) {
        const tag = String(variant.properties?.type?.const ?? "?");
        for (const [vk, vs] of Object.entries(variant.properties ?? {})) {
          const entry = seen.get(vk) ?? { variants: [], schema: vs, req: true, descs: [] };
          entry.variants.push(tag);
          entry.req &&= variant.required?.includes(vk) ?? false;
          entry.descs.push(vs.description ?? "");
          seen.set(vk, entry);
        }
      }
      const all = prop.oneOf.length;
      for (const [vk, e] of seen) {
        const only = e.variants.length < all ? ` (${e.variants.join(", ")})` : "";
        const type =
          vk === "type" ? e.variants.map((v) => `\`"${v}"\``).join(" \\| ") : typeOf(e.schema);
        const same = e.descs.every((d) => d === e.descs[0]);
        const desc =
          same && vk !== "type"
            ? (e.descs[0] ?? "")
            : e.descs.map((d, i) => `${e.variants[i]}: ${d}`).join("; ");
        const vdef =
          e.schema.default === undefined ? "" : `\`${JSON.stringify(e.schema.default)}\``;
        rows.push([`\`${key}.${vk}\`${only}`, type, e.req ? "yes" : "", vdef, cell(desc)]);
      }
      continue;
    }
    if (prop.type === "array" && prop.items?.type === "object") {
      rows.push([`\`[[${key}]]\``, "array of tables", required, def, cell(prop.description ?? "")]);
      schemaRows(prop.items, `${key}.`, rows);
      continue;
    }
    if (prop.type === "object" && prop.properties) {
      rows.push([`\`[${key}]\``, "table", required, def, cell(prop.description ?? "")]);
      schemaRows(prop, `${key}.`, rows);
      continue;
    }
    rows.push([`\`${key}\``, typeOf(prop), required, def, cell(prop.description ?? "")]);
  }
}

function servicedefSection(schema: JsonSchema, sd: ServicedefModule): string {
  const rows: string[][] = [];
  schemaRows(schema, "", rows);
  const keys = table(["key", "type", "required", "default", "meaning"], rows);
  const rules = table(
    ["code", "rule", "severity", "what"],
    sd.ruleList().map((r) => [r.code, `\`${r.rule}\``, r.severity, cell(r.description)]),
  );
  return `${keys}\n\nDiagnostics of \`mcp-servicedef lint\`, \`mcp deploy\` and the agent (codes are stable; errors make a file invalid, warnings do not):\n\n${rules}`;
}

function replaceBetween(doc: string, name: string, body: string): string {
  const start = `<!-- generated:${name}:start -->`;
  const end = `<!-- generated:${name}:end -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`docs/configuration.md: markers ${start} … ${end} not found`);
  return `${doc.slice(0, i + start.length)}\n<!-- Generated by scripts/gen-config-docs.ts: do not edit by hand. -->\n\n${body}\n\n${doc.slice(j)}`;
}

async function main(): Promise<number> {
  const check = process.argv.includes("--check");
  const agent = (await import(join(root, "packages/agent/dist/index.js"))) as AgentModule;
  const sd = (await import(join(root, "packages/servicedef/dist/index.js"))) as ServicedefModule;
  const schema = JSON.parse(
    readFileSync(join(root, "packages/servicedef/dist/schema.json"), "utf8"),
  ) as JsonSchema;
  const problems: string[] = [];
  const before = readFileSync(docPath, "utf8");
  let after = replaceBetween(before, "servicedef", servicedefSection(schema, sd));
  after = replaceBetween(after, "agent", agentSection(agent, problems));
  for (const p of problems) console.error(`error: ${p}`);
  if (problems.length > 0) return 1;
  if (after === before) {
    console.log("docs/configuration.md is up to date");
    return 0;
  }
  if (check) {
    console.error(
      "error: docs/configuration.md is stale\nhint: run `node scripts/gen-config-docs.ts` after `pnpm build`",
    );
    return 1;
  }
  writeFileSync(docPath, after);
  console.log("docs/configuration.md regenerated");
  return 0;
}

process.exitCode = await main();
