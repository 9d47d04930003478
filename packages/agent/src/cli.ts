// The mcp-agent command line (loaded by bin.ts once the process has its Node flags).
import { readFileSync } from "node:fs";
import { isConfigError, parseConfig } from "./config.ts";
import { AGENT_VERSION, isStartupError, runAgent } from "./main.ts";
import { DEFAULT_CONFIG, plainServerCommand } from "./server-args.ts";

async function server(configPath: string): Promise<void> {
  let text: string;
  try {
    text = readFileSync(configPath, "utf8");
  } catch (e) {
    throw new Error(`cannot read config ${configPath}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const config = parseConfig(text, { filename: configPath, env: process.env });
  const running = await runAgent(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.log.info({ signal }, "mcp-agent stopping");
    // A stop must end: whatever close() waits on (a Podman call past its timeout, a peer
    // that holds a connection) gets this long, then the process exits anyway.
    setTimeout(() => {
      running.log.warn({ signal }, "mcp-agent did not stop within 10 s; exiting");
      process.exit(1);
    }, 10_000).unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function runServer(configPath: string): Promise<void> {
  try {
    await server(configPath);
  } catch (e) {
    const known =
      isConfigError(e) ||
      isStartupError(e) ||
      (e as Error).message?.startsWith("cannot read config");
    process.stderr.write(
      `mcp-agent: ${known ? (e as Error).message : `unexpected error: ${(e as Error).stack ?? e}`}\n`,
    );
    process.exit(known ? 2 : 1);
  }
}

const plain = plainServerCommand(process.argv.slice(2));
if (plain) await runServer(plain.config);
else await withYargs();

async function withYargs(): Promise<void> {
  const { default: yargs } = await import("yargs");
  const { hideBin } = await import("yargs/helpers");
  await yargs(hideBin(process.argv))
    .scriptName("mcp-agent")
    .version(AGENT_VERSION)
    .command(
      "server",
      "run the agent (Connect/gRPC over TLS 1.3)",
      (y) =>
        y.option("config", {
          type: "string",
          demandOption: true,
          describe: "path of mcp-agent.toml",
          default: DEFAULT_CONFIG,
        }),
      (argv) => runServer(argv.config),
    )
    .demandCommand(1, "name a command: mcp-agent server --config PATH")
    .strict()
    .help()
    .parseAsync();
}
