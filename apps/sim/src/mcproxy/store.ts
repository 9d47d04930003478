// Persistence of the mc-proxy stand-in: routes.json (the routes, so a restart loses nothing) and
// state.json (which loopback port serves which listener, for people and tests to read).
// Writes go to a temporary file that is renamed over the old one, so a crash leaves either the
// old or the new file, never half of one.

import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { normalizeHostname, parseBackend, type RouteSpec } from "./routes.ts";

export interface RoutesFile {
  version: 1;
  routes: RouteSpec[];
}

export interface StateFile {
  version: 1;
  socketPath: string;
  /** Listener name (the public address, e.g. ":443") → where the sim really listens. */
  listeners: { address: string; host: string; port: number }[];
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(tmp, "w", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
}

export async function readRoutesFile(file: string): Promise<RouteSpec[]> {
  const data = (await readJson(file)) as Partial<RoutesFile> | undefined;
  if (data === undefined) return [];
  if (data.version !== 1 || !Array.isArray(data.routes)) {
    throw new Error(`${file}: expected {"version":1,"routes":[...]}`);
  }
  return data.routes.map((r, i) => {
    const ok =
      typeof r?.listener === "string" &&
      typeof r.hostname === "string" &&
      normalizeHostname(r.hostname).ok &&
      typeof r.backend === "string" &&
      parseBackend(r.backend).ok &&
      (r.mode === "l4" || r.mode === "l7") &&
      typeof r.tlsCert === "string" &&
      typeof r.tlsKey === "string" &&
      typeof r.backendTls === "boolean";
    if (!ok) throw new Error(`${file}: routes[${i}] is not a valid route`);
    return r;
  });
}

export async function readStateFile(file: string): Promise<StateFile | undefined> {
  const data = (await readJson(file)) as StateFile | undefined;
  if (data?.version !== 1 || !Array.isArray(data.listeners)) return undefined;
  return data;
}
