import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Event, EventLevel, type ListEventsResponse } from "@mcp/proto/agent/v1";
import { type Context, findNode } from "../context.js";
import { usageError } from "../errors.js";
import { askNodes, fleetExitCode, type NodeAnswer, writeNodeFailures } from "../fleet.js";
import { locateService } from "../locate.js";
import { renderJson, type Style } from "../output.js";
import { renderTable } from "../table.js";
import { formatTime } from "../unary.js";
import { parseSince } from "./logs.js";

export interface EventsArgs {
  service?: string | undefined;
  since?: string | undefined;
  limit?: number | undefined;
  node?: string | undefined;
}

export const eventsHeaders = [
  "TIME",
  "NODE",
  "SERVICE",
  "COMPONENT",
  "KIND",
  "FROM",
  "TO",
  "MESSAGE",
];

interface NodeEvent {
  node: string;
  event: Event;
}

/** Every answering node's events, oldest first, so the newest end up next to the prompt. */
export function mergeEvents(answers: readonly NodeAnswer<ListEventsResponse>[]): NodeEvent[] {
  const all: NodeEvent[] = [];
  for (const a of answers) {
    if (!a.ok) continue;
    for (const event of a.value.events) all.push({ node: a.node.name, event });
  }
  const t = (e: Event) => (e.time ? timestampDate(e.time).getTime() : 0);
  return all.sort((x, y) => t(x.event) - t(y.event) || Number(x.event.id - y.event.id));
}

function levelColor(e: Event, style: Style): (s: string) => string {
  if (e.level === EventLevel.ERROR) return style.red;
  if (e.level === EventLevel.WARNING) return style.yellow;
  return (s) => s;
}

export function eventRows(events: readonly NodeEvent[], style: Style): string[][] {
  return events.map(({ node, event: e }) => {
    const color = levelColor(e, style);
    return [
      formatTime(e.time ? timestampDate(e.time) : undefined),
      node,
      e.service || "-",
      e.component || "-",
      color(e.kind),
      e.from || "-",
      e.to || "-",
      // A message that only restates the transition (the agent's fallback) says nothing more.
      e.message === `${e.from || "-"} → ${e.to || "-"}` ? "" : e.message,
    ];
  });
}

export function eventJson({ node, event: e }: NodeEvent): unknown {
  return {
    id: e.id.toString(),
    node,
    time: e.time ? timestampDate(e.time).toISOString() : null,
    service: e.service,
    component: e.component,
    kind: e.kind,
    level: EventLevel[e.level]?.toLowerCase() ?? "unspecified",
    from: e.from,
    to: e.to,
    message: e.message,
  };
}

/**
 * `mcp events [service]`: what the agents recorded (deploys, stops, drift, adoptions). With a
 * service, only its node is asked; without, every node in parallel.
 */
export async function events(ctx: Context, args: EventsArgs): Promise<number> {
  if (args.limit !== undefined && (!Number.isInteger(args.limit) || args.limit < 1)) {
    throw usageError(`--limit ${args.limit} is not a positive whole number`);
  }
  const since = args.since ? parseSince(args.since, Date.now()) : undefined;
  const config = await ctx.config();
  const nodes = args.node
    ? [findNode(config, args.node)]
    : args.service
      ? [await locateService(ctx, args.service)]
      : config.nodes;
  const answers = await askNodes(ctx, nodes, (client) =>
    client.listEvents(
      {
        ...(args.service ? { service: args.service } : {}),
        ...(since ? { since: timestampFromDate(since) } : {}),
        ...(args.limit ? { limit: args.limit } : {}),
      },
      { timeoutMs: ctx.timeoutMs },
    ),
  );
  let merged = mergeEvents(answers);
  // Each node applies the limit to its own events; the fleet view keeps the newest overall.
  if (args.limit && merged.length > args.limit) merged = merged.slice(-args.limit);
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        events: merged.map(eventJson),
        errors: answers.flatMap((a) =>
          a.ok ? [] : [{ node: a.node.name, message: a.error.message }],
        ),
      }),
    );
  } else if (answers.some((a) => a.ok)) {
    if (merged.length === 0) ctx.stdout.write(`${ctx.style.dim("no events")}\n`);
    else ctx.stdout.write(renderTable(eventsHeaders, eventRows(merged, ctx.style), ctx.style));
  }
  writeNodeFailures(ctx, answers);
  return fleetExitCode(answers);
}
