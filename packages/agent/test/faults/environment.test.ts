import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { freePort } from "@mcp/testkit";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentClient,
  agentConfig,
  healthz,
  setupEnv,
  spawnAgent,
  type TestEnv,
} from "../helpers/process.ts";
import { drain, dumpDb, integrityCheck } from "../security/shared.ts";

// The agent's surroundings failing: the database's file system full or read-only (a real
// 1 MiB tmpfs, mounted by the test: CI runs as root), Podman missing or broken. Each time
// the agent refuses the change with an error that says what failed, keeps serving, the
// database stays consistent and nothing changed.

let env: TestEnv;
let scripts: string;
const mounts: string[] = [];
const running: AgentProcess[] = [];
const portLow = 45000 + Math.floor(Math.random() * 100) * 100;

beforeAll(async () => {
  env = await setupEnv();
  scripts = await mkdtemp(join(tmpdir(), "mcp-agent-fakepodman-"));
  await chmod(scripts, 0o755);
}, 60_000);

afterAll(async () => {
  for (const a of running) await a.stop();
  for (const m of mounts) {
    await execa("umount", ["-l", m], { reject: false });
    await rm(m, { recursive: true, force: true });
  }
  await rm(scripts, { recursive: true, force: true });
  await env?.close();
}, 60_000);

async function startWith(o: { db?: string; podmanPath: string }): Promise<AgentProcess> {
  const port = await freePort();
  const file = join(env.dir, `agent-${port}.toml`);
  let text = agentConfig(env, { port, portLow }).replace(
    'run_as = "mcp"',
    `run_as = "mcp"\npath = "${o.podmanPath}"`,
  );
  if (o.db) text = text.replace(`${env.dir}/mcp.db`, o.db);
  await writeFile(file, text);
  const a = await spawnAgent(file, port, env.ca);
  running.push(a);
  return a;
}

function spec(name: string) {
  return {
    spec: {
      name,
      node: "rift",
      toml: `name = "${name}"\nnode = "rift"\n\n[[components]]\nname = "web"\nimage = "localhost/mcp-test/busybox:v1.0.0"\n\n[[components.routes]]\nport = 443\nmode = "l4"\n`,
    },
  };
}

async function deployError(a: AgentProcess, name: string): Promise<ConnectError | undefined> {
  const c = agentClient(a.port, env.ca, env.tokens.admin);
  try {
    await drain(c.deploy(spec(name)));
    return undefined;
  } catch (e) {
    return ConnectError.from(e);
  }
}

/** The rows a deploy would add; operations/events may record the refusal itself. */
function state(db: string) {
  const d = dumpDb(db, ["events", "operations", "observed_containers"]);
  return { services: d.services, components: d.components, ports: d.port_assignments };
}

describe("database file system full or read-only", () => {
  it("refuses a deploy with a clear error, keeps serving, and the database passes integrity_check", async () => {
    const mnt = await mkdtemp(join(tmpdir(), "mcp-agent-tmpfs-"));
    await execa("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    mounts.push(mnt);
    const db = join(mnt, "mcp.db");
    const a = await startWith({ db, podmanPath: "/bin/false" });
    const before = state(db);

    // Full: fill what is left of the 1 MiB.
    await execa("sh", ["-c", `dd if=/dev/zero of=${mnt}/filler bs=4k 2>/dev/null; true`]);
    const full = await deployError(a, "fulldisk");
    expect(full).toBeDefined();
    expect(full?.code).not.toBe(Code.Internal);
    expect(full?.rawMessage).toMatch(/database.*(full|SQLITE_FULL)/i);
    expect((await healthz(a.port, env.ca)).status).toBe(200);
    await rm(join(mnt, "filler"));

    await a.stop();
    running.splice(running.indexOf(a), 1);

    // Read-only (a writer holds the file system busy, so the agent is stopped first): it
    // refuses to start, in one line naming the database and its key.
    await execa("mount", ["-o", "remount,ro", mnt]);
    const ro = await startWith({ db, podmanPath: "/bin/false" }).then(
      () => "started",
      (e: Error) => e.message,
    );
    expect(ro).toMatch(
      /exited early \(2\): mcp-agent: cannot open the database .*\(database\.path\)/,
    );
    // (the spawn helper repeats the output it collected: one distinct line)
    const distinct = new Set(
      ro
        .replace(/^agent exited early \(2\): /, "")
        .trim()
        .split("\n"),
    );
    expect(distinct).toHaveProperty("size", 1);
    await execa("mount", ["-o", "remount,rw", mnt]); // a WAL database is read with its -shm
    expect(integrityCheck(db)).toBe("ok");
    expect(state(db)).toEqual(before);
    console.log(`full: ${Code[full?.code ?? 0]} ${full?.rawMessage}\nread-only: ${ro}`);
  }, 60_000);
});

describe("Podman missing or broken", () => {
  it("answers with a clear error naming Podman and changes nothing", async () => {
    const broken = join(scripts, "podman-broken");
    await writeFile(broken, "#!/bin/sh\necho 'Error: something is broken' >&2\nexit 1\n");
    await chmod(broken, 0o755);
    const lines: string[] = [];
    for (const [what, path] of [
      ["missing", join(scripts, "no-such-podman")],
      ["broken", broken],
    ] as const) {
      await mkdir(join(env.dir, what), { recursive: true });
      const db = join(env.dir, what, "mcp.db");
      const a = await startWith({ db, podmanPath: path });
      const before = state(db);
      const err = await deployError(a, `pm-${what}`);
      expect(err).toBeDefined();
      expect([Code.Unavailable, Code.FailedPrecondition]).toContain(err?.code);
      expect(err?.rawMessage).toMatch(/podman/i);
      const c = agentClient(a.port, env.ca, env.tokens.admin);
      const listed = await c.listContainers({}).catch((e) => ConnectError.from(e));
      lines.push(
        `${what}: deploy ${Code[err?.code ?? 0]} "${err?.rawMessage}"; ListContainers ${
          listed instanceof ConnectError ? `${Code[listed.code]} "${listed.rawMessage}"` : "ok"
        }`,
      );
      expect(state(db)).toEqual(before);
      await a.stop();
      expect(integrityCheck(db)).toBe("ok");
    }
    console.log(lines.join("\n"));
  }, 60_000);
});
