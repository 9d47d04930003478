import { describe, expect, it } from "vitest";
import { classifyFailure, isPodmanError, type PodmanError, podmanErrorLine } from "../src/index.ts";

// Each stderr below was recorded from Podman 4.3.1 (rootless, runc) on the CI machine kind.
const recorded: [string, string, string][] = [
  ["container-not-found", "inspect", "Error: inspecting object: no such container nosuch"],
  [
    "container-not-found",
    "stop",
    'Error: no container with name or ID "nosuch" found: no such container',
  ],
  [
    "name-in-use",
    "run",
    'Error: creating container storage: the container name "fixrun" is already in use by 466cb18b8366. You have to remove that container to be able to reuse that name: that name is already in use',
  ],
  [
    "name-in-use",
    "rename",
    "Error: renaming container d86744923cd2: name fixrun already in use, cannot rename container d86744923cd2: container already exists",
  ],
  [
    "port-in-use",
    "run",
    "Error: rootlessport listen tcp 127.0.0.1:18081: bind: address already in use",
  ],
  ["image-not-found", "create", "Error: localhost/nope:v1: image not known"],
  ["image-not-found", "image", "Error: inspecting object: localhost/nope:v1: image not known"],
  [
    "image-not-found",
    "pull",
    "Trying to pull 127.0.0.1:5999/nope:v1...\nError: initializing source docker://127.0.0.1:5999/nope:v1: reading manifest v1 in 127.0.0.1:5999/nope: manifest unknown: manifest unknown",
  ],
  [
    "network-not-found",
    "network",
    "Error: inspecting object: network nonet: unable to find network with name or ID nonet: network not found",
  ],
  [
    "registry",
    "pull",
    'time="2026-11-21T02:02:03Z" level=warning msg="Failed, retrying in 1s ... (3/3)."\nError: initializing source docker://localhost/nope:v1: pinging container registry localhost: Get "https://localhost/v2/": dial tcp 127.0.0.1:443: connect: connection refused',
  ],
  [
    "permission-denied",
    "save",
    'Error: opening file "/root/x.tar": open /root/x.tar: permission denied',
  ],
  [
    "registry",
    "pull",
    'Error: initializing source docker://127.0.0.1:5999/nope:v1: pinging container registry 127.0.0.1:5999: Get "https://127.0.0.1:5999/v2/": http: server gave HTTP response to HTTPS client',
  ],
  [
    "command-failed",
    "save",
    'Error: opening file "/x/y.tar": open /x/y.tar: no such file or directory',
  ],
  [
    "command-failed",
    "run",
    "Error: no command or entrypoint provided, and no CMD or ENTRYPOINT from image",
  ],
];

describe("classifyFailure", () => {
  it.each(recorded)("%s from `podman %s`", (code, sub, stderr) => {
    const e = classifyFailure({
      args: [sub, "x"],
      stderr,
      exitCode: 125,
      subject: 'container "x"',
    });
    expect(isPodmanError(e, code as PodmanError["code"])).toBe(true);
    expect(e.detail).toBe(podmanErrorLine(stderr));
    expect(e.message).toContain(e.detail!);
    expect(e.exitCode).toBe(125);
  });
});

describe("podmanErrorLine", () => {
  it("prefers the Error: line and drops logrus warnings", () => {
    expect(
      podmanErrorLine('time="x" level=warning msg="\\"/\\" is not a shared mount"\nError: boom\n'),
    ).toBe("boom");
    expect(podmanErrorLine('something odd\ntime="x" level=warning msg="w"\n')).toBe(
      "something odd",
    );
    expect(podmanErrorLine("")).toBe("");
  });
});

describe("isPodmanError", () => {
  it("recognises errors by brand, not by class identity", () => {
    const e = classifyFailure({
      args: ["stop"],
      stderr: "Error: no such container",
      exitCode: 125,
    });
    expect(isPodmanError(e)).toBe(true);
    expect(isPodmanError(e, "container-not-found")).toBe(true);
    expect(isPodmanError(e, "timeout")).toBe(false);
    expect(isPodmanError(new Error("x"))).toBe(false);
    expect(isPodmanError(null)).toBe(false);
    // A copy from another instance of the package carries the same registered symbol.
    const foreign = Object.assign(new Error("x"), {
      [Symbol.for("@mcp/podman-client/PodmanError")]: true,
      code: "timeout",
    });
    expect(isPodmanError(foreign, "timeout")).toBe(true);
  });
});
