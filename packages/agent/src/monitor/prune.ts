import Database from "better-sqlite3";

/** Deletes registry events older than a cut-off; returns how many went. */
export interface EventPruner {
  prune(before: Date): number;
  close(): void;
}

/**
 * Retention pruning on its own connection to the agent's database (WAL, so it does not
 * block readers). The `Store` port has no delete for events; this keeps the monitor from
 * reaching into the store's implementation. `:memory:` databases are private to their
 * connection, so there is nothing to prune through a second one.
 */
export function openEventPruner(path: string): EventPruner | undefined {
  if (path === ":memory:" || path === "") return undefined;
  const db = new Database(path, { fileMustExist: true });
  db.pragma("busy_timeout = 5000");
  // Event times are ISO 8601 in UTC (`…Z`), so text order is time order.
  const del = db.prepare("DELETE FROM events WHERE time < ?");
  return {
    prune: (before) => del.run(before.toISOString()).changes,
    close: () => db.close(),
  };
}
