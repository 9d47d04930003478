// The one file that registers mcp's commands. It stays light on purpose: yargs and a few small
// modules load here, while every command, Connect, protobuf and the table renderer load only
// when a command runs, so `mcp --help` and shell completion answer quickly.
import { readdirSync, readFileSync } from "node:fs";
import type { Argv } from "yargs";
import yargs from "yargs";
import type { Context } from "./context.js";
import { ExitCode, usageError } from "./errors.js";
import { colorEnabled, makeStyle, type Writer } from "./output.js";
import { reportError } from "./report.js";

declare const MCP_CLI_VERSION: string | undefined;
const version = typeof MCP_CLI_VERSION === "string" ? MCP_CLI_VERSION : "0.0.0-dev";

/** The process around a run: real streams in bin.ts, string sinks in tests. */
export interface CliIo {
  stdout: Writer & NodeJS.WritableStream;
  stderr: Writer & NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
}

/** Options every command understands. */
export interface GlobalArgs {
  config?: string | undefined;
  json: boolean;
  timeout: number;
}

export type ContextFactory = (io: CliIo, globals: GlobalArgs) => Context;

export interface RunOptions {
  /** Replaces the real context (tests: fake transports). */
  context?: ContextFactory;
  /** Ctrl-C: aborts streams (`logs -f` stops cleanly). */
  signal?: AbortSignal;
}

type Handler<A> = (ctx: Context, args: A, signal: AbortSignal | undefined) => Promise<number>;

/**
 * Parses argv, runs the command, and returns the exit code. Never throws: the one top-level
 * catch below turns errors into output and a code.
 */
export async function run(
  argv: readonly string[],
  io: CliIo,
  opts: RunOptions = {},
): Promise<number> {
  // Shell completion must answer synchronously, so what it reads is loaded up front, and only
  // when completing: `mcp --help` does not pay for the TOML parser.
  const completionConfig =
    argv[0] === "--get-yargs-completions" ? await import("./config.js") : undefined;
  const errStyle = makeStyle(colorEnabled(io.env, io.stderr.isTTY === true));
  let code: number = ExitCode.Ok;
  let ctx: Context | undefined;

  const handle =
    <A>(load: () => Promise<Handler<A>>) =>
    async (args: A & GlobalArgs) => {
      const [command, factory] = await Promise.all([load(), contextFactory(opts)]);
      ctx = factory(io, { config: args.config, json: args.json, timeout: args.timeout });
      code = await command(ctx, args, opts.signal);
    };

  const service = <T>(y: Argv<T>) =>
    y.positional("service", { type: "string", demandOption: true, describe: "service name" });
  const component = <T>(y: Argv<T>) =>
    y.positional("component", { type: "string", describe: "only this component" });

  const parser = yargs([...argv])
    .scriptName("mcp")
    .usage("$0 <command> [options]\n\nDeploy and watch services on the MCP fleet.")
    .env(false)
    .option("config", {
      type: "string",
      describe: "path of mcp.toml (default: $MCP_CONFIG, else ~/.config/mcp/mcp.toml)",
      global: true,
    })
    .option("json", {
      type: "boolean",
      default: false,
      describe: "machine-readable output",
      global: true,
    })
    .option("timeout", {
      type: "number",
      default: 10,
      describe: "seconds to wait for an agent to answer",
      global: true,
    })
    .command(
      "deploy <service>",
      "Validate services/<service>.toml and deploy it to its node",
      (y) =>
        service(y)
          .option("dry-run", {
            type: "boolean",
            default: false,
            describe: "print the plan, change nothing",
          })
          .option("component", { type: "string", describe: "only (re)deploy this component" }),
      handle(async () => (await import("./commands/deploy.js")).deploy),
    )
    .command(
      "undeploy <service>",
      "Tear a service down: DNS, routes, containers, certificates, ports",
      (y) => service(y),
      handle(async () => (await import("./commands/undeploy.js")).undeploy),
    )
    .command(
      "stop <service> [component]",
      "Remove DNS and routes, then stop the containers",
      (y) => component(service(y)),
      handle(async () => (await import("./commands/stop.js")).stop),
    )
    .command(
      "start <service> [component]",
      "Start stopped containers and register them again",
      (y) => component(service(y)),
      handle(async () => (await import("./commands/start.js")).start),
    )
    .command(
      "restart <service> [component]",
      "Restart containers in place",
      (y) => component(service(y)),
      handle(async () => (await import("./commands/restart.js")).restart),
    )
    .command(
      "ps",
      "List containers on every node",
      (y) =>
        y
          .option("all", {
            alias: "a",
            type: "boolean",
            default: false,
            describe: "include unmanaged containers",
          })
          .option("node", { type: "string", describe: "only this node" }),
      handle(async () => (await import("./commands/ps.js")).ps),
    )
    .command(
      "status [service]",
      "Desired against observed state: every service, or one in detail",
      (y) => y.positional("service", { type: "string", describe: "service name" }),
      handle(async () => (await import("./commands/status.js")).status),
    )
    .command(
      "logs <service> [component]",
      "Print (or follow) container logs",
      (y) =>
        component(service(y))
          .option("follow", {
            alias: "f",
            type: "boolean",
            default: false,
            describe: "keep printing new lines",
          })
          .option("tail", { type: "number", describe: "last N lines per component" })
          .option("since", {
            type: "string",
            describe: 'only newer lines: a duration ("10m") or a time (RFC 3339)',
          }),
      handle(async () => (await import("./commands/logs.js")).logs),
    )
    .command(
      "build <service>",
      "Build the service's images from its source tree with Podman, and push them",
      (y) =>
        service(y)
          .option("push", {
            type: "boolean",
            default: true,
            describe: "push after building (--no-push: build only)",
          })
          .option("verbose", {
            alias: "v",
            type: "boolean",
            default: false,
            describe: "show the whole build output",
          }),
      handle(async () => (await import("./commands/build.js")).build),
    )
    .command(
      "sync",
      "Build images missing from the registry, then push every definition to its node",
      (y) =>
        y
          .option("dry-run", {
            type: "boolean",
            default: false,
            describe: "report what would be built and changed, change nothing",
          })
          .option("verbose", {
            alias: "v",
            type: "boolean",
            default: false,
            describe: "show the whole output of builds",
          }),
      handle(async () => (await import("./commands/sync.js")).sync),
    )
    .command(
      "edit <service>",
      "Edit services/<service>.toml in $VISUAL/$EDITOR, validated before it is saved",
      (y) => service(y),
      handle(async () => (await import("./commands/edit.js")).edit),
    )
    .command(
      "diff <service>",
      "What a deploy of services/<service>.toml would change, field by field; changes nothing",
      (y) =>
        service(y).option("exit-code", {
          type: "boolean",
          default: false,
          describe: "exit 1 when a deploy would change something (like git diff --exit-code)",
        }),
      handle(async () => (await import("./commands/diff.js")).diff),
    )
    .command(
      "history <service>",
      "Versions of a service deployed on its node, newest first, with their outcome",
      (y) => service(y).option("limit", { type: "number", describe: "at most N deployments" }),
      handle(async () => (await import("./commands/history.js")).history),
    )
    .command(
      "rollback <service>",
      "Deploy an earlier successful version again (the previous one unless --to)",
      (y) =>
        service(y)
          .option("to", { type: "string", describe: "version (image tag) to return to" })
          .option("dry-run", {
            type: "boolean",
            default: false,
            describe: "print the plan, change nothing",
          }),
      handle(async () => (await import("./commands/rollback.js")).rollback),
    )
    .command(
      "events [service]",
      "What the agents recorded: deploys, stops, drift, adoptions",
      (y) =>
        y
          .positional("service", { type: "string", describe: "only this service" })
          .option("since", {
            type: "string",
            describe: 'only newer events: a duration ("1h") or a time (RFC 3339)',
          })
          .option("limit", { type: "number", describe: "at most N events (the newest)" })
          .option("node", { alias: "n", type: "string", describe: "only this node" }),
      handle(async () => (await import("./commands/events.js")).events),
    )
    .command(
      "adopt <service>",
      "Take over containers <service>-<component> started by hand, without recreating them",
      (y) =>
        service(y)
          .option("dry-run", {
            type: "boolean",
            default: false,
            describe: "show what would be adopted, record nothing",
          })
          .option("node", { alias: "n", type: "string", describe: "the node they run on" }),
      handle(async () => (await import("./commands/adopt.js")).adopt),
    )
    .command("service", "Service definitions", (y) =>
      y
        .command(
          "export <service>",
          "Write services/<service>.toml from what its agent knows",
          (yy) =>
            service(yy).option("force", {
              type: "boolean",
              default: false,
              describe: "replace an existing file (the difference is shown either way)",
            }),
          handle(async () => (await import("./commands/service-export.js")).serviceExport),
        )
        .demandCommand(1, "name a service command: export"),
    )
    .command("route", "mc-proxy routes", (y) =>
      y
        .command(
          "list",
          "Every node's listeners and routes (hostname → backend)",
          (yy) => yy.option("node", { alias: "n", type: "string", describe: "only this node" }),
          handle(async () => (await import("./commands/route-list.js")).routeList),
        )
        .demandCommand(1, "name a route command: list"),
    )
    .command("node", "Nodes of the fleet", (y) =>
      y
        .command(
          "list",
          "Every node in mcp.toml with its agent's version",
          (yy) => yy,
          handle(async () => (await import("./commands/node-list.js")).nodeList),
        )
        .command(
          "add <name> <address>",
          "Check a node and append its [[nodes]] table to mcp.toml, then ask its agent",
          (yy) =>
            yy
              .positional("name", { type: "string", demandOption: true, describe: "node name" })
              .positional("address", {
                type: "string",
                demandOption: true,
                describe: "the agent's host:port",
              })
              .option("ssh", { type: "string", describe: "SSH host or alias (default: the name)" })
              .option("arch", { type: "string", choices: ["amd64", "arm64"], default: "amd64" })
              .option("role", { type: "string", choices: ["compute", "edge"] }),
          handle(async () => (await import("./commands/node-add.js")).nodeAdd),
        )
        .command(
          "provision <name>",
          "Prepare a Debian node over SSH: packages, user, dirs, config, unit, agent",
          (yy) =>
            yy
              .positional("name", { type: "string", demandOption: true, describe: "node name" })
              .option("accept-new-host-key", {
                type: "boolean",
                default: false,
                describe: "trust and remember the host key of a node never seen before",
              })
              .option("dry-run", {
                type: "boolean",
                default: false,
                describe: "check SSH and the artifact, print the steps, change nothing",
              })
              .option("artifacts", { type: "string", describe: "release artifacts directory" })
              .option("release", { type: "string", describe: "agent version, when several" }),
          handle(async () => (await import("./commands/node-provision.js")).nodeProvision),
        )
        .demandCommand(1, "name a node command: list, add, provision"),
    )
    .command("agent", "The agents of the fleet", (y) =>
      y
        .command(
          "upgrade [node]",
          "Install the release artifact on every node (or one) over SSH, verify, roll back",
          (yy) =>
            yy
              .positional("node", { type: "string", describe: "only this node" })
              .option("artifacts", {
                type: "string",
                describe:
                  "release artifacts directory (default: [fleet] artifacts, dist/artifacts)",
              })
              .option("release", { type: "string", describe: "agent version, when several" })
              .option("concurrency", { type: "number", default: 4, describe: "nodes at once" })
              .option("deadline", {
                type: "string",
                default: "60s",
                describe: "how long a restarted agent has to answer with the new version",
              })
              .option("force", {
                type: "boolean",
                default: false,
                describe: "reinstall and restart nodes already on the version",
              }),
          handle(async () => (await import("./commands/agent-upgrade.js")).agentUpgrade),
        )
        .command(
          "status",
          "Every agent's version, with skew between agents and the CLI flagged",
          (yy) =>
            yy.option("strict", {
              type: "boolean",
              default: false,
              describe: "exit 1 when versions differ",
            }),
          handle(async () => (await import("./commands/agent-status.js")).agentStatus),
        )
        .demandCommand(1, "name an agent command: upgrade, status"),
    )
    .command(
      "login",
      "Get a token from MCIAS and save it beside mcp.toml",
      (y) =>
        y
          .option("username", {
            alias: "u",
            type: "string",
            describe: "MCIAS user (asked when absent)",
          })
          .option("password-stdin", {
            type: "boolean",
            default: false,
            describe: "read the password from stdin",
          })
          .option("totp", { type: "string", describe: "one-time code, if the account has TOTP" }),
      handle(async () => (await import("./commands/login.js")).login),
    )
    .completion(
      "completion",
      "Print a completion script for bash or zsh (chosen by $SHELL)",
      (
        current: string,
        args: { _: unknown[]; config?: string },
        completionFilter: () => void,
        done: (completions: string[]) => void,
      ) => {
        // `mcp deploy m<TAB>` gives ["mcp", "deploy", "m"]: offer the services directory.
        const words = args._.map(String).slice(1);
        if (words.length === 2 && serviceCommands.has(words[0] ?? "") && !current.startsWith("-")) {
          // Synchronous on purpose: yargs treats a completion that answers later as no answer.
          done(
            serviceNames(io, args.config, completionConfig).filter((n) => n.startsWith(current)),
          );
          return;
        }
        completionFilter();
      },
    )
    .demandCommand(1, "name a command (see mcp --help)")
    .recommendCommands()
    .strict()
    .help()
    .alias("h", "help")
    .version(version)
    .wrap(Math.min(100, (io.stdout as { columns?: number }).columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      const suggestion = /^Did you mean (\S+)\?$/.exec(msg ?? "");
      if (suggestion) {
        const typed = argv.find((a) => !a.startsWith("-")) ?? "";
        throw usageError(`unknown command "${typed}"`, `did you mean \`mcp ${suggestion[1]}\`?`);
      }
      throw usageError(msg ?? "invalid arguments", "see `mcp --help`, or `mcp <command> --help`");
    });

  try {
    await parser.parseAsync();
    return code;
  } catch (e) {
    return reportError(e, io.stderr, errStyle, io.env);
  } finally {
    ctx?.close();
  }
}

const serviceCommands = new Set([
  "build",
  "deploy",
  "undeploy",
  "stop",
  "start",
  "restart",
  "status",
  "logs",
  "edit",
  "diff",
  "history",
  "rollback",
  "events",
  "adopt",
]);

type ConfigModule = typeof import("./config.js");

/** Names of the definitions in the services directory, for shell completion; none on error. */
function serviceNames(
  io: CliIo,
  flag: string | undefined,
  mod: ConfigModule | undefined,
): string[] {
  if (!mod) return [];
  const { locateConfig, parseConfig } = mod;
  try {
    const where = locateConfig({ flag, env: io.env, home: io.home, cwd: io.cwd });
    const config = parseConfig(readFileSync(where.path, "utf8"), {
      path: where.path,
      env: io.env,
      home: io.home,
      cwd: io.cwd,
    });
    return readdirSync(config.servicesDir)
      .filter((f) => f.endsWith(".toml"))
      .map((f) => f.slice(0, -".toml".length))
      .sort();
  } catch {
    return [];
  }
}

async function contextFactory(opts: RunOptions): Promise<ContextFactory> {
  if (opts.context) return opts.context;
  return (await import("./real-context.js")).createContext;
}
