#!/usr/bin/env node
// mcp-sim: run the platform stand-ins on loopback. Commands load lazily so --help is fast.
import yargs from "yargs";
import { hideBin } from "yargs/helpers";

const dirOption = {
  type: "string",
  demandOption: true,
  describe: "state directory (kept across restarts)",
} as const;

async function main(): Promise<void> {
  await yargs(hideBin(process.argv))
    .scriptName("mcp-sim")
    .usage("$0 <command>\n\nStand-ins for MCIAS, Metacrypt, mc-proxy and MCNS, on loopback.")
    .command(
      "run",
      "run sim services in the foreground until interrupted",
      (y) =>
        y
          .option("dir", dirOption)
          .option("only", {
            type: "string",
            describe: "comma-separated modules to run (default: all)",
          })
          .option("host", { type: "string", default: "127.0.0.1", describe: "loopback address" })
          .option("token-ttl", {
            type: "string",
            describe: "MCIAS: lifetime of login tokens (e.g. 1h)",
          })
          .option("json", {
            type: "boolean",
            default: false,
            describe: "print endpoints as one JSON line",
          })
          .option("set", {
            type: "string",
            array: true,
            default: [] as string[],
            describe:
              "module option KEY=VALUE, repeatable (mcnsZones, mcnsDnsPort, listeners, socket, socketMode)",
          }),
      async (argv) => {
        const { runCommand } = await import("./commands/run.ts");
        await runCommand({
          dir: argv.dir,
          only: argv.only
            ? argv.only
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
            : undefined,
          host: argv.host,
          tokenTtl: argv["token-ttl"],
          json: argv.json,
          set: argv.set,
        });
      },
    )
    .command(
      "up",
      "start the whole local platform in the background (sim, registry, mcp-agent); reuses what runs",
      (y) =>
        y
          .option("dir", dirOption)
          .option("workspace", {
            type: "string",
            describe: "root of the source trees for mcp build (default: the repo's examples/)",
          })
          .option("agent-bin", { type: "string", describe: "mcp-agent's bin.js" })
          .option("json", { type: "boolean", default: false, describe: "print one JSON line" }),
      async (argv) => {
        const { upCommand } = await import("./commands/up.ts");
        await upCommand({
          dir: argv.dir,
          workspace: argv.workspace,
          agentBin: argv["agent-bin"],
          json: argv.json,
        });
      },
    )
    .command(
      "down",
      "stop what up started (by its pid files); state stays on disk",
      (y) => y.option("dir", dirOption),
      async (argv) => {
        const { downCommand } = await import("./commands/down.ts");
        await downCommand({ dir: argv.dir });
      },
    )
    .command("mcias", "MCIAS stand-in administration", (y) =>
      y
        .command(
          "token",
          "mint a token for an account and print it (works whether or not the sim runs)",
          (yy) =>
            yy
              .option("dir", dirOption)
              .option("user", { type: "string", demandOption: true, describe: "account name" })
              .option("ttl", { type: "string", default: "30d", describe: "token lifetime" })
              .option("out", {
                type: "string",
                describe: "write the token to this file (0600) instead",
              }),
          async (argv) => {
            const { mintTokenCommand } = await import("./commands/mcias.ts");
            await mintTokenCommand({
              dir: argv.dir,
              user: argv.user,
              ttl: argv.ttl,
              out: argv.out,
            });
          },
        )
        .command(
          "user",
          "add or replace an account",
          (yy) =>
            yy
              .option("dir", dirOption)
              .option("user", { type: "string", demandOption: true, describe: "account name" })
              .option("password", { type: "string", describe: "password (omit: cannot log in)" })
              .option("roles", { type: "string", default: "", describe: "comma-separated roles" })
              .option("kind", { choices: ["user", "service"] as const, default: "user" as const })
              .option("totp", {
                type: "boolean",
                default: false,
                describe: "require a TOTP code at login; prints the otpauth:// URI",
              }),
          async (argv) => {
            const { userCommand } = await import("./commands/mcias.ts");
            await userCommand({
              dir: argv.dir,
              user: argv.user,
              password: argv.password,
              roles: argv.roles
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean),
              kind: argv.kind,
              totp: argv.totp,
            });
          },
        )
        .command(
          "revoke",
          "revoke a token (read from a file, so it never shows in the process list)",
          (yy) =>
            yy.option("dir", dirOption).option("token-file", {
              type: "string",
              demandOption: true,
              describe: "file holding the token",
            }),
          async (argv) => {
            const { revokeCommand } = await import("./commands/mcias.ts");
            await revokeCommand({ dir: argv.dir, tokenFile: argv["token-file"] });
          },
        )
        .demandCommand(1)
        .strict(),
    )
    .demandCommand(1)
    .strict()
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`mcp-sim: ${msg}\n`);
      process.exit(2);
    })
    .parseAsync();
}

main().catch((e: unknown) => {
  process.stderr.write(`mcp-sim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
