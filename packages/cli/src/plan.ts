import { ChangeKind, type Plan } from "@mcp/proto/agent/v1";
import type { Style } from "./output.js";

// One rendering of an agent's Plan, shared by `mcp deploy --dry-run`, `mcp diff` and
// `mcp rollback --dry-run`, so an operator reads the same lines whichever command asked.

const kindMark: Record<number, string> = {
  [ChangeKind.ADDED]: "+",
  [ChangeKind.REMOVED]: "-",
  [ChangeKind.MODIFIED]: "~",
};

/** The field-by-field changes: `~ web.image: a -> b`, `+ api.env: X=1`; empty when none. */
export function renderChanges(plan: Plan | undefined, style: Style): string[] {
  const lines: string[] = [];
  for (const c of plan?.changes ?? []) {
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
  return lines;
}

/** A plan for people: what changes field by field, then the steps in order. */
export function renderPlan(plan: Plan | undefined, style: Style): string {
  const lines: string[] = [];
  const changes = renderChanges(plan, style);
  if (changes.length === 0) lines.push(style.dim("no changes to the stored definition"));
  else lines.push(style.bold("Changes:"), ...changes);
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

/** A plan for scripts (`--json`). */
export function planJson(plan: Plan | undefined): {
  changes: { component: string; field: string; kind: string; old: string; new: string }[];
  steps: { name: string; component: string; description: string }[];
} {
  return {
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
  };
}

/** Whether carrying the plan out would change anything running. */
export function planChangesSomething(plan: Plan | undefined): boolean {
  if (!plan) return false;
  return plan.changes.length > 0 || plan.steps.some((s) => s.name !== "container");
}
