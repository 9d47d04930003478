import { readFile } from "node:fs/promises";
import { type Config, locateConfig, parseConfig } from "./config.js";
import { configError } from "./errors.js";

export interface LoadConfigOptions {
  /** `--config`, if given. */
  flag?: string | undefined;
  env: Record<string, string | undefined>;
  home: string;
  cwd: string;
}

/** Finds, reads and parses mcp.toml: the I/O around the pure parseConfig. */
export async function loadConfig(opts: LoadConfigOptions): Promise<Config> {
  const where = locateConfig(opts);
  let text: string;
  try {
    text = await readFile(where.path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") {
      throw configError(
        `no config file at ${where.path}`,
        where.explicit
          ? "check MCP_CONFIG / --config"
          : "create it with a [[nodes]] table per agent (see the @mcp/cli README), or point MCP_CONFIG at one",
        e,
      );
    }
    throw configError(`cannot read ${where.path}: ${code ?? String(e)}`, undefined, e);
  }
  return parseConfig(text, { path: where.path, env: opts.env, home: opts.home, cwd: opts.cwd });
}
