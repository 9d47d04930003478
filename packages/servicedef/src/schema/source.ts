// The one description of the service-definition shape. It is used at BUILD time only:
// scripts/gen-schema.ts turns it into gen/schema.json (shipped as
// `@mcp/servicedef/schema.json` and walked at run time by structure.ts), and
// test/types.test.ts proves the hand-written types in src/types.ts equal what zod infers
// from it. Zod itself never loads at run time: importing it costs ~45 ms against a 30 ms
// budget for the whole package (docs/decisions/0002-schema-source.md).
//
// Only erasable TypeScript here: Node runs this file directly with type stripping.
import { z } from "zod";

const DNS_LABEL_PATTERN = "^[a-z][a-z0-9-]{0,62}$";
const DURATION_PATTERN = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$";

const label = (what: string) =>
  z.string().regex(new RegExp(DNS_LABEL_PATTERN)).describe(`${what}: a DNS label`);

const duration = (what: string, dflt: string) =>
  z
    .string()
    .regex(new RegExp(DURATION_PATTERN))
    .default(dflt)
    .describe(`${what}, a duration such as "500ms", "10s", "1m30s"`);

const common = {
  interval: duration("Time between two checks", "10s"),
  timeout: duration("Time one check may take", "2s"),
  retries: z
    .int()
    .min(1)
    .max(100)
    .default(3)
    .describe("Consecutive failures before the component is unhealthy"),
  start_period: duration("Grace time after start during which failures do not count", "0s"),
};

export const HttpHealthCheckSchema = z
  .strictObject({
    type: z.literal("http").describe("HTTP GET against a route's port"),
    path: z.string().regex(/^\//).default("/").describe("Request path"),
    status: z.int().min(100).max(599).default(200).describe("Expected HTTP status"),
    route: label("Route whose port is probed (required when the component has several routes)")
      .optional()
      .describe("Route whose port is probed (required when the component has several routes)"),
    ...common,
  })
  .describe("HTTP health check");

export const TcpHealthCheckSchema = z
  .strictObject({
    type: z.literal("tcp").describe("TCP connect to a route's port"),
    route: label("Route whose port is probed (default: every route)")
      .optional()
      .describe("Route whose port is probed (default: every route)"),
    ...common,
  })
  .describe("TCP health check");

export const CommandHealthCheckSchema = z
  .strictObject({
    type: z.literal("command").describe("Command run inside the container; exit 0 is healthy"),
    command: z.array(z.string()).min(1).describe("Program and arguments (no shell)"),
    ...common,
  })
  .describe("Command health check");

export const HealthCheckSchema = z
  .discriminatedUnion("type", [
    HttpHealthCheckSchema,
    TcpHealthCheckSchema,
    CommandHealthCheckSchema,
  ])
  .describe(
    "Health check of the component. Default when absent: a TCP connect to each route's port.",
  );

export const RouteSchema = z
  .strictObject({
    name: label("Route name; sets $PORT_<NAME>. Required when the component has several routes")
      .optional()
      .describe("Route name; sets $PORT_<NAME>. Required when the component has several routes"),
    port: z.int().min(1).max(65535).describe("External port on mc-proxy (e.g. 443, 8443, 9443)"),
    mode: z
      .enum(["l4", "l7"])
      .describe("l4: TLS passthrough to the service; l7: mc-proxy terminates TLS"),
    hostname: z
      .string()
      .optional()
      .describe("Public hostname (default: <service>.svc.mcp.metacircular.net)"),
  })
  .describe("A route from mc-proxy to the component");

export const ComponentSchema = z
  .strictObject({
    name: label("Component name (e.g. api, web); the container is <service>-<component>"),
    image: z
      .string()
      .describe(
        "Full image reference pinned to a semver tag, e.g. mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0",
      ),
    volumes: z
      .array(z.string())
      .optional()
      .describe("Volume mounts, host:container[:options]; the container path is absolute"),
    cmd: z.array(z.string()).optional().describe("Command override (list of strings)"),
    env: z.array(z.string()).optional().describe("Extra environment variables, KEY=VALUE"),
    network: z.string().optional().describe("Container network (e.g. mcpnet)"),
    user: z.string().optional().describe("Container user (e.g. 0:0)"),
    restart: z
      .string()
      .optional()
      .describe("Podman restart policy: no, always, on-failure[:N], unless-stopped"),
    drain: duration("Time to keep the old container serving during a replacement", "5s"),
    health: HealthCheckSchema.optional(),
    routes: z.array(RouteSchema).optional().describe("Routes from mc-proxy to the component"),
  })
  .describe("A container of the service");

export const ServiceDefSchema = z
  .strictObject({
    name: label("Service name (matches the project name)"),
    node: label("Node to deploy to (e.g. rift)"),
    active: z.boolean().default(true).describe("Whether MCP keeps this service running"),
    path: z
      .string()
      .optional()
      .describe("Source directory relative to the workspace root (default: name)"),
    build: z
      .strictObject({
        images: z
          .record(z.string(), z.string())
          .optional()
          .describe(
            "Image repository name → Dockerfile path; each key is the repository name of a component's image",
          ),
      })
      .optional()
      .describe("How `mcp build` builds the images"),
    components: z.array(ComponentSchema).optional().describe("The containers of the service"),
  })
  .describe("An MCP service definition");

export function jsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ServiceDefSchema, {
    io: "input",
    target: "draft-7",
    unrepresentable: "throw",
  }) as Record<string, unknown>;
  return {
    $schema: generated.$schema,
    $id: "https://mcp.metacircular.net/schema/servicedef.json",
    title: "MCP service definition",
    ...generated,
  };
}
