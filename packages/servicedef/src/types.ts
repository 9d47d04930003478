// The public shape of a service definition after parsing: defaults applied. Keys keep the
// TOML spelling (`start_period`) so that a definition and its file read the same.
// test/types.test.ts proves these equal what zod infers from src/schema/source.ts.

export type Duration = string;

interface HealthCheckCommon {
  /** Time between two checks (default "10s"). */
  interval: Duration;
  /** Time one check may take (default "2s"). */
  timeout: Duration;
  /** Consecutive failures before the component is unhealthy (default 3). */
  retries: number;
  /** Grace time after start during which failures do not count (default "0s"). */
  start_period: Duration;
}

export interface HttpHealthCheck extends HealthCheckCommon {
  type: "http";
  /** Request path (default "/"). */
  path: string;
  /** Expected status (default 200). */
  status: number;
  /** Route whose port is probed; required when the component has several routes. */
  route?: string | undefined;
}

export interface TcpHealthCheck extends HealthCheckCommon {
  type: "tcp";
  /** Route whose port is probed; every route when absent. */
  route?: string | undefined;
}

export interface CommandHealthCheck extends HealthCheckCommon {
  type: "command";
  /** Program and arguments, run inside the container without a shell. */
  command: string[];
}

export type HealthCheck = HttpHealthCheck | TcpHealthCheck | CommandHealthCheck;

export interface Route {
  /** Route name; sets `$PORT_<NAME>`. Required when the component has several routes. */
  name?: string | undefined;
  /** External port on mc-proxy. */
  port: number;
  /** `l4`: TLS passthrough; `l7`: mc-proxy terminates TLS. */
  mode: "l4" | "l7";
  /** Public hostname; `<service>.svc.mcp.metacircular.net` when absent. */
  hostname?: string | undefined;
}

export interface Component {
  name: string;
  image: string;
  volumes?: string[] | undefined;
  cmd?: string[] | undefined;
  env?: string[] | undefined;
  network?: string | undefined;
  user?: string | undefined;
  restart?: string | undefined;
  /** How long the old container keeps serving during a replacement (default "5s"). */
  drain: Duration;
  health?: HealthCheck | undefined;
  routes?: Route[] | undefined;
}

export interface ServiceDef {
  name: string;
  node: string;
  /** Whether MCP keeps the service running (default true). */
  active: boolean;
  /** Source directory relative to the workspace (default: the service name). */
  path: string;
  build?: { images?: Record<string, string> | undefined } | undefined;
  components?: Component[] | undefined;
}

export type Severity = "error" | "warning";

export interface Diagnostic {
  /** Stable rule code, e.g. `SD011`. */
  code: string;
  /** Short rule name, e.g. `invalid-mode`. */
  rule: string;
  severity: Severity;
  message: string;
  /** Key path of the offending key or value, e.g. `components[1].routes[0].mode`; "" for the file. */
  path: string;
  /** 1-based line of the offending key or value in the source. */
  line: number;
  /** 1-based column (UTF-16 code units, as editors count). */
  column: number;
}

export interface ParseOptions {
  /** Shown nowhere in diagnostics themselves; kept for callers that report per file. */
  filename?: string;
}

export interface ParseResult {
  /** True when no diagnostic has severity "error". */
  ok: boolean;
  /** The definition with defaults applied; undefined when `ok` is false. */
  value: ServiceDef | undefined;
  diagnostics: Diagnostic[];
  filename?: string | undefined;
}
