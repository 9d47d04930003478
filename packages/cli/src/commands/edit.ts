import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse } from "@mcp/servicedef";
import type { Context } from "../context.js";
import { definitionPath } from "../definition.js";
import { CliError, ExitCode, usageError } from "../errors.js";
import type { Style, Writer } from "../output.js";

export interface EditArgs {
  service: string;
}

/** A problem with an edited definition, positioned in the text the operator saw. */
export interface Problem {
  line: number;
  column: number;
  code: string;
  message: string;
}

const MARK = "# mcp edit:";

/** The text without the block of `# mcp edit:` lines this command put on top. */
export function stripHeader(text: string): string {
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && (lines[i] ?? "").startsWith(MARK)) i++;
  return lines.slice(i).join("\n");
}

/** Errors that keep `text` from being saved as the definition of `service`; empty when valid. */
export function problems(text: string, service: string): Problem[] {
  const result = parse(text, { filename: `${service}.toml` });
  const errors: Problem[] = result.diagnostics
    .filter((d) => d.severity === "error")
    .map((d) => ({ line: d.line, column: d.column, code: d.code, message: d.message }));
  if (errors.length === 0 && result.value && result.value.name !== service) {
    errors.push({
      line: 1,
      column: 1,
      code: "name",
      message: `name must be "${service}" (the file's name), not "${result.value.name}"`,
    });
  }
  return errors;
}

/**
 * The definition with the problems written on top as comments, like `kubectl edit` does: the
 * operator sees them inside the editor, where the fix happens. Line numbers point into the
 * file as shown, header included.
 */
export function withHeader(text: string, found: readonly Problem[]): string {
  const header = [
    `${MARK} this definition is invalid and was not saved. Fix it and save again;`,
    `${MARK} save it unchanged (or empty) to give up. These lines are removed on save.`,
  ];
  const shift = header.length + found.length;
  for (const p of found)
    header.push(`${MARK} line ${p.line + shift}:${p.column}: ${p.code} ${p.message}`);
  return `${header.join("\n")}\n${text}`;
}

export interface EditLoopOptions {
  service: string;
  /** The real file; it need not exist yet. */
  file: string;
  /** Its current text, or a template for a new one. */
  original: string;
  /** Opens the editor on a path and resolves when it exits. */
  runEditor(path: string): Promise<void>;
  stderr: Writer;
  style: Style;
}

export type EditOutcome = "saved" | "unchanged" | "aborted";

/**
 * Edit, validate, and either save or reopen with the problems shown. Works on a temporary copy:
 * the real file only ever changes to a definition that validates, and atomically.
 */
export async function editLoop(opts: EditLoopOptions): Promise<EditOutcome> {
  const dir = await mkdtemp(join(tmpdir(), "mcp-edit-"));
  const tmp = join(dir, `${opts.service}.toml`);
  try {
    let shown = opts.original;
    await writeFile(tmp, shown, { mode: 0o600 });
    for (;;) {
      await opts.runEditor(tmp);
      const edited = await readFile(tmp, "utf8");
      const body = stripHeader(edited);
      // Nothing differs from the saved file: also what quitting the editor at once gives.
      if (body === opts.original) return "unchanged";
      // Saved unchanged after being shown its problems, or emptied: the operator gives up.
      if (edited === shown || body.trim() === "") return "aborted";
      const found = problems(body, opts.service);
      if (found.length === 0) {
        await saveAtomically(opts.file, body);
        return "saved";
      }
      for (const p of found) {
        opts.stderr.write(`${opts.file}:${p.line}:${p.column}: ${p.code} ${p.message}\n`);
      }
      opts.stderr.write(
        `${opts.style.yellow("invalid:")} reopening the editor (save unchanged to give up)\n`,
      );
      shown = withHeader(body, found);
      await writeFile(tmp, shown);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function saveAtomically(file: string, text: string): Promise<void> {
  let mode = 0o644;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch {
    await mkdir(dirname(file), { recursive: true });
  }
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

/**
 * The editor as an argument vector: $VISUAL, else $EDITOR, else vi. Split on whitespace so that
 * `code --wait` works; no shell is involved, so quotes are not interpreted.
 */
export function editorCommand(env: Record<string, string | undefined>): string[] {
  const raw = (env.VISUAL?.trim() || env.EDITOR?.trim() || "vi").split(/\s+/);
  return raw.filter((w) => w !== "");
}

function template(service: string, node: string): string {
  return [
    `name = "${service}"`,
    `node = "${node}"`,
    "",
    "[[components]]",
    'name = "api"',
    `image = "mcr.svc.mcp.metacircular.net:8443/${service}:v0.1.0"`,
    "",
    "[[components.routes]]",
    'name = "rest"',
    "port = 8443",
    'mode = "l4"',
    "",
  ].join("\n");
}

/** `mcp edit <service>`: $EDITOR on the definition, saved only when it validates. */
export async function edit(ctx: Context, args: EditArgs): Promise<number> {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(args.service)) {
    throw usageError(`"${args.service}" is not a service name (a DNS label: a-z, 0-9, -)`);
  }
  const config = await ctx.config();
  const file = definitionPath(config.servicesDir, args.service);
  let original: string;
  let isNew = false;
  try {
    original = await readFile(file, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
    original = template(args.service, config.nodes[0]?.name ?? "rift");
    isNew = true;
  }
  const [cmd, ...cmdArgs] = editorCommand(ctx.env);
  const { execa } = await import("execa");
  const outcome = await editLoop({
    service: args.service,
    file,
    original,
    stderr: ctx.stderr,
    style: ctx.errStyle,
    async runEditor(path) {
      try {
        await execa(cmd ?? "vi", [...cmdArgs, path], {
          stdio: "inherit",
          env: ctx.env,
          extendEnv: false,
        });
      } catch (e) {
        const r = e as { code?: string; exitCode?: number };
        throw new CliError(
          r.code === "ENOENT"
            ? `editor "${cmd}" not found`
            : `the editor "${cmd}" exited with status ${r.exitCode ?? "?"}; nothing was saved`,
          {
            exitCode: ExitCode.Failed,
            hint: "set VISUAL or EDITOR to an editor that waits until you close the file",
            cause: e,
          },
        );
      }
    },
  });
  if (outcome === "saved") {
    ctx.stdout.write(`saved ${file}\n`);
    ctx.stderr.write(
      `${ctx.errStyle.dim("hint:")} run \`mcp deploy ${args.service}\` (or \`mcp sync\`) to apply it\n`,
    );
    return 0;
  }
  ctx.stderr.write(
    outcome === "unchanged"
      ? `no changes; ${isNew ? `${file} was not created` : `${file} left as it was`}\n`
      : `edit given up; ${file} left as it was\n`,
  );
  return outcome === "unchanged" ? 0 : ExitCode.Failed;
}
