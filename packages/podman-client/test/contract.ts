/**
 * Behaviour every ContainerRuntime must share, run against the in-memory fake (unit) and
 * real rootless Podman (integration), so the fake cannot drift from what Podman does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ContainerRuntime, isPodmanError } from "../src/index.ts";

export interface ContractSetup {
  runtime: ContainerRuntime;
  /** An image that exists locally and has `sleep`. */
  image: string;
  name(suffix: string): string;
  labels: Record<string, string>;
  freePort(): Promise<number>;
  /** Makes the container print lines (the fake appends, Podman runs a command). */
  cmdPrinting(lines: string[]): string[];
  cleanup(): Promise<void>;
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  return isPodmanError(e) ? e.code : `not a PodmanError: ${String(e)}`;
}

export function runtimeContract(title: string, setup: () => Promise<ContractSetup>): void {
  describe(`ContainerRuntime contract: ${title}`, () => {
    let s: ContractSetup;
    beforeAll(async () => {
      s = await setup();
    });
    afterAll(async () => {
      await s?.cleanup();
    });

    it("create, start, list by label, rename, remove", async () => {
      const name = s.name("c-one");
      const labels = { ...s.labels, "mcp.service": `svc-${s.name("x")}` };
      const id = await s.runtime.createContainer({
        name,
        image: s.image,
        cmd: ["sleep", "600"],
        labels,
        init: true,
      });
      expect(await s.runtime.containerExists(name)).toBe(true);
      expect((await s.runtime.inspectContainer(name)).state.status).toBe("created");
      await s.runtime.startContainer(name);
      const listed = await s.runtime.listContainers({
        labels: { "mcp.service": labels["mcp.service"] },
      });
      expect(listed.map((c) => [c.id, c.name, c.state])).toEqual([[id, name, "running"]]);
      await s.runtime.renameContainer(name, s.name("c-two"));
      expect(await s.runtime.containerExists(name)).toBe(false);
      expect((await s.runtime.inspectContainer(s.name("c-two"))).id).toBe(id);
      await s.runtime.removeContainer(s.name("c-two"), { force: true, timeoutSeconds: 0 });
      expect(await s.runtime.containerExists(s.name("c-two"))).toBe(false);
    });

    it("exec: the program's exit code is a result; a stopped container is an error", async () => {
      const name = s.name("c-exec");
      await s.runtime.runContainer({
        name,
        image: s.image,
        cmd: ["sleep", "600"],
        labels: s.labels,
        init: true,
      });
      expect((await s.runtime.execContainer(name, ["true"])).exitCode).toBe(0);
      expect((await s.runtime.execContainer(name, ["sh", "-c", "exit 3"])).exitCode).toBe(3);
      await s.runtime.stopContainer(name, { timeoutSeconds: 0 });
      expect(await code(s.runtime.execContainer(name, ["true"]))).not.toMatch(/^not a/);
      expect(await code(s.runtime.execContainer(s.name("ghost"), ["true"]))).toBe(
        "container-not-found",
      );
      await s.runtime.removeContainer(name, { force: true, timeoutSeconds: 0 });
    });

    it("typed failures: not found, name in use, port in use, image not found", async () => {
      expect(await code(s.runtime.inspectContainer(s.name("ghost")))).toBe("container-not-found");
      expect(await code(s.runtime.stopContainer(s.name("ghost")))).toBe("container-not-found");
      const name = s.name("c-dup");
      await s.runtime.createContainer({ name, image: s.image, labels: s.labels });
      expect(await code(s.runtime.createContainer({ name, image: s.image }))).toBe("name-in-use");
      expect(
        await code(
          s.runtime.createContainer({
            name: s.name("c-noimg"),
            image: "localhost/none/x:v0.0.1",
            pull: "never",
          }),
        ),
      ).toBe("image-not-found");
      const port = await s.freePort();
      const ports = [{ hostIp: "127.0.0.1", hostPort: port, containerPort: 8080 }];
      const cmd = ["sleep", "600"];
      await s.runtime.runContainer({
        name: s.name("c-pa"),
        image: s.image,
        cmd,
        ports,
        init: true,
        labels: s.labels,
      });
      expect(
        await code(
          s.runtime.runContainer({
            name: s.name("c-pb"),
            image: s.image,
            cmd,
            ports,
            init: true,
            labels: s.labels,
          }),
        ),
      ).toBe("port-in-use");
    });

    it("logs with tail; follow ends on abort", async () => {
      const name = s.name("c-logs");
      await s.runtime.runContainer({
        name,
        image: s.image,
        cmd: s.cmdPrinting(["a", "b", "c"]),
        init: true,
        labels: s.labels,
      });
      let all: string[] = [];
      for (let i = 0; i < 100 && all.length < 3; i++) {
        all = await s.runtime.logs(name);
        if (all.length < 3) await new Promise((r) => setTimeout(r, 50));
      }
      expect(all).toEqual(["a", "b", "c"]);
      expect(await s.runtime.logs(name, { tail: 1 })).toEqual(["c"]);
      const ac = new AbortController();
      const seen: string[] = [];
      setTimeout(() => ac.abort(), 300);
      for await (const l of s.runtime.followLogs(name, { signal: ac.signal, tail: 2 }))
        seen.push(l);
      expect(seen).toEqual(["b", "c"]);
    });

    it("networks: create with DNS, exists, list", async () => {
      const net = s.name("n-one");
      await s.runtime.createNetwork(net, { labels: s.labels });
      expect(await s.runtime.networkExists(net)).toBe(true);
      expect((await s.runtime.listNetworks()).find((n) => n.name === net)?.dnsEnabled).toBe(true);
      await s.runtime.removeNetwork(net);
      expect(await s.runtime.networkExists(net)).toBe(false);
    });
  });
}
