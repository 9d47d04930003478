import { type Context, findNode } from "../context.js";
import { formatDiagnostic, loadDefinition, toServiceSpec } from "../definition.js";
import { ExitCode } from "../errors.js";
import { renderJson } from "../output.js";
import { planChangesSomething, planJson, renderPlan } from "../plan.js";
import { callNode } from "../unary.js";

export interface DiffArgs {
  service: string;
  exitCode: boolean;
}

/**
 * `mcp diff <service>`: what a deploy of services/<service>.toml would change, field by field,
 * asked of the agent's Plan, which changes nothing. Exit 0 whatever it finds, like `git diff`;
 * with --exit-code, 1 when a deploy would change something, so scripts can branch on it.
 */
export async function diff(ctx: Context, args: DiffArgs): Promise<number> {
  const config = await ctx.config();
  const def = await loadDefinition(config.servicesDir, args.service);
  for (const w of def.warnings)
    ctx.stderr.write(`${ctx.errStyle.yellow("warning:")} ${formatDiagnostic(def.file, w)}\n`);
  const node = findNode(config, def.def.node);
  const spec = toServiceSpec(def.def, def.text);
  const res = await callNode(ctx, node, (c, o) => c.plan({ spec }, o));
  const changed = planChangesSomething(res.plan);
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({ node: node.name, service: args.service, changed, plan: planJson(res.plan) }),
    );
  } else {
    ctx.stdout.write(`${def.file} against ${args.service} on ${node.name}:\n`);
    ctx.stdout.write(renderPlan(res.plan, ctx.style));
  }
  return args.exitCode && changed ? ExitCode.Failed : ExitCode.Ok;
}
