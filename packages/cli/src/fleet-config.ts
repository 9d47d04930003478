import { isAbsolute, resolve as resolvePath } from "node:path";
import type { Arch, FleetNode, NodeOps, ServiceManager, Ssh, SshTarget } from "@mcp/fleet";
import {
  isArtifactError,
  isChecksumMismatchError,
  isFleetInputError,
  isRemoteCommandError,
  isSshAuthError,
  isSshError,
  isSshHostKeyError,
} from "@mcp/fleet";
import type { Config, NodeConfig } from "./config.js";
import { CliError, configError, ExitCode, usageError } from "./errors.js";

/** What the fleet commands need besides the context: SSH and the node operations over it. */
export interface FleetDeps {
  ssh: Ssh;
  ops: NodeOps;
}

const SERVICES = new Set(["systemd", "pidfile"]);

/** `[fleet] service`, checked: a typo must not silently pick systemd. */
export function serviceKind(config: Config): "systemd" | "pidfile" {
  const s = config.fleet?.service ?? "systemd";
  if (!SERVICES.has(s)) {
    throw configError(
      `${config.path}: fleet.service "${s}" is not systemd or pidfile`,
      'use "systemd" (nodes where systemd runs the agent) or "pidfile" (containers, CI)',
    );
  }
  return s as "systemd" | "pidfile";
}

/**
 * The SSH destination of a node: its `ssh` (an alias of the operator's ssh config, a host or
 * user@host; default its name) with the `[ssh]` settings that apply to every node.
 */
export function sshTarget(node: NodeConfig, config: Config): SshTarget {
  const dest = node.ssh ?? node.name;
  const at = dest.lastIndexOf("@");
  const s = config.ssh ?? {};
  const user = at >= 0 ? dest.slice(0, at) : s.user;
  const target: SshTarget = { host: at >= 0 ? dest.slice(at + 1) : dest };
  if (user !== undefined) target.user = user;
  if (s.identity !== undefined) target.identityFile = s.identity;
  if (s.knownHosts !== undefined) target.knownHostsFile = s.knownHosts;
  if (s.configFile !== undefined) target.configFile = s.configFile;
  return target;
}

/** A `[[nodes]]` entry as @mcp/fleet sees it; a missing arch is amd64, an unknown one an error. */
export function fleetNode(node: NodeConfig, config: Config): FleetNode {
  const arch = node.arch ?? "amd64";
  if (arch !== "amd64" && arch !== "arm64") {
    throw configError(`${config.path}: node "${node.name}": arch "${arch}" is not amd64 or arm64`);
  }
  const out: FleetNode = { name: node.name, arch: arch as Arch, ssh: sshTarget(node, config) };
  if (config.ssh?.sudo) out.sudo = true;
  if (config.fleet?.agentDir !== undefined) {
    if (!isAbsolute(config.fleet.agentDir)) {
      throw configError(
        `${config.path}: fleet.agent_dir "${config.fleet.agentDir}" is not an absolute path`,
      );
    }
    out.dir = config.fleet.agentDir;
  }
  return out;
}

/** `--artifacts`, else `[fleet] artifacts`, else dist/artifacts in the working directory. */
export function artifactsDir(flag: string | undefined, config: Config, cwd: string): string {
  if (flag !== undefined) return resolvePath(cwd, flag);
  return config.fleet?.artifacts ?? resolvePath(cwd, "dist", "artifacts");
}

/** The real SSH and node operations, loaded when a fleet command runs. */
export async function realFleetDeps(config: Config, timeoutMs: number): Promise<FleetDeps> {
  const { PidfileServiceManager, SshNodeOps, SystemdServiceManager, SystemSsh } = await import(
    "@mcp/fleet"
  );
  const ssh = new SystemSsh({ connectTimeoutSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)) });
  let service: ServiceManager;
  if (serviceKind(config) === "pidfile") {
    const node = config.fleet?.agentNode;
    service = new PidfileServiceManager({
      ssh,
      ...(node ? { env: { MCP_AGENT_NODE: node } } : {}),
    });
  } else {
    service = new SystemdServiceManager({ ssh });
  }
  return { ssh, ops: new SshNodeOps({ ssh, service }) };
}

/**
 * A fleet error thrown before any node was touched (bad input, missing artifacts, SSH) as
 * the CLI's error with its exit code; anything else is passed through unchanged.
 */
export function fromFleetError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  if (isFleetInputError(e)) return usageError(e.message);
  if (isArtifactError(e) || isChecksumMismatchError(e)) {
    return new CliError(e.message, {
      exitCode: ExitCode.Failed,
      hint: "build them with scripts/build-agent-artifact.sh, or point --artifacts at them",
      cause: e,
    });
  }
  if (isSshHostKeyError(e)) {
    return new CliError(e.message, {
      exitCode: ExitCode.Unavailable,
      hint: "check the node's host key; for a brand-new node use --accept-new-host-key",
      cause: e,
    });
  }
  if (isSshAuthError(e)) {
    return new CliError(e.message, {
      exitCode: ExitCode.Auth,
      hint: "load the key into ssh-agent, or set [ssh] identity / user in mcp.toml",
      cause: e,
    });
  }
  if (isRemoteCommandError(e)) {
    return new CliError(e.message, { exitCode: ExitCode.Failed, cause: e });
  }
  if (isSshError(e)) {
    return new CliError(e.message, { exitCode: ExitCode.Unavailable, cause: e });
  }
  return e;
}
