// `mcp sync` end to end with real parts: the bundled CLI in a subprocess, running as root
// with rootful Podman (the operator's own user, as on a workstation) to build and push; a
// real docker-registry on loopback with token auth (sim registry-auth + sim MCIAS); a real
// mcp-agent process whose Podman runs rootless as `mcp` (as in production) and pulls the
// image through the registry with the auth file it writes from its [registry] config.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMcrClient } from "@mcp/mcr-client";
import { PodmanClient } from "@mcp/podman-client";
import {
  ensureLocalCa,
  issueServerCert,
  MciasStore,
  type SimInstance,
  silentLogger,
  startSim,
} from "@mcp/sim";
import {
  ensureTestImage,
  freePort,
  type PodmanHarness,
  setupPodman,
  startRegistry,
  TEST_IMAGE,
  type TestRegistry,
} from "@mcp/testkit";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cliBin = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));
const agentBin = join(
  dirname(createRequire(import.meta.url).resolve("@mcp/agent/package.json")),
  "dist",
  "bin.js",
);

let dir: string;
let sim: SimInstance | undefined;
let registry: TestRegistry | undefined;
let agent: ResultPromise | undefined;
let agentOutput = "";
let h: PodmanHarness | undefined;
const root = new PodmanClient();
let baseExisted = true;
let admin = "";
let simCa = "";
let service = "";
let image = "";

function mcp(args: string[], timeout = 180_000) {
  return execa(process.execPath, [cliBin, ...args], {
    env: { MCP_CONFIG: join(dir, "op", "mcp.toml"), NO_COLOR: "1", PATH: process.env.PATH ?? "" },
    extendEnv: false,
    reject: false,
    timeout,
  });
}

async function tagExists(ref: string): Promise<boolean> {
  const c = createMcrClient({
    url: registry?.url ?? "",
    credentials: { username: "admin", password: admin },
    ca: await readFile(simCa, "utf8"),
  });
  try {
    return await c.tagExists(ref);
  } finally {
    await c.close();
  }
}

beforeAll(async () => {
  h = await setupPodman();
  baseExisted = await root.imageExists(TEST_IMAGE);
  const base = await ensureTestImage(root);
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-sync-it-"));
  // The agent's state dir (and its auth file) lies below: Podman runs as mcp and must reach it.
  await chmod(dir, 0o711);
  const simDir = join(dir, "sim");
  sim = await startSim({ dir: simDir, only: ["mcias", "registry-auth"], log: silentLogger });
  admin = (
    JSON.parse(
      await readFile(String(sim.endpoints.mcias?.extra?.initialPasswordsFile), "utf8"),
    ) as { admin: string }
  ).admin;
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
  service = h.name("web");
  image = `${registry.host}/${h.prefix}web:v1.0.0`;

  // The agent: real TLS, tokens checked by the sim MCIAS, Podman as `mcp`, and MCR
  // credentials in [registry].
  const ca = await ensureLocalCa(simDir);
  const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  await writeFile(join(dir, "agent.pem"), leaf.cert, { mode: 0o600 });
  await writeFile(join(dir, "agent.key"), leaf.key, { mode: 0o600 });
  await writeFile(join(dir, "registry-password"), `${admin}\n`, { mode: 0o600 });
  const port = await freePort();
  await writeFile(
    join(dir, "mcp-agent.toml"),
    `[server]
grpc_addr = "127.0.0.1:${port}"
tls_cert = "${join(dir, "agent.pem")}"
tls_key = "${join(dir, "agent.key")}"

[database]
path = "${join(dir, "state", "mcp.db")}"

[mcias]
server_url = "${sim.endpoints.mcias?.url}"
ca_cert = "${sim.endpoints.mcias?.caFile}"
service_name = "mcp-agent"

[agent]
node_name = "rift"
address = "127.0.0.1"

[podman]
run_as = "mcp"
stop_timeout = "1s"

[registry]
username = "admin"
password_file = "${join(dir, "registry-password")}"
tls_verify = false

[log]
level = "warn"
`,
  );
  agent = execa(process.execPath, [agentBin, "server", "--config", join(dir, "mcp-agent.toml")], {
    reject: false,
    all: true,
  });
  agent.all?.on("data", (d: Buffer) => {
    agentOutput += d.toString();
  });

  // The operator: a source tree in the workspace, mcp.toml with [build] and [registry].
  const workspace = join(dir, "src");
  await mkdir(join(workspace, service), { recursive: true });
  await writeFile(
    join(workspace, service, "Containerfile"),
    `FROM ${base}\nARG VERSION\nRUN echo "synced $VERSION" > /www/index.html\n`,
  );
  await mkdir(join(dir, "op", "services"), { recursive: true });
  await writeFile(
    join(dir, "op", "mcp.toml"),
    `[[nodes]]
name = "rift"
address = "127.0.0.1:${port}"

[tls]
ca_cert = "${ca.caFile}"

[build]
workspace = "${workspace}"

[registry]
username = "admin"
password_file = "${join(dir, "registry-password")}"
ca_cert = "${simCa}"
tls_verify = false
`,
  );
  const token = (await new MciasStore(join(simDir, "mcias")).issueToken("admin", 3_600_000)).token;
  await writeFile(join(dir, "op", "token"), `${token}\n`, { mode: 0o600 });
  await writeFile(
    join(dir, "op", "services", `${service}.toml`),
    `name = "${service}"\nnode = "rift"\n\n[build.images]\n${h.prefix}web = "Containerfile"\n\n[[components]]\nname = "api"\nimage = "${image}"\nnetwork = "slirp4netns"\n\n[[components.routes]]\nport = 8443\nmode = "l4"\n`,
  );

  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await mcp(["node", "list", "--json"]);
    if (r.stdout.includes('"ok": true')) break;
    if (Date.now() > deadline) throw new Error(`mcp-agent did not come up: ${agentOutput}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}, 240_000);

afterAll(async () => {
  if (agent) {
    agent.kill("SIGTERM");
    await agent;
  }
  await h?.cleanup();
  if (image) await root.removeImage(image, { force: true }).catch(() => {});
  if (!baseExisted) await root.removeImage(TEST_IMAGE, { force: true }).catch(() => {});
  await registry?.stop();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("mcp sync builds what the registry lacks, and the agent pulls it with credentials", () => {
  it("--dry-run says it would build and deploy, and changes nothing", async () => {
    const r = await mcp(["sync", "--dry-run"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`rift\\s+${service}\\s+would be deployed\\s+\\S+\\s+would build ${image}`),
    );
    expect(await tagExists(image)).toBe(false);
    expect(await root.imageExists(image)).toBe(false);
  }, 120_000);

  it("builds, pushes, deploys; the agent pulled it through the registry and the service answers", async () => {
    const r = await mcp(["sync"]);
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`✔ build ${image}`);
    expect(r.stdout).toContain(`✔ push ${image}`);
    expect(r.stdout).toMatch(
      new RegExp(`rift\\s+${service}\\s+deployed\\s+v1\\.0\\.0\\s+built ${image}`),
    );
    expect(await tagExists(image)).toBe(true);
    // The agent's Podman (user mcp) got the image from the registry, with its auth file.
    const authFile = join(dir, "state", "registry-auth.json");
    expect((await stat(authFile)).mode & 0o777).toBe(0o600);
    expect(Object.keys(JSON.parse(await readFile(authFile, "utf8")).auths)).toEqual([
      registry?.host,
    ]);
    const c = (await h?.client.listContainers({ all: true }))?.find(
      (x) => x.name === `${service}-api`,
    );
    expect(c?.image).toBe(image);
    const hostPort = c?.ports[0]?.hostPort ?? 0;
    expect(hostPort).toBeGreaterThan(0);
    let body = "";
    for (let i = 0; i < 50 && !body; i++) {
      body = await fetch(`http://127.0.0.1:${hostPort}/`).then(
        (res) => res.text(),
        () => new Promise<string>((res) => setTimeout(() => res(""), 100)),
      );
    }
    expect(body).toBe("synced v1.0.0\n");
  }, 240_000);

  it("a second sync has nothing to do and says so", async () => {
    const r = await mcp(["sync"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain("build ");
    expect(r.stdout).toMatch(new RegExp(`rift\\s+${service}\\s+unchanged`));
    expect(r.stdout).toContain("nothing to do: all 1 service is up to date");
    const j = await mcp(["sync", "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({ dryRun: false, nothingToDo: true });
  }, 120_000);

  it("an image that is not in the registry and has no source tree fails that service, which is not deployed", async () => {
    const orphan = h?.name("orphan") ?? "";
    await writeFile(
      join(dir, "op", "services", `${orphan}.toml`),
      `name = "${orphan}"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "${registry?.host}/${h?.prefix}orphan:v1.0.0"\n`,
    );
    try {
      const r = await mcp(["sync"]);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(
        new RegExp(
          `rift\\s+${orphan}\\s+failed\\s+-\\s+not deployed: image \\S+orphan:v1\\.0\\.0 is not in the registry, and \\[build\\.images\\] does not build it`,
        ),
      );
      expect(r.stdout).toMatch(new RegExp(`rift\\s+${service}\\s+unchanged`));
      expect((await mcp(["status"])).stdout).not.toContain(orphan);
    } finally {
      await rm(join(dir, "op", "services", `${orphan}.toml`));
    }
  }, 120_000);
});
