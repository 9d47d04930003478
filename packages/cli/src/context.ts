import type { Client, Transport } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { AgentService } from "@mcp/proto/agent/v1";
import type { Config, NodeConfig } from "./config.js";
import { usageError } from "./errors.js";
import type { BuildTarget, ImageCheck } from "./images.js";
import type { Style, Writer } from "./output.js";

export type AgentClient = Client<typeof AgentService>;

/** What every command gets: streams, settings, and lazy access to config, token and agents. */
export interface Context {
  stdout: Writer;
  stderr: Writer;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
  /** Colours for stdout. */
  style: Style;
  /** Colours for stderr (which may be a terminal while stdout is a pipe). */
  errStyle: Style;
  /** `--json`: machine-readable output on stdout, nothing decorative. */
  json: boolean;
  /** Deadline of a unary call, in ms. */
  timeoutMs: number;
  /** mcp.toml, read once on first use. */
  config(): Promise<Config>;
  /** The transport to a node's agent, made once per node on first use. */
  transport(node: NodeConfig): Promise<Transport>;
  /**
   * The registry and the image builder (`mcp build`, `mcp sync`), made on first use from
   * mcp.toml's `[build]` and `[registry]`. The caller closes it.
   */
  images(): Promise<ImageTools>;
  /** Closes every connection opened so the process can exit. */
  close(): void;
}

export function agentClient(transport: Transport): AgentClient {
  return createClient(AgentService, transport);
}

/** The `[[nodes]]` entry called `name`, or a usage error listing the ones there are. */
export function findNode(config: Config, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name);
  if (!node) {
    const known = config.nodes.map((n) => n.name).join(", ") || "none";
    throw usageError(
      `node "${name}" is not in ${config.path}`,
      `add a [[nodes]] table for it (nodes configured: ${known})`,
    );
  }
  return node;
}

/** What `mcp build` and `mcp sync` need of the registry and of Podman. */
export interface ImageTools {
  /** Whether each reference's tag is in its registry; an unanswered check carries `error`. */
  check(refs: readonly string[]): Promise<ImageCheck[]>;
  /** Builds and tags `target.image`; each output line goes to `onLine` as it is printed. */
  build(target: BuildTarget, onLine: (line: string) => void, signal?: AbortSignal): Promise<void>;
  /** Pushes `target.image`; registry failures are CliErrors (exit 3 unreachable, 4 refused). */
  push(target: BuildTarget, signal?: AbortSignal): Promise<void>;
  /** Closes registry connections and removes the temporary auth file. */
  close(): Promise<void>;
}
