import { type Arch, type Artifact, findArtifact, verifyLocalArtifact } from "./artifact.ts";
import { errorLine, FleetInputError } from "./errors.ts";
import type { FleetNode } from "./node.ts";
import { mapLimit } from "./pool.ts";
import type { NodeOps } from "./remote.ts";

export type UpgradePhase =
  | "check"
  | "upload"
  | "install"
  | "swap"
  | "restart"
  | "verify"
  | "rollback"
  | "prune";

/** One line of progress for the CLI: a phase of one node started, finished or failed. */
export interface UpgradeProgress {
  node: string;
  phase: UpgradePhase;
  state: "start" | "done" | "failed";
  detail?: string;
}

export interface NodeUpgradeResult {
  node: string;
  arch: Arch;
  /**
   * upgraded: the new version answers. unchanged: it was already current (not restarted).
   * failed: see `phase`, `error` and `rolledBack`.
   */
  status: "upgraded" | "unchanged" | "failed";
  from?: string;
  to: string;
  /** The phase that failed. */
  phase?: UpgradePhase;
  /** One line naming the node, for the summary table. */
  error?: string;
  /** The previous version was put back and restarted (true), or nothing had been swapped (false). */
  rolledBack: boolean;
  /** The restored previous version answered `verify` after the rollback. */
  rollbackVerified?: boolean;
  durationMs: number;
  /** Time from the restart request until the new version answered `verify`. */
  restartToReadyMs?: number;
}

export interface UpgradeOptions {
  nodes: readonly FleetNode[];
  /** Where `mcp-agent-<version>-linux-<arch>.tar.gz` and `.sha256` are. */
  artifactsDir: string;
  /** Pick this version when the directory holds several. */
  version?: string;
  ops: NodeOps;
  /**
   * Asks the running agent on `node` for its version (the CLI calls NodeInfo over the agent
   * RPC). Throws or returns another version while the new agent is not up yet.
   */
  verify: (node: FleetNode) => Promise<string>;
  /** Nodes upgraded at once. Default 4. */
  concurrency?: number;
  /** How long the new agent has, from its restart, to answer with the new version. Default 30 s. */
  deadlineMs?: number;
  /** Poll interval of `verify`. Default 200 ms. */
  pollMs?: number;
  /** Reinstall and restart even where the version is already current. */
  force?: boolean;
}

export interface UpgradeSummary {
  results: NodeUpgradeResult[];
  ok: boolean;
}

/** Checks the node list before anything is touched: unique names, known architectures. */
export function checkNodes(nodes: readonly FleetNode[]): void {
  if (nodes.length === 0) throw new FleetInputError("no nodes to act on");
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.name)) throw new FleetInputError(`node ${n.name} is listed twice`);
    seen.add(n.name);
    if (n.arch !== "amd64" && n.arch !== "arm64") {
      throw new FleetInputError(
        `node ${n.name}: arch ${JSON.stringify(n.arch)} is not amd64 or arm64`,
      );
    }
  }
}

/** Nodes named on the command line, or all of them; an unknown name is an error. */
export function selectNodes(all: readonly FleetNode[], names: readonly string[]): FleetNode[] {
  if (names.length === 0) return [...all];
  return names.map((name) => {
    const n = all.find((x) => x.name === name);
    if (!n)
      throw new FleetInputError(
        `node ${name} is not in mcp.toml (known: ${all.map((x) => x.name).join(", ") || "none"})`,
      );
    return n;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/*
 * The timer is cleared once `p` settles: a pending one would keep the CLI's process alive
 * for the rest of the deadline after the command has finished.
 */
function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Polls `verify` until it answers `version` or the deadline passes; returns the last answer or error. */
export async function waitForVersion(
  verify: () => Promise<string>,
  version: string,
  deadlineMs: number,
  pollMs: number,
): Promise<{ ok: true } | { ok: false; last: string }> {
  const end = Date.now() + deadlineMs;
  let last = "no answer";
  for (;;) {
    const left = end - Date.now();
    if (left <= 0) return { ok: false, last };
    try {
      const got = await within(verify(), left, "no answer before the deadline");
      if (got === version) return { ok: true };
      last = `answers version ${got}`;
    } catch (e) {
      last = errorLine(e);
    }
    await sleep(Math.min(pollMs, Math.max(0, end - Date.now())));
  }
}

/**
 * Upgrades one node: check → upload → install (sha256 verified on the node) → swap →
 * restart → verify; a failure after the swap swaps back, restarts and verifies the
 * previous version. Never throws: the result says what happened.
 */
export async function upgradeNode(
  node: FleetNode,
  artifact: Artifact,
  o: Pick<UpgradeOptions, "ops" | "verify" | "deadlineMs" | "pollMs" | "force">,
  progress: (p: UpgradeProgress) => void = () => {},
): Promise<NodeUpgradeResult> {
  const started = Date.now();
  const deadlineMs = o.deadlineMs ?? 30_000;
  const pollMs = o.pollMs ?? 200;
  const base = { node: node.name, arch: node.arch, to: artifact.version };
  let phase: UpgradePhase = "check";
  const step = async <T>(
    p: UpgradePhase,
    fn: () => Promise<T>,
    detail?: (t: T) => string | undefined,
  ): Promise<T> => {
    phase = p;
    progress({ node: node.name, phase: p, state: "start" });
    const t = await fn();
    const d = detail?.(t);
    progress({ node: node.name, phase: p, state: "done", ...(d ? { detail: d } : {}) });
    return t;
  };
  const failed = (error: string, extra: Partial<NodeUpgradeResult>): NodeUpgradeResult => {
    progress({ node: node.name, phase, state: "failed", detail: error });
    return {
      ...base,
      status: "failed",
      phase,
      error,
      rolledBack: false,
      durationMs: Date.now() - started,
      ...extra,
    };
  };

  let from: string | undefined;
  try {
    from = await step(
      "check",
      () => o.ops.currentVersion(node),
      (v) => `current ${v ?? "none"}`,
    );
    if (from === artifact.version && !o.force) {
      return {
        ...base,
        from,
        status: "unchanged",
        rolledBack: false,
        durationMs: Date.now() - started,
      };
    }
    const uploaded = await step("upload", () => o.ops.upload(node, artifact));
    await step("install", () => o.ops.install(node, artifact, uploaded));
  } catch (e) {
    // Nothing live was touched: the old agent keeps running from the old files.
    return failed(`${node.name}: ${phase} failed: ${errorLine(e)}`, from ? { from } : {});
  }

  let previous: string | undefined;
  try {
    previous = await step("swap", () => o.ops.activate(node, artifact.version));
  } catch (e) {
    return failed(`${node.name}: swap failed: ${errorLine(e)}`, from ? { from } : {});
  }

  let cause: string;
  let restartToReadyMs: number | undefined;
  try {
    const t0 = Date.now();
    await step("restart", () => o.ops.restart(node));
    phase = "verify";
    progress({ node: node.name, phase, state: "start" });
    const v = await waitForVersion(() => o.verify(node), artifact.version, deadlineMs, pollMs);
    if (v.ok) {
      restartToReadyMs = Date.now() - t0;
      progress({ node: node.name, phase, state: "done", detail: `answers ${artifact.version}` });
      try {
        await step("prune", () => o.ops.prune(node));
      } catch {
        // Old versions left on disk cost space, not correctness.
      }
      return {
        ...base,
        ...(previous ? { from: previous } : {}),
        status: "upgraded",
        rolledBack: false,
        durationMs: Date.now() - started,
        restartToReadyMs,
      };
    }
    cause = `${node.name}: the new agent ${artifact.version} did not answer with its version within ${deadlineMs} ms (${v.last})`;
  } catch (e) {
    cause = `${node.name}: ${phase} failed: ${errorLine(e)}`;
  }
  const failedPhase = phase;
  progress({ node: node.name, phase: failedPhase, state: "failed", detail: cause });

  if (!previous) {
    return {
      ...base,
      status: "failed",
      phase: failedPhase,
      error: `${cause}; no previous version to restore`,
      rolledBack: false,
      durationMs: Date.now() - started,
    };
  }
  const prev = previous;
  try {
    await step("rollback", async () => {
      await o.ops.activate(node, prev, "rollback");
      await o.ops.restart(node);
    });
    const back = await waitForVersion(() => o.verify(node), prev, deadlineMs, pollMs);
    return {
      ...base,
      from: prev,
      status: "failed",
      phase: failedPhase,
      error: `${cause}; rolled back to ${prev}${back.ok ? "" : ` but it does not answer either (${back.last})`}`,
      rolledBack: true,
      rollbackVerified: back.ok,
      durationMs: Date.now() - started,
    };
  } catch (e) {
    progress({ node: node.name, phase: "rollback", state: "failed", detail: errorLine(e) });
    return {
      ...base,
      from: prev,
      status: "failed",
      phase: failedPhase,
      error: `${cause}; rollback to ${prev} failed too: ${errorLine(e)}`,
      rolledBack: false,
      durationMs: Date.now() - started,
    };
  }
}

/**
 * `mcp agent upgrade [node]`: every node gets the artifact for its arch, at most
 * `concurrency` at a time. Bad input (nodes, artifacts) throws before any node is touched;
 * per-node failures are in the results.
 */
export async function upgradeAgents(
  o: UpgradeOptions,
  progress: (p: UpgradeProgress) => void = () => {},
): Promise<UpgradeSummary> {
  checkNodes(o.nodes);
  const artifacts = new Map<Arch, Artifact>();
  for (const arch of new Set(o.nodes.map((n) => n.arch))) {
    const a = await findArtifact(o.artifactsDir, arch, o.version);
    await verifyLocalArtifact(a);
    artifacts.set(arch, a);
  }
  const results = await mapLimit(o.nodes, o.concurrency ?? 4, (node) =>
    upgradeNode(node, artifacts.get(node.arch) as Artifact, o, progress),
  );
  return { results, ok: results.every((r) => r.status !== "failed") };
}

export interface AgentStatusRow {
  node: string;
  arch: Arch;
  version?: string;
  error?: string;
}

/** `mcp agent status`: every node's running agent version (via `verify`), concurrently. */
export async function agentStatus(o: {
  nodes: readonly FleetNode[];
  verify: (node: FleetNode) => Promise<string>;
  concurrency?: number;
  timeoutMs?: number;
}): Promise<AgentStatusRow[]> {
  checkNodes(o.nodes);
  const timeoutMs = o.timeoutMs ?? 10_000;
  return mapLimit(o.nodes, o.concurrency ?? 8, async (node) => {
    try {
      const version = await within(o.verify(node), timeoutMs, `no answer within ${timeoutMs} ms`);
      return { node: node.name, arch: node.arch, version };
    } catch (e) {
      return { node: node.name, arch: node.arch, error: errorLine(e) };
    }
  });
}
