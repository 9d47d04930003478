/**
 * The operation kind written to the journal: `stop`, or `stop:web` when the operation
 * concerns one component. A restart must know which, to complete the right thing, and the
 * registry's `operations` table has no component column. Pure.
 */
export function operationKind(kind: string, component?: string): string {
  return component === undefined || component === "" ? kind : `${kind}:${component}`;
}

/** The inverse of `operationKind`. Pure. */
export function parseOperationKind(kind: string): { kind: string; component?: string } {
  const i = kind.indexOf(":");
  if (i < 0) return { kind };
  return { kind: kind.slice(0, i), component: kind.slice(i + 1) };
}
