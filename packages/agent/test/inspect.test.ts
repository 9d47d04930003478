import type { ContainerDetails } from "@mcp/podman-client";
import { describe, expect, it } from "vitest";
import { settingsFromDetails } from "../src/runtime/inspect.ts";

function details(over: Partial<ContainerDetails>): ContainerDetails {
  return {
    id: "abc",
    name: "mc-demo-web",
    image: "localhost/demo:v1.0.0",
    imageId: "sha256:1",
    created: new Date(0),
    state: {
      status: "running",
      running: true,
      pid: 1,
      exitCode: 0,
      startedAt: undefined,
      finishedAt: undefined,
      error: "",
    },
    command: [],
    entrypoint: [],
    env: {},
    labels: {},
    user: "",
    stopTimeout: undefined,
    init: false,
    restartPolicy: { name: "no" },
    restartCount: 0,
    ports: [],
    mounts: [],
    networks: [],
    ...over,
  };
}

describe("settingsFromDetails (what adopt records of a hand-started container)", () => {
  it("keeps what the operator chose and drops Podman's defaults", () => {
    expect(
      settingsFromDetails(
        details({
          networks: ["mcpnet"],
          mounts: [
            { type: "bind", source: "/srv/mc-demo", target: "/srv/mc-demo", readOnly: false },
            { type: "bind", source: "/etc/mc-demo", target: "/etc/app", readOnly: true },
            {
              type: "volume",
              source: "/home/mcp/.local/share/containers/storage/volumes/v/_data",
              target: "/data",
              readOnly: false,
            },
          ],
          user: "0:0",
          restartPolicy: { name: "unless-stopped" },
          command: ["httpd", "-f", "-p", "8080"],
          env: {
            MODE: "demo",
            PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            container: "podman",
            HOSTNAME: "abc",
            HOME: "/root",
            TERM: "xterm",
            PORT: "8080",
            A_FIRST: "1",
          },
        }),
      ),
    ).toEqual({
      network: "mcpnet",
      volumes: ["/srv/mc-demo:/srv/mc-demo", "/etc/mc-demo:/etc/app:ro"],
      user: "0:0",
      restart: "unless-stopped",
      cmd: ["httpd", "-f", "-p", "8080"],
      env: ["A_FIRST=1", "MODE=demo"],
    });
  });

  it("a container run with nothing but an image gives nothing to record", () => {
    expect(settingsFromDetails(details({ networks: ["podman"] }))).toEqual({});
  });

  it("on-failure keeps its retry count; a PATH of the image's own is kept", () => {
    expect(
      settingsFromDetails(
        details({
          restartPolicy: { name: "on-failure", maxRetries: 3 },
          env: { PATH: "/app/bin" },
        }),
      ),
    ).toEqual({ restart: "on-failure:3", env: ["PATH=/app/bin"] });
  });
});
