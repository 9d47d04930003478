import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type Container, HealthState, type ListContainersResponse } from "@mcp/proto/agent/v1";
import type { Context } from "../context.js";
import { findNode } from "../context.js";
import { askNodes, fleetExitCode, type NodeAnswer, writeNodeFailures } from "../fleet.js";
import { formatDuration, renderJson, type Style } from "../output.js";
import { renderTable } from "../table.js";

export interface PsArgs {
  all: boolean;
  node?: string | undefined;
}

export const psHeaders = [
  "NODE",
  "SERVICE",
  "COMPONENT",
  "STATE",
  "IMAGE/VERSION",
  "PORTS",
  "UPTIME",
];

/** "10001->8443/tcp, 10002->9443/tcp". */
export function formatPorts(c: Pick<Container, "ports">): string {
  if (c.ports.length === 0) return "-";
  return c.ports.map((p) => `${p.hostPort}->${p.containerPort}/${p.protocol || "tcp"}`).join(", ");
}

function stateCell(c: Container, style: Style): string {
  let state = c.state || "unknown";
  if (c.health === HealthState.UNHEALTHY) state += " (unhealthy)";
  else if (c.health === HealthState.STARTING) state += " (starting)";
  if (c.state === "running" && c.health !== HealthState.UNHEALTHY) return style.green(state);
  if (c.state === "running") return style.yellow(state);
  return style.red(state);
}

/** Table rows for the nodes that answered; pure, so tests can pin the layout. */
export function psRows(
  answers: readonly NodeAnswer<ListContainersResponse>[],
  style: Style,
  now: number,
): string[][] {
  const rows: string[][] = [];
  for (const a of answers) {
    if (!a.ok) continue;
    const containers = [...a.value.containers].sort(
      (x, y) =>
        x.service.localeCompare(y.service) ||
        x.component.localeCompare(y.component) ||
        x.name.localeCompare(y.name),
    );
    for (const c of containers) {
      const started = c.startedAt ? timestampMs(c.startedAt) : undefined;
      rows.push([
        a.node.name,
        c.managed ? c.service : style.dim(`${c.name} (unmanaged)`),
        c.component || "-",
        stateCell(c, style),
        c.version || c.image,
        formatPorts(c),
        c.state === "running" && started !== undefined ? formatDuration(now - started) : "-",
      ]);
    }
  }
  return rows;
}

/** What `mcp ps --json` prints: every node, with its containers or its error. */
export function psJson(answers: readonly NodeAnswer<ListContainersResponse>[]): unknown {
  return {
    nodes: answers.map((a) =>
      a.ok
        ? {
            node: a.node.name,
            address: a.node.address,
            ok: true,
            containers: a.value.containers.map((c) => ({
              name: c.name,
              service: c.service,
              component: c.component,
              managed: c.managed,
              image: c.image,
              version: c.version,
              state: c.state,
              status: c.status,
              health: HealthState[c.health]?.toLowerCase() ?? "unspecified",
              ports: c.ports.map((p) => ({
                hostPort: p.hostPort,
                containerPort: p.containerPort,
                protocol: p.protocol,
                hostIp: p.hostIp,
              })),
              startedAt: c.startedAt ? new Date(timestampMs(c.startedAt)).toISOString() : null,
              restartCount: c.restartCount,
            })),
          }
        : {
            node: a.node.name,
            address: a.node.address,
            ok: false,
            error: {
              message: a.error.message,
              hint: a.error.hint ?? null,
              exitCode: a.error.exitCode,
            },
          },
    ),
  };
}

/** `mcp ps`: containers of every node, asked in parallel. */
export async function ps(ctx: Context, args: PsArgs): Promise<number> {
  const config = await ctx.config();
  const nodes = args.node ? [findNode(config, args.node)] : config.nodes;
  const answers = await askNodes(ctx, nodes, (client) =>
    client.listContainers({ includeUnmanaged: args.all }, { timeoutMs: ctx.timeoutMs }),
  );
  if (ctx.json) {
    ctx.stdout.write(renderJson(psJson(answers)));
  } else {
    const rows = psRows(answers, ctx.style, Date.now());
    // The headings whenever some node answered, even with nothing to list; when none did,
    // the error lines say everything.
    if (answers.some((a) => a.ok)) {
      ctx.stdout.write(renderTable(psHeaders, rows, ctx.style));
    }
  }
  writeNodeFailures(ctx, answers);
  return fleetExitCode(answers);
}
