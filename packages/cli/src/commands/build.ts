import { buildOne } from "../build-run.js";
import type { Context } from "../context.js";
import { loadDefinition } from "../definition.js";
import { CliError, ExitCode } from "../errors.js";
import { buildTargets, missingSource, requireWorkspace } from "../images.js";

export interface BuildArgs {
  service: string;
  push: boolean;
  verbose: boolean;
}

/**
 * `mcp build <service>`: builds each `[build.images]` entry from `<workspace>/<path>` with
 * Podman and pushes it. Everything that can be checked before Podman runs is: the
 * definition, the workspace, every context and Dockerfile, and (when pushing) that the
 * registry answers and takes the credentials. Deploys nothing.
 */
export async function build(ctx: Context, args: BuildArgs, signal?: AbortSignal): Promise<number> {
  const config = await ctx.config();
  const { def, file } = await loadDefinition(config.servicesDir, args.service);
  const workspace = requireWorkspace(config.build.workspace, config.path);
  const targets = buildTargets(def, workspace);
  if (targets.length === 0) {
    throw new CliError(`service ${def.name} has nothing to build: ${file} has no [build.images]`, {
      exitCode: ExitCode.Failed,
      hint: 'add [build.images] with `<repository> = "<Dockerfile>"` for each image built from source',
    });
  }
  for (const t of targets) {
    const why = await missingSource(t);
    if (why) {
      throw new CliError(`cannot build ${t.image}: ${why}`, {
        exitCode: ExitCode.Failed,
        hint: `check [build] workspace in ${config.path}, \`path\` and [build.images] in ${file}`,
      });
    }
  }
  const tools = await ctx.images();
  try {
    if (args.push) {
      // Fail before a long build when the registry is down or refuses the credentials.
      for (const c of await tools.check(targets.map((t) => t.image))) {
        if (c.error) throw c.error;
      }
    }
    for (const t of targets) {
      await buildOne(ctx, tools, t, { push: args.push, verbose: args.verbose, signal });
    }
  } finally {
    await tools.close();
  }
  if (ctx.json) {
    ctx.stdout.write(
      `${JSON.stringify({
        type: "result",
        service: def.name,
        pushed: args.push,
        images: targets.map((t) => ({ image: t.image, components: t.components })),
      })}\n`,
    );
  } else {
    ctx.stdout.write(
      `${args.push ? "built and pushed" : "built (not pushed)"}: ${targets.map((t) => t.image).join(", ")}\n`,
    );
  }
  return ExitCode.Ok;
}
