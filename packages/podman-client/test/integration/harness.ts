/**
 * A minimal harness for this package's own integration tests. @mcp/testkit offers the full
 * one, but it depends on this package, and a workspace dependency cycle is not allowed
 * (turbo refuses it); so the few lines needed here are repeated.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lookupUser, PodmanClient, type RunAsUser } from "../../src/index.ts";

export const USER = "mcp";
export const IMAGE = "localhost/mcp-test/podman-client:v1.0.0";

export interface Harness {
  client: PodmanClient;
  user: RunAsUser;
  env: Record<string, string>;
  prefix: string;
  name(suffix: string): string;
  labels: Record<string, string>;
  tempDir(): Promise<string>;
  cleanup(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const a = srv.address();
      srv.close(() =>
        a && typeof a === "object" ? resolve(a.port) : reject(new Error("no port")),
      );
    });
  });
}

export function userEnv(user: RunAsUser): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: user.home ?? "/",
    USER: USER,
    XDG_RUNTIME_DIR: `/run/user/${user.uid}`,
  };
}

export async function harness(): Promise<Harness> {
  const user = await lookupUser(USER);
  const env = userEnv(user);
  const client = new PodmanClient({ runAs: user, env });
  const runId = randomBytes(4).toString("hex");
  const prefix = `pc${runId}-`;
  const labels = { "mcp-testkit.run": runId };
  const dirs: string[] = [];
  return {
    client,
    user,
    env,
    prefix,
    labels,
    name: (s) => `${prefix}${s}`,
    async tempDir() {
      const d = await mkdtemp(join(tmpdir(), `podman-client-${runId}-`));
      await chown(d, user.uid, user.gid);
      dirs.push(d);
      return d;
    },
    async cleanup() {
      const cs = [
        ...(await client.listContainers({ labels })),
        ...(await client.listContainers({ name: `^${prefix}` })),
      ];
      await Promise.all(
        [...new Set(cs.map((c) => c.id))].map((id) =>
          client.removeContainer(id, { force: true, timeoutSeconds: 0 }).catch(() => {}),
        ),
      );
      for (const n of await client.listNetworks()) {
        if (n.name.startsWith(prefix)) await client.removeNetwork(n.name, { force: true });
      }
      // By name (untag), never by id: these names are often tags of the shared image.
      for (const i of await client.listImages()) {
        for (const n of i.names.filter((x) => x.includes(prefix))) {
          await client.removeImage(n).catch(() => {});
        }
      }
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

/** Build context of a busybox image FROM scratch (nothing is pulled). */
export async function imageContext(dir: string, extra = ""): Promise<string> {
  await chmod(dir, 0o755);
  await copyFile("/bin/busybox", join(dir, "busybox"));
  await writeFile(
    join(dir, "Containerfile"),
    `FROM scratch
ARG VERSION=dev
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo "$VERSION" > /version
${extra}CMD ["sh"]
`,
  );
  return dir;
}

export async function ensureImage(h: Harness): Promise<string> {
  if (await h.client.imageExists(IMAGE)) return IMAGE;
  const ctx = await imageContext(await h.tempDir());
  await h.client.buildImage({ context: ctx, tags: [IMAGE], pull: "never" });
  return IMAGE;
}

export interface Registry {
  host: string;
  stop(): Promise<void>;
}

export async function startRegistry(): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), "podman-client-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = {
    version: 0.1,
    log: { level: "error", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, "data") } },
    http: { addr: host },
  };
  await writeFile(join(dir, "config.yml"), JSON.stringify(config));
  const child: ChildProcess = spawn(
    "/usr/bin/docker-registry",
    ["serve", join(dir, "config.yml")],
    {
      stdio: "ignore",
    },
  );
  const exited = new Promise((r) => child.once("exit", r));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 200) {
      await stop();
      throw new Error("registry did not start");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host, stop };
}

export async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("waitFor: timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
