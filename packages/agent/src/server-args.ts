export const DEFAULT_CONFIG = "/srv/mcp/mcp-agent.toml";

/**
 * The config path of a plain `server [--config PATH]` command line (what systemd runs), or
 * undefined for anything else. Pure. That command line starts the daemon without yargs:
 * yargs and its terminal-width helpers (Intl.Segmenter, Unicode tables) are ≈ 6 MB of the
 * daemon's resident memory that it would never use again; help, version and mistakes still
 * go through yargs.
 */
export function plainServerCommand(args: readonly string[]): { config: string } | undefined {
  if (args[0] !== "server") return undefined;
  const rest = args.slice(1);
  if (rest.length === 0) return { config: DEFAULT_CONFIG };
  if (rest.length === 1 && rest[0]?.startsWith("--config=")) {
    const config = rest[0].slice("--config=".length);
    return config === "" ? undefined : { config };
  }
  if (rest.length === 2 && rest[0] === "--config" && rest[1] && !rest[1].startsWith("-")) {
    return { config: rest[1] };
  }
  return undefined;
}
