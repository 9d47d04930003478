import { describe, expect, it } from "vitest";
import { FakeContainerRuntime } from "../src/fake.ts";
import type { CreateContainerOptions, RuntimeEvent } from "../src/index.ts";
import { runtimeContract } from "./contract.ts";

const IMAGE = "localhost/mcp-test/busybox:v1.0.0";

runtimeContract("in-memory fake", async () => {
  const fake = new FakeContainerRuntime({ images: [IMAGE] });
  let port = 20000;
  // The fake has no processes: a container "prints" when the test appends to its log.
  const printing = new Map<string, string[]>();
  const origRun = fake.runContainer.bind(fake);
  fake.runContainer = async (opts: CreateContainerOptions) => {
    const id = await origRun(opts);
    const lines = printing.get(JSON.stringify(opts.cmd ?? []));
    if (lines) fake.appendLogs(id, lines);
    return id;
  };
  // The fake runs no programs: answer the contract's `sh -c "exit N"` as a shell would.
  fake.execHandler = (_c, cmd) => {
    const m = /^exit (\d+)$/.exec(cmd[2] ?? "");
    return { exitCode: m ? Number(m[1]) : 0, stdout: "", stderr: "" };
  };
  return {
    runtime: fake,
    image: IMAGE,
    name: (s) => `fake-${s}`,
    labels: { "mcp-testkit.run": "fake" },
    freePort: async () => port++,
    cmdPrinting: (lines) => {
      const cmd = ["sh", "-c", lines.map((l) => `echo ${l}`).join(";")];
      printing.set(JSON.stringify(cmd), lines);
      return cmd;
    },
    cleanup: async () => {},
  };
});

describe("FakeContainerRuntime extras", () => {
  it("pull only what the fake registry has; push adds to it", async () => {
    const fake = new FakeContainerRuntime({
      images: ["localhost/a:v1"],
      remoteImages: ["reg.example:5000/b:v1"],
    });
    expect(await fake.imageExists("reg.example:5000/b:v1")).toBe(false);
    await fake.pullImage("reg.example:5000/b:v1");
    expect(await fake.imageExists("reg.example:5000/b:v1")).toBe(true);
    await expect(fake.pullImage("reg.example:5000/c:v1")).rejects.toMatchObject({
      code: "image-not-found",
    });
    await fake.tagImage("localhost/a:v1", "reg.example:5000/a:v1");
    await fake.pushImage("reg.example:5000/a:v1");
    expect(fake.remote.has("reg.example:5000/a:v1")).toBe(true);
  });

  it("emits events for container changes, filtered by type, until aborted", async () => {
    const fake = new FakeContainerRuntime({ images: ["localhost/a:v1"] });
    const ac = new AbortController();
    const seen: RuntimeEvent[] = [];
    const reader = (async () => {
      for await (const e of fake.events({ signal: ac.signal, filters: { type: ["container"] } })) {
        seen.push(e);
        if (e.action === "remove") ac.abort();
      }
    })();
    await fake.createNetwork("n1");
    await fake.runContainer({ name: "w", image: "localhost/a:v1", labels: { "mcp.service": "w" } });
    await fake.stopContainer("w");
    await fake.removeContainer("w");
    await reader;
    expect(seen.map((e) => e.action)).toEqual(["create", "start", "died", "stop", "remove"]);
    expect(seen[0]!.attributes["mcp.service"]).toBe("w");
  });

  it("follow ends when the container exits; failNext injects a failure once", async () => {
    const fake = new FakeContainerRuntime({ images: ["localhost/a:v1"] });
    await fake.runContainer({ name: "w", image: "localhost/a:v1" });
    const ac = new AbortController();
    const seen: string[] = [];
    const reader = (async () => {
      for await (const l of fake.followLogs("w", { signal: ac.signal })) seen.push(l);
    })();
    fake.appendLogs("w", ["one"]);
    await new Promise((r) => setTimeout(r, 10));
    fake.appendLogs("w", ["two"]);
    fake.exitContainer("w", 3);
    await reader;
    expect(seen).toEqual(["one", "two"]);
    expect((await fake.inspectContainer("w")).state).toMatchObject({
      status: "exited",
      exitCode: 3,
    });

    fake.failNext.set("startContainer", new Error("boom"));
    await expect(fake.startContainer("w")).rejects.toThrow("boom");
    await fake.startContainer("w");
    // runContainer starts too: one there, the failed one, the successful one.
    expect(fake.calls.filter(([m]) => m === "startContainer")).toHaveLength(3);
  });

  it("refuses to remove a running container without force, and bad options like the real client", async () => {
    const fake = new FakeContainerRuntime({ images: ["localhost/a:v1"] });
    await fake.runContainer({ name: "w", image: "localhost/a:v1" });
    await expect(fake.removeContainer("w")).rejects.toMatchObject({ code: "command-failed" });
    await fake.removeContainer("w", { force: true });
    await expect(
      fake.createContainer({ name: "x", image: "localhost/a:v1", stopTimeout: -1 }),
    ).rejects.toMatchObject({
      code: "invalid-option",
    });
  });
});
