import { create, type DescMethod } from "@bufbuild/protobuf";
import { type Code, ConnectError } from "@connectrpc/connect";
import type { PodmanHarness } from "@mcp/testkit";
import Database from "better-sqlite3";

// Shared by the security and fault suites: generic calls over the service descriptor, and
// snapshots of everything the agent could change (its database and its containers).

export async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export async function codeOf(p: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return ConnectError.from(e).code;
  }
}

export function serviceToml(name: string, image: string, extra = ""): string {
  return `name = "${name}"
node = "rift"

[[components]]
name = "web"
image = "${image}"
${extra}
[[components.routes]]
port = 443
mode = "l4"
`;
}

/**
 * A request for any AgentService method, filled from its input descriptor so a method added
 * later gets one too: `service`-like string fields name the target, `spec` carries a
 * definition, `specs` a list of one, `dry_run` as asked, everything else its default.
 */
export function requestFor(
  method: DescMethod,
  o: { service: string; spec?: { name: string; node: string; toml: string }; dryRun?: boolean },
): unknown {
  const init: Record<string, unknown> = {};
  for (const f of method.input.fields) {
    if (f.localName === "service" && f.fieldKind === "scalar") init.service = o.service;
    else if (f.localName === "spec" && o.spec) init.spec = o.spec;
    else if (f.localName === "specs" && o.spec) init.specs = [o.spec];
    else if (f.localName === "dryRun") init.dryRun = o.dryRun ?? false;
  }
  return create(method.input, init as never);
}

/** Calls any method through a client built from the same descriptor; streams are drained. */
export function callAny(
  client: Record<string, (req: unknown, opts?: unknown) => unknown>,
  method: DescMethod,
  req: unknown,
): Promise<unknown> {
  const fn = client[method.localName];
  if (!fn) throw new Error(`client has no ${method.localName}`);
  const opts = { signal: AbortSignal.timeout(20_000) };
  if (method.methodKind === "server_streaming") {
    return drain(fn(req, opts) as AsyncIterable<unknown>);
  }
  return fn(req, opts) as Promise<unknown>;
}

/**
 * Every row of every table of the agent's database (read-only, beside the running agent;
 * WAL lets readers in). `events` written by the monitor are left out when `skipEvents`.
 */
export function dumpDb(path: string, skip: readonly string[] = []): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      if (skip.includes(name)) continue;
      const rows = db.prepare(`SELECT * FROM "${name}"`).all() as { name?: string }[];
      // The skipped tables' autoincrement counters move with them.
      out[name] =
        name === "sqlite_sequence" ? rows.filter((r) => !skip.includes(String(r.name))) : rows;
    }
    return out;
  } finally {
    db.close();
  }
}

export function integrityCheck(path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma("integrity_check", { simple: true }));
  } finally {
    db.close();
  }
}

/** This run's containers: name → id and state. */
export async function containersOf(podman: PodmanHarness): Promise<Record<string, string>> {
  const list = await podman.client.listContainers({ all: true });
  const out: Record<string, string> = {};
  for (const c of list) {
    if (c.name.startsWith(podman.prefix)) out[c.name] = `${c.id} ${c.state}`;
  }
  return out;
}
