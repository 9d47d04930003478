import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { and, asc, desc, eq, gt, notInArray, sql } from "drizzle-orm";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import type { ServiceDef } from "../spec.ts";
import * as schema from "./schema.ts";
import type {
  DesiredService,
  EdgeRouteRow,
  EventLevel,
  HistoryEntry,
  NewEvent,
  ObservedRow,
  Operation,
  OperationStatus,
  PortAssignment,
  Store,
  StoredEdgeRoute,
  StoredEvent,
  StoredService,
} from "./store.ts";

/**
 * The checked-in drizzle-kit migrations ship beside dist/ (package `files`); from the
 * sources they are two levels up. Walk up instead of hard-coding either layout.
 */
export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, "drizzle");
    if (existsSync(join(candidate, "meta", "_journal.json"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("mcp-agent: database migrations (drizzle/) not found beside the package");
}

const nowIso = () => new Date().toISOString();

export class SqliteStore implements Store {
  readonly #sqlite: Database.Database;
  readonly #db: BetterSQLite3Database<typeof schema>;

  constructor(path: string) {
    this.#sqlite = new Database(path);
    this.#sqlite.pragma("journal_mode = WAL");
    this.#sqlite.pragma("foreign_keys = ON");
    this.#sqlite.pragma("busy_timeout = 5000");
    this.#db = drizzle(this.#sqlite, { schema });
    migrate(this.#db, { migrationsFolder: migrationsFolder() });
  }

  transaction<T>(fn: () => T): T {
    // better-sqlite3 transactions nest as savepoints, so store methods can be grouped.
    return this.#sqlite.transaction(fn)();
  }

  #components(service: string) {
    return this.#db
      .select()
      .from(schema.components)
      .where(eq(schema.components.service, service))
      .all()
      .map((c) => ({ name: c.name, image: c.image, version: c.version, specHash: c.specHash }));
  }

  #toService(row: typeof schema.services.$inferSelect): StoredService {
    const spec = JSON.parse(row.specJson) as ServiceDef;
    const stored = new Map(this.#components(row.name).map((c) => [c.name, c]));
    // Keep definition order, not table order.
    const components = (spec.components ?? [])
      .map((c) => stored.get(c.name))
      .filter((c) => c !== undefined);
    return {
      name: row.name,
      spec,
      sourceToml: row.sourceToml,
      active: row.active,
      version: row.version,
      specHash: row.specHash,
      components,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
      deployedAt: row.deployedAt,
    };
  }

  getService(name: string): StoredService | undefined {
    const row = this.#db.select().from(schema.services).where(eq(schema.services.name, name)).get();
    return row ? this.#toService(row) : undefined;
  }

  listServices(): StoredService[] {
    return this.#db
      .select()
      .from(schema.services)
      .orderBy(asc(schema.services.name))
      .all()
      .map((r) => this.#toService(r));
  }

  putService(d: DesiredService): void {
    this.transaction(() => {
      const values = {
        name: d.name,
        specJson: JSON.stringify(d.spec),
        sourceToml: d.sourceToml,
        active: d.active,
        version: d.version,
        specHash: d.specHash,
        updatedAt: nowIso(),
      };
      this.#db
        .insert(schema.services)
        .values(values)
        .onConflictDoUpdate({ target: schema.services.name, set: values })
        .run();
      this.#db.delete(schema.components).where(eq(schema.components.service, d.name)).run();
      for (const c of d.components) {
        this.#db
          .insert(schema.components)
          .values({ service: d.name, ...c })
          .run();
      }
    });
  }

  setActive(name: string, active: boolean): void {
    this.#db
      .update(schema.services)
      .set({ active, updatedAt: nowIso() })
      .where(eq(schema.services.name, name))
      .run();
  }

  markDeployed(name: string): void {
    this.#db
      .update(schema.services)
      .set({ deployedAt: nowIso() })
      .where(eq(schema.services.name, name))
      .run();
  }

  deleteService(name: string): void {
    this.transaction(() => {
      this.#db.delete(schema.portAssignments).where(eq(schema.portAssignments.service, name)).run();
      this.#db.delete(schema.services).where(eq(schema.services.name, name)).run();
    });
  }

  listPorts(service?: string): PortAssignment[] {
    const q = this.#db
      .select({
        hostPort: schema.portAssignments.hostPort,
        service: schema.portAssignments.service,
        component: schema.portAssignments.component,
        route: schema.portAssignments.route,
      })
      .from(schema.portAssignments);
    const rows =
      service === undefined ? q.all() : q.where(eq(schema.portAssignments.service, service)).all();
    return rows.sort((a, b) => a.hostPort - b.hostPort);
  }

  assignPorts(assignments: PortAssignment[]): void {
    this.transaction(() => {
      for (const a of assignments) this.#db.insert(schema.portAssignments).values(a).run();
    });
  }

  releasePorts(service: string, keep: PortAssignment[] = []): void {
    const kept = keep.map((k) => k.hostPort);
    this.#db
      .delete(schema.portAssignments)
      .where(
        kept.length > 0
          ? and(
              eq(schema.portAssignments.service, service),
              notInArray(schema.portAssignments.hostPort, kept),
            )
          : eq(schema.portAssignments.service, service),
      )
      .run();
  }

  replaceObserved(rows: Omit<ObservedRow, "lastSeen">[]): void {
    const seen = nowIso();
    this.transaction(() => {
      this.#db.delete(schema.observedContainers).run();
      for (const r of rows) {
        this.#db
          .insert(schema.observedContainers)
          .values({ ...r, lastSeen: seen })
          .run();
      }
    });
  }

  listObserved(): ObservedRow[] {
    return this.#db
      .select()
      .from(schema.observedContainers)
      .orderBy(asc(schema.observedContainers.name))
      .all();
  }

  addEvent(e: NewEvent): void {
    this.#db
      .insert(schema.events)
      .values({
        time: nowIso(),
        service: e.service ?? "",
        component: e.component ?? "",
        kind: e.kind,
        level: e.level ?? "info",
        fromState: e.from ?? "",
        toState: e.to ?? "",
        message: e.message ?? "",
      })
      .run();
  }

  listEvents(filter: { service?: string; since?: string; limit?: number } = {}): StoredEvent[] {
    const conds = [];
    if (filter.service !== undefined) conds.push(eq(schema.events.service, filter.service));
    if (filter.since !== undefined) conds.push(gt(schema.events.time, filter.since));
    return this.#db
      .select()
      .from(schema.events)
      .where(conds.length > 0 ? and(...conds) : undefined)
      .orderBy(desc(schema.events.id))
      .limit(filter.limit && filter.limit > 0 ? filter.limit : 100)
      .all()
      .map((r) => ({
        id: r.id,
        time: r.time,
        service: r.service,
        component: r.component,
        kind: r.kind,
        level: r.level as EventLevel,
        from: r.fromState,
        to: r.toState,
        message: r.message,
      }));
  }

  beginOperation(op: { id: string; service: string; kind: string }): void {
    const t = nowIso();
    this.#db
      .insert(schema.operations)
      .values({ ...op, status: "running", startedAt: t, updatedAt: t })
      .run();
  }

  updateOperation(id: string, step: string): void {
    this.#db
      .update(schema.operations)
      .set({ step, updatedAt: nowIso() })
      .where(eq(schema.operations.id, id))
      .run();
  }

  finishOperation(id: string, status: Exclude<OperationStatus, "running">, error = ""): void {
    this.#db
      .update(schema.operations)
      .set({ status, error, updatedAt: nowIso() })
      .where(eq(schema.operations.id, id))
      .run();
  }

  unfinishedOperations(): Operation[] {
    return this.#db
      .select()
      .from(schema.operations)
      .where(eq(schema.operations.status, "running"))
      .orderBy(asc(schema.operations.startedAt))
      .all();
  }

  addHistory(
    entry: Omit<HistoryEntry, "id" | "time" | "spec"> & { spec: ServiceDef },
    keep: number,
  ): void {
    this.transaction(() => {
      this.#db
        .insert(schema.history)
        .values({
          service: entry.service,
          version: entry.version,
          specJson: JSON.stringify(entry.spec),
          sourceToml: entry.sourceToml,
          outcome: entry.outcome,
          message: entry.message,
          time: nowIso(),
        })
        .run();
      // Keep the newest `keep` rows of this service.
      this.#db.run(sql`DELETE FROM history WHERE service = ${entry.service} AND id NOT IN (
        SELECT id FROM history WHERE service = ${entry.service} ORDER BY id DESC LIMIT ${keep})`);
    });
  }

  listHistory(service: string, limit?: number): HistoryEntry[] {
    const q = this.#db
      .select()
      .from(schema.history)
      .where(eq(schema.history.service, service))
      .orderBy(desc(schema.history.id));
    const rows = limit && limit > 0 ? q.limit(limit).all() : q.all();
    return rows.map((r) => ({
      id: r.id,
      service: r.service,
      version: r.version,
      spec: JSON.parse(r.specJson) as ServiceDef,
      sourceToml: r.sourceToml,
      outcome: r.outcome,
      message: r.message,
      time: r.time,
    }));
  }

  listHistoryServices(): string[] {
    return this.#db
      .selectDistinct({ service: schema.history.service })
      .from(schema.history)
      .orderBy(asc(schema.history.service))
      .all()
      .map((r) => r.service);
  }

  recordPulledImage(image: string): void {
    this.#db
      .insert(schema.pulledImages)
      .values({ image, pulledAt: nowIso() })
      .onConflictDoUpdate({ target: schema.pulledImages.image, set: { pulledAt: nowIso() } })
      .run();
  }

  listPulledImages(): string[] {
    return this.#db
      .select()
      .from(schema.pulledImages)
      .orderBy(asc(schema.pulledImages.image))
      .all()
      .map((r) => r.image);
  }

  forgetPulledImage(image: string): void {
    this.#db.delete(schema.pulledImages).where(eq(schema.pulledImages.image, image)).run();
  }

  putEdgeRoute(route: EdgeRouteRow): void {
    const { listener, hostname, ...rest } = route;
    this.#db
      .insert(schema.edgeRoutes)
      .values({ ...route, updatedAt: nowIso() })
      .onConflictDoUpdate({
        target: [schema.edgeRoutes.listener, schema.edgeRoutes.hostname],
        set: { ...rest, updatedAt: nowIso() },
      })
      .run();
  }

  listEdgeRoutes(): StoredEdgeRoute[] {
    return this.#db
      .select()
      .from(schema.edgeRoutes)
      .orderBy(asc(schema.edgeRoutes.listener), asc(schema.edgeRoutes.hostname))
      .all();
  }

  getEdgeRoute(listener: string, hostname: string): StoredEdgeRoute | undefined {
    return this.#db
      .select()
      .from(schema.edgeRoutes)
      .where(
        and(eq(schema.edgeRoutes.listener, listener), eq(schema.edgeRoutes.hostname, hostname)),
      )
      .get();
  }

  deleteEdgeRoute(listener: string, hostname: string): void {
    this.#db
      .delete(schema.edgeRoutes)
      .where(
        and(eq(schema.edgeRoutes.listener, listener), eq(schema.edgeRoutes.hostname, hostname)),
      )
      .run();
  }

  loadMonitorStates(): { key: string; json: string }[] {
    return this.#db
      .select({ key: schema.monitorStates.key, json: schema.monitorStates.stateJson })
      .from(schema.monitorStates)
      .all();
  }

  saveMonitorStates(rows: readonly { key: string; json: string }[]): void {
    this.transaction(() => {
      this.#db.delete(schema.monitorStates).run();
      const at = nowIso();
      for (const r of rows) {
        this.#db
          .insert(schema.monitorStates)
          .values({ key: r.key, stateJson: r.json, updatedAt: at })
          .run();
      }
    });
  }

  close(): void {
    this.#sqlite.close();
  }
}

export function openStore(path: string): Store {
  return new SqliteStore(path);
}
