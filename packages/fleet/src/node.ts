import type { Arch } from "./artifact.ts";
import { FleetInputError } from "./errors.ts";
import type { SshTarget } from "./ssh.ts";

/** A node as the CLI knows it from mcp.toml (`[[nodes]]` name, ssh, arch). */
export interface FleetNode {
  name: string;
  ssh: SshTarget;
  arch: Arch;
  /** Run privileged steps through `sudo -n` (the SSH user is not root). */
  sudo?: boolean;
  /** The agent's home. Default `/srv/mcp`. */
  dir?: string;
}

export const DEFAULT_AGENT_DIR = "/srv/mcp";

/** Restarts the agent on a node after its files were swapped. */
export interface ServiceManager {
  restart(node: FleetNode): Promise<void>;
}

/** `mcp node add <name> <address>` input, before the CLI writes it to mcp.toml. */
export interface NodeEntryInput {
  name: string;
  /** The agent's gRPC address, `host:port` (`[v6]:port`). */
  address: string;
  /** SSH destination or alias. Default: the node name. */
  ssh?: string;
  /** Default amd64. */
  arch?: string;
}

/** A checked `[[nodes]]` entry: `{ name, address, ssh, arch }`. */
export interface NodeEntry {
  name: string;
  address: string;
  ssh: string;
  arch: Arch;
}

const LABEL_RE = /^[a-z][a-z0-9-]{0,62}$/;
const SSH_DEST_RE = /^(?:[A-Za-z_][A-Za-z0-9_.-]*@)?[A-Za-z0-9_][A-Za-z0-9_.:%-]*$/;

/**
 * Checks a node entry for `mcp node add`; one clear error naming the field, nothing
 * written. `existing` are the nodes already in mcp.toml (a name may appear once).
 */
export function checkNodeEntry(
  input: NodeEntryInput,
  existing: readonly { name: string }[] = [],
): NodeEntry {
  const { name, address } = input;
  if (!LABEL_RE.test(name)) {
    throw new FleetInputError(
      `node name ${JSON.stringify(name)}: expected a DNS label (a-z, 0-9, -; starts with a letter)`,
    );
  }
  if (existing.some((n) => n.name === name))
    throw new FleetInputError(`node ${name} is already in mcp.toml`);
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  const port = Number(m?.[2]);
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new FleetInputError(
      `node ${name}: address ${JSON.stringify(address)}: expected host:port, e.g. 100.95.252.120:9444`,
    );
  }
  const ssh = input.ssh ?? name;
  if (!SSH_DEST_RE.test(ssh)) {
    throw new FleetInputError(
      `node ${name}: ssh ${JSON.stringify(ssh)} is not a host, alias or user@host`,
    );
  }
  const arch = input.arch ?? "amd64";
  if (arch !== "amd64" && arch !== "arm64") {
    throw new FleetInputError(
      `node ${name}: arch ${JSON.stringify(arch)}: expected amd64 or arm64`,
    );
  }
  return { name, address, ssh, arch };
}
