/**
 * A ready rootless Podman for tests: checks the user and runtime directory that
 * scripts/setup-system.sh prepares, gives a client, unique names for this run, and one
 * cleanup that removes everything the run created (also after a failed test).
 */
import { randomBytes } from "node:crypto";
import { chown, mkdtemp, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ContainerRuntime,
  isPodmanError,
  lookupUser,
  PodmanClient,
  type PodmanClientOptions,
  type RunAsUser,
} from "@mcp/podman-client";
import { ensureTestImage, TEST_IMAGE } from "./image.ts";

/** Every container a harness creates carries this label with the run id. */
export const RUN_LABEL = "mcp-testkit.run";

export interface PodmanHarnessOptions {
  /** The unprivileged user that owns the containers (default "mcp", as in production). */
  user?: string;
  /** Build/reuse the test image before returning (default true). */
  image?: boolean;
  /** Extra client options (timeouts…). */
  client?: Omit<PodmanClientOptions, "runAs">;
}

export interface PodmanHarness {
  client: PodmanClient;
  /** The same client typed as the interface the agent depends on. */
  runtime: ContainerRuntime;
  /** Podman's environment (HOME, XDG_RUNTIME_DIR, PATH…), for spawning podman yourself. */
  env: Record<string, string>;
  user: Required<RunAsUser>;
  /** Unique to this run, a valid DNS label start, e.g. "t3k9xq2-". */
  prefix: string;
  runId: string;
  /** `prefix + suffix`: a container/network/image name no other run uses. */
  name(suffix: string): string;
  /** Labels to put on containers so cleanup finds them even when renamed. */
  labels: Record<string, string>;
  /** The busybox test image ("localhost/mcp-test/busybox:v1.0.0"). */
  image: string;
  /** A fresh directory the Podman user can read and write; removed by cleanup. */
  tempDir(): Promise<string>;
  /** A TCP port free on 127.0.0.1 right now. */
  freePort(): Promise<number>;
  /** Registers extra cleanup (run in reverse order before the Podman sweep). */
  defer(fn: () => Promise<void> | void): void;
  /** Removes this run's containers, networks, images and temp dirs. Safe to call twice. */
  cleanup(): Promise<void>;
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === "object") resolve(addr.port);
        else reject(new Error("testkit: could not get a free port"));
      });
    });
  });
}

function setupHint(what: string): Error {
  return new Error(
    `testkit: ${what}. Run ./setup.sh (scripts/setup-system.sh) as root first: it installs ` +
      "Podman and creates the rootless user with its runtime directory.",
  );
}

/** Resolves the user and environment for rootless Podman, with a setup hint on failure. */
export async function podmanUser(name = "mcp"): Promise<Required<RunAsUser>> {
  let user: RunAsUser;
  try {
    user = await lookupUser(name);
  } catch {
    throw setupHint(`user "${name}" does not exist`);
  }
  const runtimeDir = `/run/user/${user.uid}`;
  try {
    const st = await stat(runtimeDir);
    if (st.uid !== user.uid) throw new Error("owner");
  } catch {
    throw setupHint(
      `${runtimeDir} (XDG_RUNTIME_DIR of ${name}) is missing or not owned by ${name}`,
    );
  }
  return { name, uid: user.uid, gid: user.gid, home: user.home ?? "/" };
}

/**
 * A client for rootless Podman as `user`. When this process is that user already
 * (production-like), it runs Podman directly; as root it switches to the user.
 */
export async function podmanClientFor(
  user: Required<RunAsUser>,
  options: Omit<PodmanClientOptions, "runAs"> = {},
): Promise<{ client: PodmanClient; env: Record<string, string> }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    XDG_RUNTIME_DIR: `/run/user/${user.uid}`,
    LANG: "C.UTF-8",
  };
  const self = process.getuid?.() === user.uid;
  const client = new PodmanClient({
    ...options,
    ...(self ? {} : { runAs: user }),
    env: { ...env, ...(options.env ?? {}) },
  });
  return { client, env };
}

export async function setupPodman(options: PodmanHarnessOptions = {}): Promise<PodmanHarness> {
  const user = await podmanUser(options.user ?? "mcp");
  const { client, env } = await podmanClientFor(user, options.client);
  try {
    await client.version();
  } catch (e) {
    if (isPodmanError(e, "podman-missing")) throw setupHint("podman is not installed");
    throw e;
  }

  const runId = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, "0").slice(0, 7);
  const prefix = `t${runId}-`;
  const labels = { [RUN_LABEL]: runId };
  const dirs: string[] = [];
  const deferred: (() => Promise<void> | void)[] = [];
  const asRoot = process.getuid?.() === 0;

  await sweepStale(client);
  const image = options.image === false ? TEST_IMAGE : await ensureTestImage(client);

  let cleaned = false;
  const harness: PodmanHarness = {
    client,
    runtime: client,
    env,
    user,
    prefix,
    runId,
    name: (suffix) => `${prefix}${suffix}`,
    labels,
    image,
    async tempDir() {
      const dir = await mkdtemp(join(tmpdir(), `mcp-testkit-${runId}-`));
      dirs.push(dir);
      if (asRoot) await chown(dir, user.uid, user.gid);
      return dir;
    },
    freePort: () => freePort(),
    defer(fn) {
      deferred.push(fn);
    },
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      const errors: unknown[] = [];
      for (const fn of deferred.reverse()) {
        try {
          await fn();
        } catch (e) {
          errors.push(e);
        }
      }
      try {
        await removeRun(client, prefix, runId);
      } catch (e) {
        errors.push(e);
      }
      for (const d of dirs) await rm(d, { recursive: true, force: true });
      if (errors.length > 0) {
        throw new AggregateError(
          errors,
          `testkit: cleanup of run ${runId} had ${errors.length} error(s)`,
        );
      }
    },
  };
  return harness;
}

/** Removes containers (by run label or name prefix), then networks and images by prefix. */
async function removeRun(client: PodmanClient, prefix: string, runId: string): Promise<void> {
  const byLabel = await client.listContainers({ labels: { [RUN_LABEL]: runId } });
  const byName = await client.listContainers({ name: `^${prefix}` });
  const ids = new Set([...byLabel, ...byName].map((c) => c.id));
  await Promise.all(
    [...ids].map((id) =>
      client.removeContainer(id, { force: true, timeoutSeconds: 0 }).catch((e: unknown) => {
        if (!isPodmanError(e, "container-not-found")) throw e;
      }),
    ),
  );
  for (const n of await client.listNetworks()) {
    if (n.name.startsWith(prefix)) await client.removeNetwork(n.name, { force: true });
  }
  // By name, never by id: a run's names are often extra tags of the shared test image,
  // and removing by id would delete that image (and every container using it) for all.
  // Removing a name that is not an image's last one only untags it.
  for (const img of await client.listImages()) {
    for (const n of img.names) {
      if (!n.includes(`/${prefix}`) && !n.includes(`:${prefix}`)) continue;
      await client.removeImage(n).catch((e: unknown) => {
        if (!isPodmanError(e, "image-not-found")) throw e;
      });
    }
  }
}

/**
 * Containers of runs that died without cleaning up (a killed test process): anything
 * carrying the run label and older than two hours goes.
 */
async function sweepStale(client: PodmanClient): Promise<void> {
  const cutoff = Date.now() / 1000 - 2 * 3600;
  const stale = (await client.listContainers({ labels: { [RUN_LABEL]: undefined } })).filter(
    (c) => c.created < cutoff,
  );
  await Promise.all(
    stale.map((c) =>
      client.removeContainer(c.id, { force: true, timeoutSeconds: 0 }).catch(() => {}),
    ),
  );
}
