import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { LogStream, type LogsResponse } from "@mcp/proto/agent/v1";
import { agentClient, type Context } from "../context.js";
import { ExitCode, isCliError, usageError } from "../errors.js";
import { locateService } from "../locate.js";
import { STREAM_IDLE_MS } from "../operation.js";
import type { Style } from "../output.js";
import { consumeStream } from "../stream.js";

export interface LogsArgs {
  service: string;
  component?: string | undefined;
  follow: boolean;
  tail?: number | undefined;
  since?: string | undefined;
}

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now ("90s", "1h30m", "2d") or an RFC 3339 time. */
export function parseSince(text: string, now: number): Date {
  const t = text.trim();
  if (/^(\d+(ms|s|m|h|d))+$/.test(t)) {
    let ms = 0;
    for (const [, n, u] of t.matchAll(/(\d+)(ms|s|m|h|d)/g))
      ms += Number(n) * (unitMs[u as string] ?? 0);
    return new Date(now - ms);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return new Date(ms);
  }
  throw usageError(
    `--since "${text}" is neither a duration nor a time`,
    'use a duration like "10m" or "1h30m", or a time like "2026-03-26T15:00:00Z"',
  );
}

/** One log line for people: `component | line`, the component only when several interleave. */
export function formatLogLine(m: LogsResponse, style: Style, showComponent: boolean): string {
  const prefix = showComponent ? `${style.cyan(m.component || "-")} ${style.dim("|")} ` : "";
  const line = m.stream === LogStream.STDERR ? style.yellow(m.line) : m.line;
  return `${prefix}${line}\n`;
}

export function logLineJson(m: LogsResponse): unknown {
  return {
    component: m.component,
    stream: m.stream === LogStream.STDERR ? "stderr" : "stdout",
    time: m.time ? timestampDate(m.time).toISOString() : null,
    line: m.line,
  };
}

/**
 * `mcp logs <service> [component]`. With -f the stream stays open; Ctrl-C ends it and exits 0,
 * since that is how one stops following. A dead agent is noticed by HTTP/2 PINGs, not by
 * silence: a quiet service may log nothing for hours.
 */
export async function logs(ctx: Context, args: LogsArgs, signal?: AbortSignal): Promise<number> {
  if (args.tail !== undefined && (!Number.isInteger(args.tail) || args.tail < 0)) {
    throw usageError(`--tail must be a whole number of lines, not ${args.tail}`);
  }
  const since = args.since ? parseSince(args.since, Date.now()) : undefined;
  const node = await locateService(ctx, args.service);
  const client = agentClient(await ctx.transport(node));
  const showComponent = !args.component;
  try {
    await consumeStream<LogsResponse>({
      open: (s) =>
        client.logs(
          {
            service: args.service,
            follow: args.follow,
            ...(args.component ? { component: args.component } : {}),
            ...(args.tail !== undefined ? { tail: args.tail } : {}),
            ...(since ? { since: timestampFromMs(since.getTime()) } : {}),
          },
          { signal: s },
        ),
      target: { node: node.name, address: node.address },
      what: `logs of ${args.service}`,
      // Following has no idle limit; a one-off read does.
      idleMs: args.follow ? 2 ** 31 - 1 : Math.max(ctx.timeoutMs, STREAM_IDLE_MS / 10),
      signal,
      onMessage: (m) => {
        ctx.stdout.write(
          ctx.json
            ? `${JSON.stringify(logLineJson(m))}\n`
            : formatLogLine(m, ctx.style, showComponent),
        );
      },
    });
  } catch (e) {
    if (args.follow && isCliError(e) && e.exitCode === ExitCode.Interrupted) return 0;
    throw e;
  }
  return 0;
}
