import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseDuration } from "../src/duration.ts";
import type { SimModule } from "../src/framework.ts";
import { closeServer, listenPreferred } from "../src/framework.ts";
import { planModules, readSimInfo, startSim } from "../src/runner.ts";

const mod = (name: string, dependsOn: string[] = [], fail = false): SimModule => ({
  name,
  description: name,
  dependsOn,
  async start(ctx) {
    if (fail) throw new Error(`${name} cannot start`);
    const server = createServer((_q, r) => r.end(name));
    const port = await listenPreferred(server, ctx.host, ctx.previous?.port);
    started.push(name);
    return {
      endpoint: {
        name,
        url: `http://${ctx.host}:${port}`,
        port,
        extra: { peers: [...ctx.peers.keys()].join(",") },
      },
      stop: async () => {
        stopped.push(name);
        await closeServer(server);
      },
    };
  },
});

let started: string[] = [];
let stopped: string[] = [];
let dir: string;
beforeEach(async () => {
  started = [];
  stopped = [];
  dir = await mkdtemp(join(tmpdir(), "mcp-sim-runner-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("planModules", () => {
  const registry = [
    mod("mcias"),
    mod("metacrypt", ["mcias"]),
    mod("mcns", ["mcias"]),
    mod("mcproxy"),
  ];
  it("adds dependencies and keeps registry order", () => {
    expect(planModules(registry, ["mcns"]).map((m) => m.name)).toEqual(["mcias", "mcns"]);
    expect(planModules(registry).map((m) => m.name)).toEqual([
      "mcias",
      "metacrypt",
      "mcns",
      "mcproxy",
    ]);
  });
  it("names unknown modules", () => {
    expect(() => planModules(registry, ["dns"])).toThrow(
      'unknown sim module "dns" (known: mcias, metacrypt, mcns, mcproxy)',
    );
    expect(() => planModules([mod("a", ["b"])], ["a"])).toThrow(
      "sim module a depends on unknown module b",
    );
  });
});

describe("startSim", () => {
  it("starts in order, passes peers, writes sim.json, stops in reverse", async () => {
    const sim = await startSim({ dir, modules: [mod("a"), mod("b", ["a"])] });
    expect(started).toEqual(["a", "b"]);
    expect(sim.endpoints.b?.extra?.peers).toBe("a");
    const info = await readSimInfo(dir);
    expect(info).toMatchObject({ running: true, pid: process.pid, host: "127.0.0.1" });
    expect(await (await fetch(sim.endpoints.a!.url!)).text()).toBe("a");
    await sim.stop();
    await sim.stop(); // idempotent
    expect(stopped).toEqual(["b", "a"]);
    expect((await readSimInfo(dir))?.running).toBe(false);
    expect(JSON.parse(await readFile(join(dir, "sim.json"), "utf8")).pid).toBeUndefined();
  });

  it("stops what it started when a later module fails", async () => {
    await expect(startSim({ dir, modules: [mod("a"), mod("b", [], true)] })).rejects.toThrow(
      "b cannot start",
    );
    expect(stopped).toEqual(["a"]);
  });

  it("refuses a directory another live process runs, and non-loopback hosts", async () => {
    await writeFile(join(dir, "sim.json"), JSON.stringify({ running: true, pid: 1, modules: {} }));
    await expect(startSim({ dir, modules: [mod("a")] })).rejects.toThrow(
      /in use by mcp-sim \(pid 1\)/,
    );
    await expect(
      startSim({ dir: `${dir}/x`, host: "0.0.0.0", modules: [mod("a")] }),
    ).rejects.toThrow("--host 0.0.0.0: the sim binds loopback addresses only");
  });

  it("falls back to another port when the previous one is taken", async () => {
    const first = await startSim({ dir, modules: [mod("a")] });
    const port = first.endpoints.a!.port!;
    // Keep the port busy by not stopping `first`'s server; mark the dir as stopped.
    await writeFile(join(dir, "sim.json"), JSON.stringify({ ...first.info, running: false }));
    const second = await startSim({ dir, modules: [mod("a")] });
    expect(second.endpoints.a!.port).not.toBe(port);
    await second.stop();
    await first.stop();
  });
});

describe("parseDuration", () => {
  it("reads units and plain seconds", () => {
    expect(parseDuration("250ms", "x")).toBe(250);
    expect(parseDuration("90", "x")).toBe(90_000);
    expect(parseDuration("15m", "x")).toBe(900_000);
    expect(parseDuration("30d", "x")).toBe(30 * 86_400_000);
    expect(parseDuration(2, "x")).toBe(2000);
    expect(() => parseDuration("0s", "--ttl")).toThrow("--ttl: expected a positive duration");
  });
});
