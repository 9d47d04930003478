import type { AgentConfigInput, FleetNode, ProvisionStep } from "@mcp/fleet";
import type { Config, NodeConfig } from "../config.js";
import { type Context, findNode } from "../context.js";
import { configError, ExitCode } from "../errors.js";
import {
  artifactsDir,
  type FleetDeps,
  fleetNode,
  fromFleetError,
  realFleetDeps,
} from "../fleet-config.js";
import { renderJson, type Style } from "../output.js";

export interface NodeProvisionArgs {
  name: string;
  acceptNewHostKey: boolean;
  dryRun: boolean;
  artifacts?: string | undefined;
  release?: string | undefined;
}

/** What provisioning does, in order, for --dry-run (the script in @mcp/fleet runs these). */
export const PROVISION_STEPS: readonly [string, string][] = [
  [
    "packages",
    "install podman runc uidmap slirp4netns fuse-overlayfs catatonit libjemalloc2 (missing ones)",
  ],
  ["user", "system user mcp, home <agent dir>"],
  ["subids", "/etc/subuid and /etc/subgid ranges for mcp"],
  ["linger", "loginctl enable-linger mcp"],
  ["dirs", "<agent dir>, certs (0700), versions, /srv/mc-proxy/certs"],
  ["containers-conf", "~mcp/.config/containers/containers.conf"],
  ["config", "<agent dir>/mcp-agent.toml (never overwritten; .new beside it if it differs)"],
  ["unit", "/etc/systemd/system/mcp-agent.service, enabled"],
  ["agent", "the release artifact installed and activated"],
];

/** The agent's mcp-agent.toml inputs from mcp.toml: the node's address and role, [mcias]. */
export function agentConfigInput(node: NodeConfig, config: Config): AgentConfigInput {
  const mciasUrl = config.mcias.serverUrl;
  if (!mciasUrl) {
    throw configError(
      `${config.path}: [mcias] server_url is not set; the agent's config needs it`,
      'add [mcias] server_url = "https://mcias.example:8443" to mcp.toml',
    );
  }
  const input: AgentConfigInput = { nodeName: node.name, grpcAddr: node.address, mciasUrl };
  if (node.role !== undefined) {
    if (node.role !== "compute" && node.role !== "edge") {
      throw configError(
        `${config.path}: node "${node.name}": role "${node.role}" is not compute or edge`,
      );
    }
    input.role = node.role;
  }
  if (config.fleet?.agentDir !== undefined) input.dir = config.fleet.agentDir;
  return input;
}

export function stepLine(s: ProvisionStep, style: Style): string {
  const status =
    s.status === "changed"
      ? style.green(s.status)
      : s.status === "kept" || s.status === "would-change"
        ? style.yellow(s.status)
        : style.dim(s.status);
  const pad = " ".repeat(Math.max(0, 12 - s.status.length));
  return `${s.name.padEnd(16)} ${status}${pad} ${s.detail}\n`;
}

/**
 * `mcp node provision <name>`: prepares a Debian node over SSH (packages, user, subids,
 * linger, directories, containers.conf, agent config, systemd unit, the agent itself), each
 * step checked before it acts, one line each. A second run reports every step unchanged.
 */
export async function nodeProvision(
  ctx: Context,
  args: NodeProvisionArgs,
  _signal?: AbortSignal,
  deps?: FleetDeps,
): Promise<number> {
  const config = await ctx.config();
  const nc = findNode(config, args.name);
  const base = fleetNode(nc, config);
  const agentConfig = agentConfigInput(nc, config);
  const dir = artifactsDir(args.artifacts, config, ctx.cwd);
  const fleet = await import("@mcp/fleet");
  const d = deps ?? (await realFleetDeps(config, ctx.timeoutMs));

  if (args.dryRun) return dryRun(ctx, args, base, dir, d, fleet);

  const node: FleetNode = {
    ...base,
    ssh: { ...base.ssh, ...(args.acceptNewHostKey ? { acceptNewHostKey: true } : {}) },
  };
  const steps: ProvisionStep[] = [];
  try {
    const r = await fleet.provisionNode(
      {
        node,
        ssh: d.ssh,
        ops: d.ops,
        artifactsDir: dir,
        ...(args.release ? { version: args.release } : {}),
        config: agentConfig,
      },
      (s) => {
        steps.push({ name: s.name, status: s.status, detail: s.detail });
        if (!ctx.json) ctx.stdout.write(stepLine(s, ctx.style));
      },
    );
    if (ctx.json) {
      ctx.stdout.write(renderJson({ node: r.node, changed: r.changed, steps: r.steps }));
    } else {
      ctx.stdout.write(
        r.changed
          ? `${args.name}: provisioned; start the agent once its TLS certificate is in place\n`
          : `${args.name}: already provisioned, nothing changed\n`,
      );
    }
    return ExitCode.Ok;
  } catch (e) {
    throw fromFleetError(e);
  }
}

async function dryRun(
  ctx: Context,
  args: NodeProvisionArgs,
  node: FleetNode,
  dir: string,
  d: FleetDeps,
  fleet: typeof import("@mcp/fleet"),
): Promise<number> {
  let artifact: Awaited<ReturnType<typeof fleet.findArtifact>>;
  try {
    artifact = await fleet.findArtifact(dir, node.arch, args.release);
    await fleet.verifyLocalArtifact(artifact);
  } catch (e) {
    throw fromFleetError(e);
  }
  // Connecting changes nothing; a brand-new host key is not recorded in a dry run.
  let reach: string;
  let code: number = ExitCode.Ok;
  try {
    await d.ssh.exec(node.ssh, ["true"], { timeoutMs: ctx.timeoutMs + 5_000 });
    reach = "reachable over SSH";
  } catch (e) {
    const err = fromFleetError(e);
    reach = `not reachable over SSH: ${err instanceof Error ? err.message : String(err)}`;
    code = (err as { exitCode?: number }).exitCode ?? ExitCode.Unavailable;
  }
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        node: node.name,
        dryRun: true,
        ssh: fleet.describeTarget(node.ssh),
        reachable: code === ExitCode.Ok,
        detail: reach,
        artifact: artifact.path,
        steps: PROVISION_STEPS.map(([name, what]) => ({ name, what })),
      }),
    );
    return code;
  }
  ctx.stdout.write(
    `${node.name}: dry run, nothing changed. ${fleet.describeTarget(node.ssh)} is ${reach}\n`,
  );
  ctx.stdout.write(
    `would check, and change where needed (${artifact.version} from ${artifact.path}):\n`,
  );
  const agentDir = node.dir ?? fleet.DEFAULT_AGENT_DIR;
  for (const [name, what] of PROVISION_STEPS) {
    ctx.stdout.write(`  ${name.padEnd(16)} ${what.replaceAll("<agent dir>", agentDir)}\n`);
  }
  return code;
}
