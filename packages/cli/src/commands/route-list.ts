import { type ListRoutesResponse, RouteMode } from "@mcp/proto/agent/v1";
import { type Context, findNode } from "../context.js";
import { askNodes, fleetExitCode, type NodeAnswer } from "../fleet.js";
import { renderJson, type Style } from "../output.js";

export interface RouteListArgs {
  node?: string | undefined;
}

function modeName(mode: RouteMode): string {
  return mode === RouteMode.L7 ? "l7" : mode === RouteMode.L4 ? "l4" : "?";
}

/**
 * The routes of every node, listener by listener:
 *
 *     svc
 *       :443   3 routes
 *         l7  mcq.svc.mcp.metacircular.net → 100.95.252.120:10001  (mcq/web)
 *         l4  mcq.metacircular.net → 100.95.252.120:10002  (mcq on rift)
 *     orion: did not answer: ECONNREFUSED
 *
 * A node that does not answer gets its own line in place, so the others still show.
 */
export function renderRoutes(
  answers: readonly NodeAnswer<ListRoutesResponse>[],
  style: Style,
): string {
  const lines: string[] = [];
  for (const a of answers) {
    if (!a.ok) {
      lines.push(`${style.bold(a.node.name)}: ${style.red(a.error.message)}`);
      continue;
    }
    const listeners = [...a.value.listeners].sort((x, y) => x.address.localeCompare(y.address));
    if (listeners.length === 0) {
      lines.push(`${style.bold(a.node.name)}  ${style.dim("no routes")}`);
      continue;
    }
    lines.push(style.bold(a.node.name));
    const width = Math.max(...listeners.map((l) => l.address.length));
    for (const l of listeners) {
      const n = l.routes.length;
      lines.push(`  ${l.address.padEnd(width)}   ${n} route${n === 1 ? "" : "s"}`);
      const routes = [...l.routes].sort((x, y) => x.hostname.localeCompare(y.hostname));
      const hostWidth = Math.max(...routes.map((r) => r.hostname.length), 0);
      for (const r of routes) {
        // An edge route reaches a service on another node; a compute route, a component here.
        const owner = r.node
          ? `${r.service || "?"} on ${r.node}`
          : r.component
            ? `${r.service}/${r.component}${r.routeName ? ` ${r.routeName}` : ""}`
            : r.service || "edge";
        lines.push(
          `    ${modeName(r.mode)}  ${r.hostname.padEnd(hostWidth)} → ${r.backend}  ${style.dim(`(${owner})`)}`,
        );
      }
    }
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

export function routesJson(answers: readonly NodeAnswer<ListRoutesResponse>[]): unknown {
  return {
    nodes: answers.map((a) =>
      a.ok
        ? {
            node: a.node.name,
            ok: true,
            listeners: a.value.listeners.map((l) => ({
              address: l.address,
              routes: l.routes.map((r) => ({
                hostname: r.hostname,
                backend: r.backend,
                mode: modeName(r.mode),
                service: r.service,
                component: r.component,
                route: r.routeName,
                tlsCert: r.tlsCert || null,
                computeNode: r.node || null,
              })),
            })),
          }
        : {
            node: a.node.name,
            ok: false,
            error: { message: a.error.message, exitCode: a.error.exitCode },
          },
    ),
  };
}

/** `mcp route list [-n node]`: every node's mc-proxy routes as its agent registered them. */
export async function routeList(ctx: Context, args: RouteListArgs): Promise<number> {
  const config = await ctx.config();
  const nodes = args.node ? [findNode(config, args.node)] : config.nodes;
  const answers = await askNodes(ctx, nodes, (client) =>
    client.listRoutes({}, { timeoutMs: ctx.timeoutMs }),
  );
  ctx.stdout.write(ctx.json ? renderJson(routesJson(answers)) : renderRoutes(answers, ctx.style));
  for (const a of answers) {
    if (!a.ok && a.error.hint && !ctx.json) {
      ctx.stderr.write(`${ctx.errStyle.dim("hint:")} ${a.error.hint}\n`);
    }
  }
  return fleetExitCode(answers);
}
