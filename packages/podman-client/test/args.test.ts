import { describe, expect, it } from "vitest";
import {
  buildArgs,
  createContainerArgs,
  createNetworkArgs,
  eventsArgs,
  isPodmanError,
  listContainersArgs,
  logsArgs,
  pullArgs,
  pushArgs,
  removeContainerArgs,
  stopArgs,
} from "../src/index.ts";

function invalid(fn: () => unknown, text: string) {
  try {
    fn();
  } catch (e) {
    expect(isPodmanError(e, "invalid-option")).toBe(true);
    expect((e as Error).message).toContain(text);
    return;
  }
  throw new Error("expected an InvalidOptionError");
}

describe("createContainerArgs", () => {
  it("covers every option, in a stable order, image then command last", () => {
    expect(
      createContainerArgs({
        name: "web-api",
        image: "localhost/x:v1.0.0",
        cmd: ["httpd", "-f", "-p", "8080"],
        entrypoint: ["/bin/sh", "-c"],
        env: { PORT: "8080", GREETING: "a b=c" },
        ports: [
          { hostPort: 18080, containerPort: 8080, hostIp: "127.0.0.1" },
          { hostPort: 5353, containerPort: 53, protocol: "udp" },
          { hostPort: 9000, containerPort: 9000, hostIp: "::1" },
        ],
        volumes: [
          { source: "/srv/web", target: "/data" },
          { source: "/etc/ssl", target: "/ssl", readOnly: true },
        ],
        network: "mcpnet",
        networkAliases: ["web"],
        user: "1000:1000",
        restart: { name: "on-failure", maxRetries: 3 },
        labels: { "mcp.service": "web", "mcp.component": "api" },
        stopTimeout: 1,
        init: true,
        workdir: "/app",
        hostname: "web",
        pull: "never",
        ulimits: ["nofile=1024:1024"],
        extraArgs: ["--read-only"],
      }),
    ).toEqual([
      "create",
      "--name",
      "web-api",
      "--pull=never",
      "--env",
      "PORT=8080",
      "--env",
      "GREETING=a b=c",
      "--publish",
      "127.0.0.1:18080:8080",
      "--publish",
      "5353:53/udp",
      "--publish",
      "[::1]:9000:9000",
      "--volume",
      "/srv/web:/data",
      "--volume",
      "/etc/ssl:/ssl:ro",
      "--network",
      "mcpnet",
      "--network-alias",
      "web",
      "--user",
      "1000:1000",
      "--restart",
      "on-failure:3",
      "--label",
      "mcp.service=web",
      "--label",
      "mcp.component=api",
      "--stop-timeout",
      "1",
      "--init",
      "--workdir",
      "/app",
      "--hostname",
      "web",
      "--ulimit",
      "nofile=1024:1024",
      "--entrypoint",
      '["/bin/sh","-c"]',
      "--read-only",
      "localhost/x:v1.0.0",
      "httpd",
      "-f",
      "-p",
      "8080",
    ]);
  });

  it("run is create with -d; minimal options give a minimal command", () => {
    expect(createContainerArgs({ name: "a", image: "i:1" }, true)).toEqual([
      "run",
      "-d",
      "--name",
      "a",
      "i:1",
    ]);
    expect(createContainerArgs({ name: "a", image: "i:1", entrypoint: "/bin/sh" })).toContain(
      "/bin/sh",
    );
  });

  it("restart policies", () => {
    const restart = (r: Parameters<typeof createContainerArgs>[0]["restart"]) =>
      createContainerArgs({ name: "a", image: "i:1", restart: r }).slice(3, 5);
    expect(restart({ name: "always" })).toEqual(["--restart", "always"]);
    expect(restart({ name: "unless-stopped" })).toEqual(["--restart", "unless-stopped"]);
    expect(restart({ name: "on-failure", maxRetries: 0 })).toEqual(["--restart", "on-failure"]);
    expect(restart({ name: "no" })).toEqual(["--restart", "no"]);
  });

  it("refuses bad values naming the option, before anything runs", () => {
    const base = { name: "a", image: "i:1" };
    invalid(() => createContainerArgs({ ...base, name: "" }), "name");
    invalid(
      () => createContainerArgs({ ...base, name: "--privileged" }),
      'name must not start with "-"',
    );
    invalid(() => createContainerArgs({ ...base, image: "" }), "image");
    invalid(
      () => createContainerArgs({ ...base, ports: [{ hostPort: 0, containerPort: 80 }] }),
      "ports[].hostPort",
    );
    invalid(
      () => createContainerArgs({ ...base, ports: [{ hostPort: 80, containerPort: 70000 }] }),
      "ports[].containerPort",
    );
    invalid(
      () => createContainerArgs({ ...base, volumes: [{ source: "/a", target: "rel" }] }),
      "volumes[].target",
    );
    invalid(
      () => createContainerArgs({ ...base, volumes: [{ source: "/a:b", target: "/x" }] }),
      "volumes[]",
    );
    invalid(
      () => createContainerArgs({ ...base, env: { "A=B": "x" } }),
      'env: invalid variable name "A=B"',
    );
    invalid(() => createContainerArgs({ ...base, labels: { "": "x" } }), "labels");
    invalid(() => createContainerArgs({ ...base, stopTimeout: -1 }), "stopTimeout");
    invalid(() => createContainerArgs({ ...base, stopTimeout: 1.5 }), "stopTimeout");
    invalid(() => createContainerArgs({ ...base, workdir: "app" }), "workdir");
    invalid(
      () => createContainerArgs({ ...base, restart: { name: "sometimes" as "always" } }),
      "restart.name",
    );
  });
});

describe("other commands", () => {
  it("listContainersArgs: all by default, label and name filters", () => {
    expect(listContainersArgs()).toEqual(["ps", "--format", "json", "--no-trunc", "--all"]);
    expect(
      listContainersArgs({
        all: false,
        labels: { "mcp.service": "web", "mcp.managed": undefined },
        name: "^web-",
      }),
    ).toEqual([
      "ps",
      "--format",
      "json",
      "--no-trunc",
      "--filter",
      "label=mcp.service=web",
      "--filter",
      "label=mcp.managed",
      "--filter",
      "name=^web-",
    ]);
  });

  it("logsArgs: tail, since (Date or string), timestamps, follow", () => {
    expect(
      logsArgs(
        "web",
        { tail: 10, since: new Date("2026-01-02T03:04:05Z"), timestamps: true },
        true,
      ),
    ).toEqual([
      "logs",
      "--follow",
      "--tail",
      "10",
      "--since",
      "2026-01-02T03:04:05.000Z",
      "--timestamps",
      "web",
    ]);
    expect(logsArgs("web", { since: "10m" })).toEqual(["logs", "--since", "10m", "web"]);
    invalid(() => logsArgs("web", { tail: -1 }), "tail");
    invalid(() => logsArgs("web", { since: new Date("nope") }), "since");
  });

  it("pull/push: auth file, tls verify, cert dir, destination", () => {
    expect(
      pullArgs("127.0.0.1:5000/x:v1", {
        authFile: "/run/auth.json",
        tlsVerify: false,
        certDir: "/etc/certs",
      }),
    ).toEqual([
      "pull",
      "--quiet",
      "--authfile",
      "/run/auth.json",
      "--tls-verify=false",
      "--cert-dir",
      "/etc/certs",
      "127.0.0.1:5000/x:v1",
    ]);
    expect(pushArgs("x:v1", { tlsVerify: true, destination: "127.0.0.1:5000/x:v1" })).toEqual([
      "push",
      "--quiet",
      "--tls-verify=true",
      "x:v1",
      "127.0.0.1:5000/x:v1",
    ]);
  });

  it("buildArgs: file, tags, build args, labels, pull, no-cache, context last", () => {
    expect(
      buildArgs({
        context: "/src",
        file: "/src/Containerfile",
        tags: ["a:v1", "a:v1.0"],
        buildArgs: { VERSION: "1.0" },
        labels: { "org.x": "y" },
        pull: "never",
        noCache: true,
      }),
    ).toEqual([
      "build",
      "--file",
      "/src/Containerfile",
      "--tag",
      "a:v1",
      "--tag",
      "a:v1.0",
      "--build-arg",
      "VERSION=1.0",
      "--label",
      "org.x=y",
      "--pull=never",
      "--no-cache",
      "/src",
    ]);
    invalid(() => buildArgs({ context: "/src", tags: [] }), "tags");
  });

  it("createNetworkArgs: DNS on by default", () => {
    expect(createNetworkArgs("mcpnet")).toEqual([
      "network",
      "create",
      "--disable-dns=false",
      "mcpnet",
    ]);
    expect(
      createNetworkArgs("n", {
        dns: false,
        labels: { a: "b" },
        internal: true,
        subnet: "10.90.0.0/24",
      }),
    ).toEqual([
      "network",
      "create",
      "--disable-dns",
      "--label",
      "a=b",
      "--internal",
      "--subnet",
      "10.90.0.0/24",
      "n",
    ]);
  });

  it("eventsArgs: filters and since", () => {
    expect(
      eventsArgs({ filters: { type: ["container"], label: ["mcp.service=web"] }, since: "5m" }),
    ).toEqual([
      "events",
      "--format",
      "json",
      "--filter",
      "type=container",
      "--filter",
      "label=mcp.service=web",
      "--since",
      "5m",
    ]);
  });

  it("stop/restart/rm with timeouts and force", () => {
    expect(stopArgs("stop", "web", 0)).toEqual(["stop", "--time", "0", "web"]);
    expect(stopArgs("restart", "web")).toEqual(["restart", "web"]);
    expect(removeContainerArgs("web", { force: true, timeoutSeconds: 1 })).toEqual([
      "rm",
      "--force",
      "--time",
      "1",
      "web",
    ]);
    invalid(() => stopArgs("stop", "-a"), "container");
  });
});
