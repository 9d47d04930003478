// The programmatic face of the `mcp` command: run it in-process (tests, wrappers) and the pure
// pieces other tools may want (config parsing, exit codes).
export type { CliIo, ContextFactory, GlobalArgs, RunOptions } from "./cli.js";
export { run } from "./cli.js";
export type { Config, ConfigLocation, NodeConfig, ParseConfigOptions } from "./config.js";
export { locateConfig, parseConfig } from "./config.js";
export type { AgentClient, Context } from "./context.js";
export { CliError, ExitCode, isCliError } from "./errors.js";
export { loadConfig } from "./load-config.js";
export { cleanToken, readToken, writeToken } from "./token.js";
