import { sql } from "drizzle-orm";
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";

// The agent's registry. Migrations are generated from this file with drizzle-kit
// (`pnpm --filter @mcp/agent db:generate`) and checked in under drizzle/.

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

/** Desired state: one row per service the operator defined on this node. */
export const services = sqliteTable("services", {
  name: text("name").primaryKey(),
  /** The validated definition (servicedef's ServiceDef) as JSON. */
  specJson: text("spec_json").notNull(),
  /** The TOML the operator wrote, kept for export. */
  sourceToml: text("source_toml").notNull().default(""),
  active: integer("active", { mode: "boolean" }).notNull(),
  version: text("version").notNull().default(""),
  specHash: text("spec_hash").notNull(),
  createdAt: text("created_at").notNull().default(now),
  updatedAt: text("updated_at").notNull().default(now),
  /** When the last successful deploy finished; null before the first. */
  deployedAt: text("deployed_at"),
});

export const components = sqliteTable(
  "components",
  {
    service: text("service")
      .notNull()
      .references(() => services.name, { onDelete: "cascade" }),
    name: text("name").notNull(),
    image: text("image").notNull(),
    version: text("version").notNull().default(""),
    /** Hash of the container-relevant spec; the container carries it as a label. */
    specHash: text("spec_hash").notNull(),
  },
  (t) => [primaryKey({ columns: [t.service, t.name] })],
);

/**
 * Host ports handed out to routes. The primary key makes a port impossible to assign
 * twice; a row stays until undeploy, so a port is never reused while assigned.
 */
export const portAssignments = sqliteTable(
  "port_assignments",
  {
    hostPort: integer("host_port").primaryKey(),
    service: text("service").notNull(),
    component: text("component").notNull(),
    /** Route name; "" for a component's single unnamed route. */
    route: text("route").notNull(),
    assignedAt: text("assigned_at").notNull().default(now),
  },
  (t) => [uniqueIndex("port_assignments_route").on(t.service, t.component, t.route)],
);

/** Last seen state of containers, from Podman's list. */
export const observedContainers = sqliteTable("observed_containers", {
  name: text("name").primaryKey(),
  id: text("id").notNull(),
  image: text("image").notNull(),
  state: text("state").notNull(),
  exitCode: integer("exit_code"),
  health: text("health").notNull().default(""),
  service: text("service").notNull().default(""),
  component: text("component").notNull().default(""),
  version: text("version").notNull().default(""),
  lastSeen: text("last_seen").notNull().default(now),
});

export const events = sqliteTable(
  "events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    time: text("time").notNull().default(now),
    service: text("service").notNull().default(""),
    component: text("component").notNull().default(""),
    kind: text("kind").notNull(),
    level: text("level", { enum: ["info", "warning", "error"] })
      .notNull()
      .default("info"),
    fromState: text("from_state").notNull().default(""),
    toState: text("to_state").notNull().default(""),
    message: text("message").notNull().default(""),
  },
  (t) => [index("events_service_time").on(t.service, t.time)],
);

/**
 * The operation journal: a row per deploy/stop/undeploy, updated as each step runs, so
 * that an operation interrupted by a crash can be found (status "running") on restart.
 */
export const operations = sqliteTable(
  "operations",
  {
    id: text("id").primaryKey(),
    service: text("service").notNull(),
    kind: text("kind").notNull(),
    step: text("step").notNull().default(""),
    status: text("status", { enum: ["running", "succeeded", "failed", "rolled_back"] }).notNull(),
    error: text("error").notNull().default(""),
    startedAt: text("started_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("operations_status").on(t.status)],
);

/** The last N specs deployed per service, with the outcome. */
export const history = sqliteTable(
  "history",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    service: text("service").notNull(),
    version: text("version").notNull().default(""),
    specJson: text("spec_json").notNull(),
    sourceToml: text("source_toml").notNull().default(""),
    outcome: text("outcome", { enum: ["succeeded", "failed", "rolled_back"] }).notNull(),
    message: text("message").notNull().default(""),
    time: text("time").notNull().default(now),
  },
  (t) => [index("history_service").on(t.service, t.id)],
);

/**
 * Images the agent pulled itself for a managed service: the only images history retention
 * may remove. An image that was already present (built or pulled by hand) is never listed.
 */
export const pulledImages = sqliteTable("pulled_images", {
  image: text("image").primaryKey(),
  pulledAt: text("pulled_at").notNull().default(now),
});

/**
 * Routes an edge node carries for services that run on compute nodes (AddEdgeRoute). Kept
 * so that the edge agent lists them, puts them back when mc-proxy lost them, and renews
 * the certificates of its L7 ones.
 */
export const edgeRoutes = sqliteTable(
  "edge_routes",
  {
    listener: text("listener").notNull(),
    hostname: text("hostname").notNull(),
    backend: text("backend").notNull(),
    mode: text("mode", { enum: ["l4", "l7"] }).notNull(),
    /** The service on the compute node the route reaches; "" when the caller did not say. */
    service: text("service").notNull().default(""),
    /** The compute node the route reaches; "" when the caller did not say. */
    node: text("node").notNull().default(""),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [primaryKey({ columns: [t.listener, t.hostname] })],
);

/**
 * The monitor's last view of each component (its `ComponentState` as JSON), so that an
 * agent restart neither re-alerts what the operator was already told nor misses what
 * changed while it was down.
 */
export const monitorStates = sqliteTable("monitor_states", {
  key: text("key").primaryKey(),
  stateJson: text("state_json").notNull(),
  updatedAt: text("updated_at").notNull().default(now),
});
