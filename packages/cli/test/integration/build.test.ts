// `mcp build` with real parts: real rootless Podman (user `mcp`, through `[build] run_as`,
// since the tests run as root), a real docker-registry on loopback with token auth, its
// tokens issued by the sim's registry-auth service against the sim's MCIAS, and
// @mcp/mcr-client to see what arrived.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { createMcrClient } from "@mcp/mcr-client";
import { type SimInstance, silentLogger, startSim } from "@mcp/sim";
import {
  freePort,
  type PodmanHarness,
  setupPodman,
  startRegistry,
  type TestRegistry,
} from "@mcp/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, run } from "../../src/cli.ts";
import { Sink } from "../helpers/io.ts";

let dir: string;
let sim: SimInstance;
let registry: TestRegistry;
let h: PodmanHarness;
let workspace: string;
let admin: string;
let simCa: string;
let repo: string;

async function mcp(args: string[], env: Record<string, string> = {}) {
  const stdout = new Sink();
  const stderr = new Sink();
  const io: CliIo = {
    stdout: stdout as unknown as CliIo["stdout"],
    stderr: stderr as unknown as CliIo["stderr"],
    stdin: new PassThrough(),
    env: { MCP_CONFIG: join(dir, "op", "mcp.toml"), NO_COLOR: "1", ...env },
    cwd: dir,
    home: dir,
  };
  const code = await run(args, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** mcp.toml for the test registry; `password` goes to the password file. */
async function writeConfig(password: string, registryHost = registry.host) {
  await writeFile(join(dir, "op", "registry-password"), `${password}\n`, { mode: 0o600 });
  await writeFile(
    join(dir, "op", "mcp.toml"),
    `[[nodes]]
name = "rift"
address = "127.0.0.1:1"

[build]
workspace = "${workspace}"
run_as = "mcp"

[registry]
url = "http://${registryHost}"
username = "admin"
password_file = "registry-password"
ca_cert = "${simCa}"
tls_verify = false
`,
  );
}

async function writeService(name: string, dockerfile: string, host = registry.host) {
  await writeFile(
    join(dir, "op", "services", `${name}.toml`),
    `name = "${name}"
node = "rift"
path = "src-${name}"

[build.images]
${repo} = "${dockerfile}"

[[components]]
name = "api"
image = "${host}/${repo}:v1.2.3"
`,
  );
}

beforeAll(async () => {
  h = await setupPodman();
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-build-"));
  await mkdir(join(dir, "op", "services"), { recursive: true });
  sim = await startSim({
    dir: join(dir, "sim"),
    only: ["mcias", "registry-auth"],
    log: silentLogger,
  });
  const passwords = JSON.parse(
    await readFile(String(sim.endpoints.mcias?.extra?.initialPasswordsFile), "utf8"),
  ) as { admin: string };
  admin = passwords.admin;
  const auth = sim.endpoints["registry-auth"];
  simCa = String(auth?.caFile);
  registry = await startRegistry({
    tokenAuth: {
      realm: String(auth?.extra?.realm),
      service: String(auth?.extra?.service),
      issuer: String(auth?.extra?.issuer),
      rootCertBundle: String(auth?.extra?.rootCertBundle),
    },
  });
  repo = `${h.prefix}app`;
  h.defer(async () => {
    for (const img of await h.client.listImages()) {
      for (const name of img.names) {
        if (name.includes(repo)) await h.client.removeImage(name, { force: true }).catch(() => {});
      }
    }
  });
  // The source tree lives where the Podman user can read it.
  workspace = await h.tempDir();
  for (const [name, file, body] of [
    [
      "good",
      "Containerfile",
      `FROM ${h.image}\nARG VERSION\nRUN echo "built $VERSION" > /www/index.html\n`,
    ],
    ["broken", "Containerfile", `FROM ${h.image}\nRUN echo step-output-before-failure && exit 3\n`],
  ] as const) {
    await mkdir(join(workspace, `src-${name}`), { recursive: true });
    await writeFile(join(workspace, `src-${name}`, file), body);
  }
  const { chown } = await import("node:fs/promises");
  for (const d of ["", "src-good", "src-broken"]) {
    await chown(join(workspace, d), h.user.uid, h.user.gid);
  }
  await writeConfig(admin);
}, 180_000);

afterAll(async () => {
  await h?.cleanup();
  await registry?.stop();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tagInRegistry(tag: string): Promise<boolean> {
  const c = createMcrClient({
    url: registry.url,
    credentials: { username: "admin", password: admin },
    ca: await readFile(simCa, "utf8"),
  });
  try {
    return await c.tagExists({ repository: repo, tag });
  } finally {
    await c.close();
  }
}

describe("mcp build against real Podman and a token-auth registry", () => {
  it("--no-push builds and tags the image with VERSION passed in, and pushes nothing", async () => {
    await writeService("good", "Containerfile");
    const r = await mcp(["build", "good", "--no-push"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`✔ build ${registry.host}/${repo}:v1.2.3`);
    expect(r.stdout).toContain("built (not pushed)");
    expect(await h.client.imageExists(`${registry.host}/${repo}:v1.2.3`)).toBe(true);
    expect(await tagInRegistry("v1.2.3")).toBe(false);
  }, 120_000);

  it("builds, tags and pushes; mcr-client then sees the tag and the file holds the version", async () => {
    const r = await mcp(["build", "good", "--verbose"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("│ STEP 3/3: RUN echo");
    expect(r.stdout).toContain(`✔ push ${registry.host}/${repo}:v1.2.3`);
    expect(await tagInRegistry("v1.2.3")).toBe(true);
    const out = await h.client.runContainer({
      name: h.name("version"),
      image: `${registry.host}/${repo}:v1.2.3`,
      cmd: ["cat", "/www/index.html"],
      labels: h.labels,
    });
    expect(out).toBeTruthy();
    let logs = "";
    for (let i = 0; i < 50 && !logs.includes("built"); i++) {
      await new Promise((res) => setTimeout(res, 100));
      logs = (await h.client.logs(h.name("version"))).join("\n");
    }
    expect(logs).toBe("built v1.2.3");
  }, 120_000);

  it("a missing Dockerfile is one clear line before Podman runs", async () => {
    await writeService("nofile", "Dockerfile.api");
    await mkdir(join(workspace, "src-nofile"), { recursive: true });
    const r = await mcp(["build", "nofile"]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(
      `error: cannot build ${registry.host}/${repo}:v1.2.3: Dockerfile ${join(workspace, "src-nofile", "Dockerfile.api")} does not exist`,
    );
    await writeService("nocontext", "Containerfile");
    const c = await mcp(["build", "nocontext"]);
    expect(c.code).toBe(1);
    expect(c.stderr).toContain(`build context ${join(workspace, "src-nocontext")} does not exist`);
  });

  it("a failing build step exits 1 with the last lines of the build output", async () => {
    await writeService("broken", "Containerfile");
    const r = await mcp(["build", "broken"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✖ build ${registry.host}/${repo}:v1.2.3 failed`);
    expect(r.stderr).toContain("  step-output-before-failure");
    expect(r.stderr).toMatch(/error: build of \S+ failed: /);
    expect(r.stderr).toContain("--verbose shows all of it");
  }, 120_000);

  it("wrong credentials: an authentication error (exit 4) before anything is built", async () => {
    await writeConfig("not-the-password");
    try {
      const r = await mcp(["build", "good"]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/^error: registry 127\.0\.0\.1:\d+ refused the credentials/);
      expect(r.stdout).not.toContain("build ");
    } finally {
      await writeConfig(admin);
    }
  });

  it("registry down: Unavailable (exit 3), nothing built", async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await writeService("good", "Containerfile", dead);
    try {
      const r = await mcp(["build", "good"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^error: registry 127\.0\.0\.1:\d+ did not answer/);
      expect(await h.client.imageExists(`${dead}/${repo}:v1.2.3`)).toBe(false);
    } finally {
      await writeService("good", "Containerfile");
    }
  });
});
