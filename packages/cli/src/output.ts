import { styleText } from "node:util";

/** Where a command writes. process.stdout/stderr in real use, string sinks in tests. */
export interface Writer {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/**
 * Colour only for a terminal, never when NO_COLOR is set (https://no-color.org: any non-empty
 * value), always when FORCE_COLOR asks for it (1, 2, 3 or empty), and never for TERM=dumb.
 */
export function colorEnabled(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== "0" && force !== "false";
  return isTTY && env.TERM !== "dumb";
}

export interface Style {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

type Format = Parameters<typeof styleText>[0];

export function makeStyle(enabled: boolean): Style {
  // validateStream: false because the decision was made once, by colorEnabled, for all streams.
  const f = (format: Format) => (s: string) =>
    enabled ? styleText(format, s, { validateStream: false }) : s;
  return {
    enabled,
    bold: f("bold"),
    dim: f("dim"),
    red: f("red"),
    green: f("green"),
    yellow: f("yellow"),
    cyan: f("cyan"),
  };
}

/** JSON for scripts: stable, two-space indented, bigints as decimal strings, one trailing newline. */
export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`;
}

/** "3d4h", "5m12s", "42s": how long something has been up, in the two largest units. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  const s = Math.floor(ms / 1000);
  const units: [string, number][] = [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [u, n] of units) {
    const q = Math.floor(rest / n);
    if (q > 0 || parts.length > 0 || u === "s") parts.push(`${q}${u}`);
    rest -= q * n;
    if (parts.length === 2) break;
  }
  return parts.join("");
}
