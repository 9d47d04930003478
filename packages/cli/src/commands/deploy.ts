import { ChangeKind, type Plan } from "@mcp/proto/agent/v1";
import { type Context, findNode } from "../context.js";
import { formatDiagnostic, loadDefinition, toServiceSpec } from "../definition.js";
import { resultJson, runWithProgress, writeResult } from "../operation.js";
import { renderJson, type Style } from "../output.js";

export interface DeployArgs {
  service: string;
  dryRun: boolean;
  component?: string | undefined;
}

const kindMark: Record<number, string> = {
  [ChangeKind.ADDED]: "+",
  [ChangeKind.REMOVED]: "-",
  [ChangeKind.MODIFIED]: "~",
};

/** A dry run's plan for people: what changes field by field, then the steps in order. */
export function renderPlan(plan: Plan | undefined, style: Style): string {
  const lines: string[] = [];
  const changes = plan?.changes ?? [];
  if (changes.length === 0) lines.push(style.dim("no changes to the stored definition"));
  else {
    lines.push(style.bold("Changes:"));
    for (const c of changes) {
      const mark = kindMark[c.kind] ?? "?";
      const field = c.component ? `${c.component}.${c.field}` : c.field;
      const color =
        c.kind === ChangeKind.ADDED
          ? style.green
          : c.kind === ChangeKind.REMOVED
            ? style.red
            : style.yellow;
      const values =
        c.kind === ChangeKind.MODIFIED
          ? `${c.oldValue} -> ${c.newValue}`
          : c.kind === ChangeKind.ADDED
            ? c.newValue
            : c.oldValue;
      lines.push(color(`  ${mark} ${field}${values ? `: ${values}` : ""}`));
    }
  }
  const steps = plan?.steps ?? [];
  if (steps.length === 0) lines.push(style.dim("nothing to do"));
  else {
    lines.push(style.bold("Steps:"));
    steps.forEach((s, i) => {
      const label = `${s.name}${s.component ? ` ${s.component}` : ""}`;
      lines.push(`  ${i + 1}. ${label}${s.description ? style.dim(`: ${s.description}`) : ""}`);
    });
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `mcp deploy <service>`: validate the definition here (the agent validates again), send it
 * to its node and show each step as the agent reports it.
 */
export async function deploy(
  ctx: Context,
  args: DeployArgs,
  signal?: AbortSignal,
): Promise<number> {
  const config = await ctx.config();
  const def = await loadDefinition(config.servicesDir, args.service);
  for (const w of def.warnings)
    ctx.stderr.write(`${ctx.errStyle.yellow("warning:")} ${formatDiagnostic(def.file, w)}\n`);
  const node = findNode(config, def.def.node);
  const spec = toServiceSpec(def.def, def.text);
  const result = await runWithProgress(ctx, {
    node,
    what: args.dryRun ? `dry run of the deploy of ${args.service}` : `deploy of ${args.service}`,
    signal,
    call: (client, s) =>
      client.deploy(
        { spec, dryRun: args.dryRun, ...(args.component ? { component: args.component } : {}) },
        { signal: s },
      ),
  });
  if (args.dryRun) {
    if (ctx.json) {
      const plan = result.plan;
      ctx.stdout.write(
        renderJson({
          ...resultJson(node, result),
          dryRun: true,
          plan: {
            changes: (plan?.changes ?? []).map((c) => ({
              component: c.component,
              field: c.field,
              kind: ChangeKind[c.kind]?.toLowerCase() ?? "unspecified",
              old: c.oldValue,
              new: c.newValue,
            })),
            steps: (plan?.steps ?? []).map((s) => ({
              name: s.name,
              component: s.component,
              description: s.description,
            })),
          },
        }),
      );
    } else {
      ctx.stdout.write(`Plan for ${args.service} on ${node.name} (dry run, nothing changed):\n`);
      ctx.stdout.write(renderPlan(result.plan, ctx.style));
    }
    return 0;
  }
  writeResult(ctx, node, result, "deployed");
  return 0;
}
