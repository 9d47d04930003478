#!/usr/bin/env node
// mcp-servicedef: lint, format and describe service definitions. Commands are loaded
// lazily so that `--help` and completion do not pay for the parser.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";

const EXIT_USAGE = 2;

function paths(argv: { paths?: unknown }, command: string): string[] | undefined {
  const list = Array.isArray(argv.paths) ? argv.paths.map(String) : [];
  if (list.length > 0) return list;
  process.stderr.write(
    `mcp-servicedef: ${command}: give at least one file or directory\nRun mcp-servicedef --help for usage.\n`,
  );
  process.exitCode = EXIT_USAGE;
  return undefined;
}

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName("mcp-servicedef")
    .usage("$0 <command> [options]")
    .command(
      "lint [paths..]",
      "Check service definitions (files, or directories searched for *.toml)",
      (y) =>
        y
          .positional("paths", { type: "string", array: true, describe: "files or directories" })
          .option("json", { type: "boolean", default: false, describe: "print JSON for scripts" }),
      async (argv) => {
        const list = paths(argv, "lint");
        if (!list) return;
        const { lint } = await import("./cli/lint.ts");
        process.exitCode = await lint(list, { json: argv.json });
      },
    )
    .command(
      "fmt [paths..]",
      "Rewrite service definitions in canonical form",
      (y) =>
        y
          .positional("paths", { type: "string", array: true, describe: "files or directories" })
          .option("check", {
            type: "boolean",
            default: false,
            describe: "change nothing; list files that would change and exit 1",
          }),
      async (argv) => {
        const list = paths(argv, "fmt");
        if (!list) return;
        const { fmt } = await import("./cli/fmt.ts");
        process.exitCode = await fmt(list, { check: argv.check });
      },
    )
    .command("schema", "Print the JSON Schema of service definitions", {}, async () => {
      const { printSchema } = await import("./cli/schema.ts");
      printSchema();
    })
    .completion("completion", "Print a shell completion script (bash/zsh)")
    .demandCommand(1, "give a command: lint, fmt or schema")
    .strict()
    .recommendCommands()
    .help()
    .alias("h", "help")
    .version(false)
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`mcp-servicedef: ${msg}\nRun mcp-servicedef --help for usage.\n`);
      process.exit(EXIT_USAGE);
    })
    .parseAsync();
}

main().catch((e: unknown) => {
  process.stderr.write(
    `mcp-servicedef: unexpected error (a bug; please report it): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(EXIT_USAGE);
});
