import { durationMs } from "@bufbuild/protobuf/wkt";
import { type NodeInfoResponse, NodeRole } from "@mcp/proto/agent/v1";
import type { Context } from "../context.js";
import { askNodes, fleetExitCode, type NodeAnswer } from "../fleet.js";
import { formatDuration, renderJson, type Style } from "../output.js";
import { renderTable } from "../table.js";

export type NodeListArgs = Record<string, unknown>;

export const nodeListHeaders = ["NAME", "ADDRESS", "VERSION", "ROLE", "PODMAN", "UPTIME"];

function role(info: NodeInfoResponse): string {
  return info.role === NodeRole.UNSPECIFIED ? "-" : (NodeRole[info.role]?.toLowerCase() ?? "-");
}

/** One row per configured node; a node that did not answer says so in the VERSION column. */
export function nodeListRows(
  answers: readonly NodeAnswer<NodeInfoResponse>[],
  style: Style,
): string[][] {
  return answers.map((a) => {
    if (!a.ok) {
      return [
        a.node.name,
        a.node.address,
        style.red(`unreachable: ${shortReason(a.error.message)}`),
        a.node.role ?? "-",
        "-",
        "-",
      ];
    }
    const v = a.value;
    return [
      a.node.name,
      a.node.address,
      v.agentVersion || "-",
      role(v),
      v.podmanVersion ? `${v.podmanVersion}${v.rootless ? " (rootless)" : ""}` : "-",
      v.uptime ? formatDuration(durationMs(v.uptime)) : "-",
    ];
  });
}

// The message names node and address, which the row already shows: keep only the reason.
function shortReason(message: string): string {
  const i = message.lastIndexOf(": ");
  return i >= 0 ? message.slice(i + 2) : message;
}

export function nodeListJson(answers: readonly NodeAnswer<NodeInfoResponse>[]): unknown {
  return {
    nodes: answers.map((a) =>
      a.ok
        ? {
            name: a.node.name,
            address: a.node.address,
            ok: true,
            agentName: a.value.name,
            agentVersion: a.value.agentVersion,
            role: role(a.value),
            podmanVersion: a.value.podmanVersion,
            rootless: a.value.rootless,
            cgroupVersion: a.value.cgroupVersion,
            uptimeSeconds: a.value.uptime ? Math.floor(durationMs(a.value.uptime) / 1000) : null,
          }
        : {
            name: a.node.name,
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

/** `mcp node list`: every node of mcp.toml and what its agent says about itself. */
export async function nodeList(ctx: Context, _args: NodeListArgs): Promise<number> {
  const config = await ctx.config();
  const answers = await askNodes(ctx, config.nodes, (client) =>
    client.nodeInfo({}, { timeoutMs: ctx.timeoutMs }),
  );
  if (ctx.json) ctx.stdout.write(renderJson(nodeListJson(answers)));
  else ctx.stdout.write(renderTable(nodeListHeaders, nodeListRows(answers, ctx.style), ctx.style));
  return fleetExitCode(answers);
}
