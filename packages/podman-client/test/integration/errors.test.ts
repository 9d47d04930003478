import { chmod } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPodmanError, PodmanClient, type PodmanEnvironmentError } from "../../src/index.ts";
import { ensureImage, freePort, type Harness, harness, userEnv } from "./harness.ts";

let h: Harness;
let image: string;

beforeAll(async () => {
  h = await harness();
  image = await ensureImage(h);
});
afterAll(async () => {
  await h?.cleanup();
});

async function failure(p: Promise<unknown>): Promise<Error & { code: string; detail?: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isPodmanError(e)) throw new Error(`expected a PodmanError, got ${String(e)}`);
  return e as Error & { code: string; detail?: string };
}

describe("errors from real Podman are typed and keep Podman's line", () => {
  it("image not found", async () => {
    const e = await failure(
      h.client.createContainer({
        name: h.name("noimg"),
        image: "localhost/mcp-test/none:v0.0.1",
        pull: "never",
      }),
    );
    expect(e.code).toBe("image-not-found");
    expect(e.detail).toContain("image not known");
    expect((await failure(h.client.inspectImage("localhost/mcp-test/none:v0.0.1"))).code).toBe(
      "image-not-found",
    );
    expect((await failure(h.client.removeImage("localhost/mcp-test/none:v0.0.1"))).code).toBe(
      "image-not-found",
    );
  });

  it("name in use (create and rename)", async () => {
    await h.client.createContainer({ name: h.name("dup"), image, labels: h.labels });
    await h.client.createContainer({ name: h.name("dup2"), image, labels: h.labels });
    const e = await failure(h.client.createContainer({ name: h.name("dup"), image }));
    expect(e.code).toBe("name-in-use");
    expect(e.message).toContain(h.name("dup"));
    expect((await failure(h.client.renameContainer(h.name("dup2"), h.name("dup")))).code).toBe(
      "name-in-use",
    );
  });

  it("port in use", async () => {
    const port = await freePort();
    const publish = [{ hostIp: "127.0.0.1", hostPort: port, containerPort: 8080 }];
    const cmd = ["sleep", "600"];
    await h.client.runContainer({
      name: h.name("port-a"),
      image,
      cmd,
      init: true,
      ports: publish,
      labels: h.labels,
    });
    const e = await failure(
      h.client.runContainer({
        name: h.name("port-b"),
        image,
        cmd,
        init: true,
        ports: publish,
        labels: h.labels,
      }),
    );
    expect(e.code).toBe("port-in-use");
    expect(e.detail).toContain("address already in use");
  });

  it("container not found", async () => {
    const ghost = h.name("ghost");
    for (const call of [
      () => h.client.inspectContainer(ghost),
      () => h.client.stopContainer(ghost),
      () => h.client.startContainer(ghost),
      () => h.client.restartContainer(ghost),
      () => h.client.removeContainer(ghost),
      () => h.client.renameContainer(ghost, h.name("ghost2")),
      () => h.client.logs(ghost),
    ]) {
      expect((await failure(call())).code).toBe("container-not-found");
    }
    const follow = (async () => {
      for await (const _ of h.client.followLogs(h.name("ghost"), {
        signal: new AbortController().signal,
      })) {
        throw new Error("no lines expected");
      }
    })();
    expect((await failure(follow)).code).toBe("container-not-found");
    expect(await h.client.containerExists(h.name("ghost"))).toBe(false);
  });

  it("missing XDG_RUNTIME_DIR names the variable", async () => {
    const client = new PodmanClient({
      runAs: h.user,
      env: { ...userEnv(h.user), XDG_RUNTIME_DIR: undefined },
    });
    const e = await failure(client.listContainers());
    expect(e.code).toBe("environment");
    expect((e as unknown as PodmanEnvironmentError).variable).toBe("XDG_RUNTIME_DIR");
    expect(e.message).toContain("XDG_RUNTIME_DIR");

    const wrong = new PodmanClient({
      runAs: h.user,
      env: { ...userEnv(h.user), XDG_RUNTIME_DIR: "/nonexistent/run" },
    });
    const e2 = await failure(wrong.version());
    expect(e2.message).toContain("XDG_RUNTIME_DIR=/nonexistent/run");

    const readOnly = await h.tempDir();
    await chmod(readOnly, 0o500);
    const ro = new PodmanClient({
      runAs: h.user,
      env: { ...userEnv(h.user), XDG_RUNTIME_DIR: readOnly },
    });
    const e3 = await failure(ro.version());
    expect((e3 as unknown as PodmanEnvironmentError).variable).toBe("XDG_RUNTIME_DIR");
    expect(e3.message).toContain("not writable");
  });

  it("permission denied: the rootless user cannot write where root keeps its files", async () => {
    const e = await failure(
      h.client.saveImage(await ensureImage(h), "/root/podman-client-denied.tar"),
    );
    expect(e.code).toBe("permission-denied");
    expect(e.detail).toContain("permission denied");
  });

  it("podman missing", async () => {
    const onPath = new PodmanClient({
      runAs: h.user,
      env: { ...userEnv(h.user), PATH: "/nonexistent" },
    });
    const e = await failure(onPath.version());
    expect(e.code).toBe("podman-missing");
    expect(e.message).toContain("PATH=/nonexistent");
    const byPath = new PodmanClient({
      runAs: h.user,
      env: userEnv(h.user),
      podmanPath: "/nonexistent/podman",
    });
    expect((await failure(byPath.version())).code).toBe("podman-missing");
  });

  it("timeout: every call has one, and the error says so", async () => {
    const e = await failure(h.client.listContainers({ timeoutMs: 5 }));
    expect(e.code).toBe("timeout");
    expect(e.message).toContain("no answer within 5 ms");
  });

  it("aborting a call kills Podman and says so: a hanging pull, a list", async () => {
    // A "registry" that accepts connections and never answers: the pull hangs until aborted.
    // (Not a build: a killed build leaves buildah's working container behind.)
    const { createServer } = await import("node:net");
    const sockets = new Set<import("node:net").Socket>();
    const silent = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const ac = new AbortController();
      const t0 = Date.now();
      setTimeout(() => ac.abort(), 1000);
      const e = await failure(
        h.client.pullImage(`127.0.0.1:${port}/x:v1.0.0`, { tlsVerify: false, signal: ac.signal }),
      );
      expect(e.code).toBe("aborted");
      expect(Date.now() - t0).toBeLessThan(8000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
    const gone = new AbortController();
    gone.abort();
    expect((await failure(h.client.listContainers({ signal: gone.signal }))).code).toBe("aborted");
  });

  it("invalid options are refused before Podman runs", async () => {
    const e = await failure(h.client.createContainer({ name: "-x", image }));
    expect(e.code).toBe("invalid-option");
  });
});
