import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  isPodmanError,
  type PodmanOutputError,
  parseContainerInspect,
  parseContainerList,
  parseEvent,
  parseImageInspect,
  parseImageList,
  parseInfo,
  parseNetworkList,
  parseVersion,
} from "../src/index.ts";

const dir = join(import.meta.dirname, "fixtures");
const json = (version: string, file: string): unknown =>
  JSON.parse(readFileSync(join(dir, version, file), "utf8"));
const lines = (version: string, file: string): unknown[] =>
  readFileSync(join(dir, version, file), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));

function outputError(fn: () => unknown): PodmanOutputError {
  try {
    fn();
  } catch (e) {
    expect(isPodmanError(e, "bad-output")).toBe(true);
    return e as PodmanOutputError;
  }
  throw new Error("expected a PodmanOutputError");
}

describe("podman ps (recorded from 4.3.1)", () => {
  const list = parseContainerList(json("podman-4.3.1", "ps.json"));

  it("reads a running container with ports, labels, networks and its command as a list", () => {
    const web = list.find((c) => c.name === "fixrun")!;
    expect(web).toMatchObject({
      state: "running",
      image: "localhost/mcp-test/busybox:v1.0.0",
      command: ["httpd", "-f", "-p", "8080", "-h", "/"],
      labels: { "mcp.service": "fix", "mcp.component": "web" },
      networks: ["fixnet"],
      ports: [{ hostIp: "127.0.0.1", hostPort: 18081, containerPort: 8080, protocol: "tcp" }],
      exitedAt: undefined,
    });
    expect(web.id).toMatch(/^[0-9a-f]{64}$/);
    expect(web.startedAt).toBeGreaterThan(1_700_000_000);
  });

  it("reads a created container: null ports, Go zero times as undefined", () => {
    const created = list.find((c) => c.name === "fixcreated")!;
    expect(created).toMatchObject({
      state: "created",
      ports: [],
      startedAt: undefined,
      exitedAt: undefined,
    });
  });

  it("treats null (no containers) as an empty list", () => {
    expect(parseContainerList(null)).toEqual([]);
    expect(parseContainerList([])).toEqual([]);
  });
});

describe("podman ps (5.x variants)", () => {
  const list = parseContainerList(json("podman-5.x", "ps.json"));

  it("accepts null Command, Labels and Ports", () => {
    const c = list[1]!;
    expect(c).toMatchObject({ command: [], labels: {}, ports: [], state: "exited", exitCode: 137 });
    expect(c.exitedAt).toBe(1795226600);
  });

  it("expands a port range", () => {
    expect(list[0]!.ports).toEqual([
      { hostIp: "", hostPort: 18081, containerPort: 8080, protocol: "tcp" },
      { hostIp: "", hostPort: 18082, containerPort: 8081, protocol: "tcp" },
    ]);
  });

  it("accepts Command as a string (older releases) as a one-element list", () => {
    const one = structuredClone((json("podman-4.3.1", "ps.json") as object[])[0]!);
    (one as Record<string, unknown>).Command = "httpd -f";
    expect(parseContainerList([one])[0]!.command).toEqual(["httpd -f"]);
  });

  it("maps an unknown state to unknown rather than failing", () => {
    const one = structuredClone((json("podman-4.3.1", "ps.json") as object[])[0]!);
    (one as Record<string, unknown>).State = "hibernating";
    expect(parseContainerList([one])[0]!.state).toBe("unknown");
  });
});

describe("bad shapes fail naming the field", () => {
  const ps = () => structuredClone(json("podman-4.3.1", "ps.json")) as Record<string, unknown>[];

  it("Command of the wrong type", () => {
    const data = ps();
    data[1]!.Command = 42;
    const e = outputError(() => parseContainerList(data));
    expect(e.field).toBe("[1].Command");
    expect(e.message).toContain("podman ps: unexpected output at [1].Command");
  });

  it("missing Id", () => {
    const data = ps();
    delete data[0]!.Id;
    expect(outputError(() => parseContainerList(data)).field).toBe("[0].Id");
  });

  it("a port without host_port", () => {
    const data = ps();
    data[0]!.Ports = [{ container_port: 80 }];
    expect(outputError(() => parseContainerList(data)).field).toBe("[0].Ports[0].host_port");
  });

  it("an object where a list belongs", () => {
    expect(outputError(() => parseContainerList({ containers: [] })).field).toBe("(top level)");
  });

  it("inspect State.Running missing", () => {
    const data = structuredClone(json("podman-4.3.1", "inspect-container-running.json")) as {
      State: Record<string, unknown>;
    }[];
    delete data[0]!.State.Running;
    const e = outputError(() => parseContainerInspect(data));
    expect(e.field).toBe("[0].State.Running");
    expect(e.message).toContain("container inspect");
  });

  it("info without security.rootless", () => {
    const data = structuredClone(json("podman-4.3.1", "info.json")) as {
      host: { security: Record<string, unknown> };
    };
    delete data.host.security.rootless;
    expect(outputError(() => parseInfo(data)).field).toBe("host.security.rootless");
  });

  it("an event without any time", () => {
    const e = outputError(() => parseEvent({ Status: "start", Type: "container" }));
    expect(e.field).toBe("Time");
  });

  it("version without Client", () => {
    expect(outputError(() => parseVersion({ Server: {} })).field).toBe("Client");
  });
});

describe("podman container inspect", () => {
  it("4.3.1 running: env, labels, restart policy, ports, mounts, init, entrypoint string", () => {
    const [c] = parseContainerInspect(json("podman-4.3.1", "inspect-container-running.json"));
    expect(c).toMatchObject({
      name: "fixrun",
      image: "localhost/mcp-test/busybox:v1.0.0",
      state: { status: "running", running: true, exitCode: 0, finishedAt: undefined },
      command: ["httpd", "-f", "-p", "8080", "-h", "/"],
      entrypoint: [],
      user: "1000:1000",
      stopTimeout: 1,
      init: true,
      restartPolicy: { name: "on-failure", maxRetries: 3 },
      ports: [{ hostIp: "127.0.0.1", hostPort: 18081, containerPort: 8080, protocol: "tcp" }],
      mounts: [{ type: "bind", source: "/tmp", target: "/data", readOnly: true }],
      networks: ["fixnet"],
    });
    expect(c!.env.FOO).toBe("bar");
    expect(c!.labels["mcp.service"]).toBe("fix");
    expect(c!.state.startedAt).toBeInstanceOf(Date);
  });

  it("4.3.1 created: never started, no ports yet", () => {
    const [c] = parseContainerInspect(json("podman-4.3.1", "inspect-container-created.json"));
    expect(c).toMatchObject({
      name: "fixcreated",
      state: { status: "created", running: false, startedAt: undefined },
      command: ["sleep", "100"],
      restartPolicy: { name: "no" },
    });
  });

  it("5.x: Entrypoint is a list", () => {
    const [c] = parseContainerInspect(json("podman-5.x", "inspect-container.json"));
    expect(c!.entrypoint).toEqual(["/bin/sh", "-c"]);
    expect(c!.restartPolicy).toEqual({ name: "always" });
  });
});

describe("images, version, info, networks, events", () => {
  it("images 4.3.1 (RepoTags null, Names set) and 5.x", () => {
    const [a] = parseImageList(json("podman-4.3.1", "images.json"));
    expect(a!.names).toEqual(["localhost/mcp-test/busybox:v1.0.0"]);
    expect(a!.size).toBeGreaterThan(0);
    const [b] = parseImageList(json("podman-5.x", "images.json"));
    expect(b!.names).toEqual(["localhost/mcp-test/busybox:v1.0.0"]);
  });

  it("image inspect", () => {
    const [i] = parseImageInspect(json("podman-4.3.1", "image-inspect.json"));
    expect(i).toMatchObject({
      architecture: "amd64",
      os: "linux",
      repoTags: ["localhost/mcp-test/busybox:v1.0.0"],
    });
  });

  it("version: the client locally, the server when remote (5.x)", () => {
    expect(parseVersion(json("podman-4.3.1", "version.json"))).toEqual({
      version: "4.3.1",
      apiVersion: "4.3.1",
      goVersion: "go1.19.8",
      osArch: "linux/amd64",
    });
    expect(parseVersion(json("podman-5.x", "version.json")).version).toBe("5.2.2");
  });

  it("info: runtime, rootless, cgroup version", () => {
    expect(parseInfo(json("podman-4.3.1", "info.json"))).toMatchObject({
      version: "4.3.1",
      rootless: true,
      ociRuntime: "runc",
      cgroupVersion: "v1",
      networkBackend: "netavark",
      graphDriver: "overlay",
    });
    expect(parseInfo(json("podman-5.x", "info.json"))).toMatchObject({
      version: "5.2.2",
      ociRuntime: "crun",
      cgroupVersion: "v2",
    });
  });

  it("network ls", () => {
    const nets = parseNetworkList(json("podman-4.3.1", "network-ls.json"));
    const fix = nets.find((n) => n.name === "fixnet")!;
    expect(fix).toMatchObject({ dnsEnabled: true, driver: "bridge", labels: { "mcp.test": "1" } });
    expect(fix.subnets[0]!.subnet).toBe("10.89.0.0/24");
  });

  it("events: 4.x Time string and 5.x time/timeNano give the same instant to the ms", () => {
    const four = lines("podman-4.3.1", "events.json").map(parseEvent);
    const five = lines("podman-5.x", "events.json").map(parseEvent);
    expect(four.length).toBeGreaterThan(3);
    expect(four[0]).toMatchObject({
      type: "container",
      action: "died",
      exitCode: 143,
      name: "fixrun",
    });
    expect(four[0]!.attributes["mcp.service"]).toBe("fix");
    for (let i = 0; i < four.length; i++) {
      expect(Math.abs(five[i]!.time.getTime() - four[i]!.time.getTime())).toBeLessThan(2);
      expect(five[i]!.action).toBe(four[i]!.action);
    }
  });
});
