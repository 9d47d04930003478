import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RuntimeEvent } from "../../src/index.ts";
import { ensureImage, freePort, type Harness, harness, waitFor } from "./harness.ts";

let h: Harness;
let image: string;

beforeAll(async () => {
  h = await harness();
  image = await ensureImage(h);
});
afterAll(async () => {
  await h?.cleanup();
});

describe("rootless Podman as user mcp", () => {
  it("reports version and info (runtime, rootless, cgroup version)", async () => {
    const [v, info] = await Promise.all([h.client.version(), h.client.info()]);
    expect(v.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(info).toMatchObject({ rootless: true, ociRuntime: "runc", version: v.version });
    expect(["v1", "v2"]).toContain(info.cgroupVersion);
    expect(info.runRoot).toContain(`/run/user/${h.user.uid}`);
  });

  it("an HTTP server in a container answers on its published port from the host", async () => {
    const port = await freePort();
    await h.client.runContainer({
      name: h.name("http"),
      image,
      cmd: [
        "sh",
        "-c",
        "mkdir -p /www && echo hello-from-busybox > /www/index.html && exec httpd -f -p 8080 -h /www",
      ],
      ports: [{ hostIp: "127.0.0.1", hostPort: port, containerPort: 8080 }],
      init: true,
      labels: h.labels,
    });
    const body = await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/`);
      return r.ok ? r.text() : undefined;
    });
    expect(body.trim()).toBe("hello-from-busybox");
  });
});

describe("container lifecycle", () => {
  it("create → inspect → start → stop → start → restart → list by label → rename → remove", async () => {
    const name = h.name("life");
    const port = await freePort();
    const dir = await h.tempDir();
    const labels = { ...h.labels, "mcp.service": "life", "mcp.component": "api" };
    const id = await h.client.createContainer({
      name,
      image,
      cmd: ["sh", "-c", "echo started; exec sleep 600"],
      env: { PORT: "8080", GREETING: "a b=c" },
      ports: [{ hostIp: "127.0.0.1", hostPort: port, containerPort: 8080 }],
      volumes: [{ source: dir, target: "/data", readOnly: true }],
      user: "1000:1000",
      restart: { name: "on-failure", maxRetries: 2 },
      labels,
      stopTimeout: 1,
      init: true,
    });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await h.client.containerExists(name)).toBe(true);

    const created = await h.client.inspectContainer(name);
    expect(created).toMatchObject({
      id,
      name,
      image,
      state: { status: "created", running: false },
      command: ["sh", "-c", "echo started; exec sleep 600"],
      user: "1000:1000",
      stopTimeout: 1,
      init: true,
      restartPolicy: { name: "on-failure", maxRetries: 2 },
      ports: [{ hostIp: "127.0.0.1", hostPort: port, containerPort: 8080, protocol: "tcp" }],
      mounts: [{ source: dir, target: "/data", readOnly: true }],
    });
    expect(created.env).toMatchObject({ PORT: "8080", GREETING: "a b=c" });
    expect(created.labels).toMatchObject(labels);

    await h.client.startContainer(name);
    expect((await h.client.inspectContainer(name)).state.running).toBe(true);

    const t0 = Date.now();
    await h.client.stopContainer(name);
    expect(Date.now() - t0).toBeLessThan(5000); // init forwards SIGTERM: no 10 s wait
    expect((await h.client.inspectContainer(name)).state.status).toBe("exited");

    await h.client.startContainer(name);
    await h.client.restartContainer(name, { timeoutSeconds: 1 });
    const after = await h.client.inspectContainer(name);
    expect(after.state.running).toBe(true);

    const listed = await h.client.listContainers({ labels: { "mcp.service": "life" } });
    expect(listed.map((c) => c.name)).toEqual([name]);
    expect(listed[0]).toMatchObject({
      state: "running",
      labels,
      command: ["sh", "-c", "echo started; exec sleep 600"],
    });
    expect(await h.client.listContainers({ labels: { "mcp.service": "nope" } })).toEqual([]);
    expect((await h.client.listContainers({ name: `^${name}$` })).map((c) => c.id)).toEqual([id]);

    // Zero-downtime replacement: the new one starts beside the old, then takes the name.
    await h.client.renameContainer(name, h.name("life-old"));
    expect(await h.client.containerExists(name)).toBe(false);
    expect((await h.client.inspectContainer(h.name("life-old"))).id).toBe(id);

    await h.client.removeContainer(h.name("life-old"), { force: true, timeoutSeconds: 0 });
    expect(await h.client.containerExists(h.name("life-old"))).toBe(false);
  });
});

describe("logs", () => {
  it("tail, since, and follow that ends on abort", async () => {
    const name = h.name("logs");
    await h.client.runContainer({
      name,
      image,
      cmd: [
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line-$i; done; sleep 2; echo late-1; exec sleep 600",
      ],
      init: true,
      labels: h.labels,
    });
    const early = await waitFor(async () => {
      const l = await h.client.logs(name);
      return l.length >= 5 ? l : undefined;
    });
    expect(early).toEqual(["line-1", "line-2", "line-3", "line-4", "line-5"]);
    expect(await h.client.logs(name, { tail: 2 })).toEqual(["line-4", "line-5"]);

    const mid = new Date();
    await waitFor(async () => ((await h.client.logs(name)).includes("late-1") ? true : undefined));
    expect(await h.client.logs(name, { since: mid })).toEqual(["late-1"]);

    const ac = new AbortController();
    const seen: string[] = [];
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 800);
    for await (const line of h.client.followLogs(name, { signal: ac.signal, tail: 1 }))
      seen.push(line);
    expect(seen).toEqual(["late-1"]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("follow streams new lines as they are written and ends when the container exits", async () => {
    const name = h.name("logs-live");
    await h.client.runContainer({
      name,
      image,
      cmd: ["sh", "-c", "for i in 1 2 3; do echo tick-$i; sleep 0.3; done"],
      init: true,
      labels: h.labels,
    });
    const ac = new AbortController();
    const seen: string[] = [];
    for await (const line of h.client.followLogs(name, { signal: ac.signal })) seen.push(line);
    expect(seen).toEqual(["tick-1", "tick-2", "tick-3"]);
  });
});

describe("events", () => {
  it("streams container events filtered by label, from a given time, until aborted", async () => {
    const ac = new AbortController();
    const events: RuntimeEvent[] = [];
    const name = h.name("events");
    // `since` replays from before the container existed: no race with the reader starting.
    const since = new Date(Date.now() - 1000);
    await h.client.runContainer({
      name,
      image,
      cmd: ["sleep", "600"],
      init: true,
      labels: h.labels,
    });
    const reader = (async () => {
      for await (const e of h.client.events({
        signal: ac.signal,
        since,
        filters: { type: ["container"], label: [`mcp-testkit.run=${h.labels["mcp-testkit.run"]}`] },
      })) {
        if (e.name === name) events.push(e);
        if (events.some((x) => x.action === "start")) ac.abort();
      }
    })();
    await Promise.race([
      reader,
      new Promise((_, rej) => setTimeout(() => rej(new Error("no start event in 15 s")), 15_000)),
    ]);
    ac.abort();
    expect(events.map((e) => e.action)).toContain("create");
    expect(events.map((e) => e.action)).toContain("start");
    expect(events[0]!.attributes["mcp-testkit.run"]).toBe(h.labels["mcp-testkit.run"]);
    expect(events[0]!.time.getTime()).toBeGreaterThanOrEqual(since.getTime());
  });
});

describe("networks", () => {
  it("creates a network with DNS: containers reach each other by name", async () => {
    const net = h.name("net");
    await h.client.createNetwork(net, { labels: h.labels });
    expect(await h.client.networkExists(net)).toBe(true);
    const listed = (await h.client.listNetworks()).find((n) => n.name === net);
    expect(listed).toMatchObject({ dnsEnabled: true, labels: h.labels });

    const server = h.name("dns-server");
    await h.client.runContainer({
      name: server,
      image,
      cmd: [
        "sh",
        "-c",
        "mkdir -p /www && echo via-dns > /www/index.html && exec httpd -f -p 8080 -h /www",
      ],
      network: net,
      init: true,
      labels: h.labels,
    });
    const probe = h.name("dns-client");
    await h.client.runContainer({
      name: probe,
      image,
      cmd: [
        "sh",
        "-c",
        `for i in $(seq 1 50); do wget -q -O- http://${server}:8080/ && exit 0; sleep 0.1; done; exit 1`,
      ],
      network: net,
      labels: h.labels,
    });
    const done = await waitFor(async () => {
      const c = await h.client.inspectContainer(probe);
      return c.state.status === "exited" ? c : undefined;
    });
    expect(await h.client.logs(probe)).toContain("via-dns");
    expect(done.state.exitCode).toBe(0);
    expect(await h.client.networkExists(h.name("no-such-net"))).toBe(false);
  });
});

describe("long logs", () => {
  it("follow of a container that writes 15 MB fast and exits gets every line", async () => {
    const name = h.name("logs-burst");
    const lines = 150_000;
    await h.client.createContainer({
      name,
      image,
      cmd: ["sh", "-c", `yes ${"y".repeat(99)} | head -n ${lines}; echo the-end`],
      labels: h.labels,
    });
    await h.client.startContainer(name);
    let n = 0;
    let last = "";
    for await (const line of h.client.followLogs(name, { signal: new AbortController().signal })) {
      n++;
      last = line;
    }
    expect(last).toBe("the-end");
    expect(n).toBe(lines + 1);
  });

  it("follow returns a long log whole (podman logs -f alone truncates it: podman#21914)", async () => {
    const name = h.name("logs-long");
    const lines = 150_000;
    await h.client.runContainer({
      name,
      image,
      cmd: ["sh", "-c", `yes ${"x".repeat(99)} | head -n ${lines}; echo the-end`],
      labels: h.labels,
    });
    await waitFor(
      async () =>
        (await h.client.inspectContainer(name)).state.status === "exited" ? true : undefined,
      30_000,
    );
    let n = 0;
    let last = "";
    for await (const line of h.client.followLogs(name, { signal: new AbortController().signal })) {
      n++;
      last = line;
    }
    expect(n).toBe(lines + 1);
    expect(last).toBe("the-end");
  });
});
