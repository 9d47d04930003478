import type { Arch } from "./artifact.ts";
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
