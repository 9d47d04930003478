import { readFile, rename, writeFile } from "node:fs/promises";
import { createTwoFilesPatch } from "diff";
import type { Context } from "../context.js";
import { checkDefinition, definitionPath } from "../definition.js";
import { CliError, ExitCode } from "../errors.js";
import { annotateExport, publishedPorts } from "../export-annotate.js";
import { locateService } from "../locate.js";
import { makeStyle, renderJson, type Style } from "../output.js";
import { callNode } from "../unary.js";

export interface ServiceExportArgs {
  service: string;
  force: boolean;
}

/** A unified diff, coloured for a terminal; "" when the texts are equal. */
export function unifiedDiff(
  oldText: string,
  newText: string,
  oldName: string,
  newName: string,
  style: Style,
): string {
  if (oldText === newText) return "";
  const patch = createTwoFilesPatch(oldName, newName, oldText, newText, "", "", { context: 3 });
  return `${patch
    .split("\n")
    .filter((l) => !/^=+$/.test(l) && !l.startsWith("Index: "))
    .map((l) =>
      l.startsWith("+++") || l.startsWith("---")
        ? style.bold(l)
        : l.startsWith("+")
          ? style.green(l)
          : l.startsWith("-")
            ? style.red(l)
            : l.startsWith("@@")
              ? style.cyan(l)
              : l,
    )
    .join("\n")
    .replace(/\n+$/, "")}\n`;
}

/** Component names of a definition's text, when the agent sent no structured spec. */
function componentNames(toml: string): string[] {
  return [...toml.matchAll(/^\[\[components\]\]\s*\n\s*name\s*=\s*"([^"]+)"/gm)].map(
    (m) => m[1] as string,
  );
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw new CliError(`cannot read ${file}: ${(e as { code?: string }).code ?? e}`, {
      exitCode: ExitCode.Failed,
      cause: e,
    });
  }
}

/**
 * `mcp service export <service>` (bootstrap step 9): write services/<service>.toml from what
 * the service's agent knows, with comments for what only the operator knows. The text is
 * validated before it is written; an existing file is only replaced with --force, and the
 * difference is shown either way.
 */
export async function serviceExport(ctx: Context, args: ServiceExportArgs): Promise<number> {
  const config = await ctx.config();
  const node = await locateService(ctx, args.service);
  const [exported, containers] = await Promise.all([
    callNode(ctx, node, (c, o) => c.exportService({ service: args.service }, o)),
    callNode(ctx, node, (c, o) => c.listContainers({ includeUnmanaged: true }, o)),
  ]);
  const file = definitionPath(config.servicesDir, args.service);
  const text = annotateExport({
    toml: exported.toml,
    service: args.service,
    node: node.name,
    ports: publishedPorts(
      containers.containers,
      args.service,
      exported.spec?.components.length
        ? exported.spec.components.map((c) => c.name)
        : componentNames(exported.toml),
    ),
  });
  // What `mcp-servicedef lint` would say: never write a file the next command refuses.
  checkDefinition(text, file, args.service);
  const existing = await readIfExists(file);
  const patch =
    existing === undefined
      ? ""
      : unifiedDiff(
          existing,
          text,
          file,
          `${file} (exported)`,
          ctx.json ? makeStyle(false) : ctx.style,
        );
  const unchanged = existing !== undefined && existing === text;
  const write = existing === undefined || (args.force && !unchanged);
  if (write) {
    // Whole or not at all: a half-written definition would break the next sync.
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  }
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        node: node.name,
        service: args.service,
        file,
        written: write,
        existed: existing !== undefined,
        diff: patch,
        toml: text,
      }),
    );
  } else {
    if (patch) ctx.stdout.write(patch);
    const s = ctx.style;
    if (unchanged) ctx.stdout.write(`${s.dim("=")} ${file} is already up to date\n`);
    else if (write) {
      ctx.stdout.write(
        `${s.green("✔")} wrote ${file}${existing === undefined ? "" : " (replaced)"}\n`,
      );
    }
  }
  if (existing !== undefined && !unchanged && !args.force) {
    throw new CliError(`${file} exists and differs from the export; left it as it is`, {
      exitCode: ExitCode.Failed,
      hint: `the difference is shown above; pass --force to replace it, or edit it with \`mcp edit ${args.service}\``,
    });
  }
  return 0;
}
