const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses "90s", "15m", "1h", "30d", "250ms", or a plain number of seconds, into
 * milliseconds. `what` names the option in the error message.
 */
export function parseDuration(value: string | number, what: string): number {
  if (typeof value === "number") {
    if (Number.isFinite(value) && value > 0) return value * 1000;
    throw new Error(`${what}: expected a positive duration, got ${value}`);
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m?.[1]) throw new Error(`${what}: "${value}" is not a duration (e.g. 90s, 15m, 1h, 30d)`);
  const ms = Number(m[1]) * (UNITS[m[2] ?? "s"] ?? 1000);
  if (!(ms > 0)) throw new Error(`${what}: expected a positive duration, got "${value}"`);
  return ms;
}
