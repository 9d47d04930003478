import { timestampDate, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  EventLevel,
  HealthState,
  type ListServicesResponse,
  type ServiceStatusResponse,
} from "@mcp/proto/agent/v1";
import { agentClient, type Context } from "../context.js";
import { askNodes, fleetExitCode, type NodeAnswer, writeNodeFailures } from "../fleet.js";
import { locateService } from "../locate.js";
import { formatPortMap } from "../operation.js";
import { formatDuration, renderJson, type Style } from "../output.js";
import { fromRpcError } from "../rpc-errors.js";
import { renderTable } from "../table.js";

export interface StatusArgs {
  service?: string | undefined;
}

export const fleetStatusHeaders = ["NODE", "SERVICE", "DESIRED", "OBSERVED", "DRIFT", "VERSION"];

/** `mcp status`: one row per service of every node, the summary bootstrap step 10 checks. */
export function fleetStatusRows(
  answers: readonly NodeAnswer<ListServicesResponse>[],
  style: Style,
): string[][] {
  const rows: string[][] = [];
  for (const a of answers) {
    if (!a.ok) continue;
    for (const s of [...a.value.services].sort((x, y) => x.name.localeCompare(y.name))) {
      const desired = s.active ? "running" : "stopped";
      const allUp = s.running === s.components;
      const observed =
        s.running === 0 ? "stopped" : allUp ? "running" : `${s.running}/${s.components} running`;
      rows.push([
        a.node.name,
        s.name,
        desired,
        observed === desired ? style.green(observed) : style.yellow(observed),
        s.drift ? style.red("drift") : "no drift",
        s.version || "-",
      ]);
    }
  }
  return rows;
}

export const serviceStatusHeaders = [
  "COMPONENT",
  "DESIRED",
  "OBSERVED",
  "VERSION",
  "HEALTH",
  "PORTS",
  "UPTIME",
  "DRIFT",
];

/** `mcp status <service>`: the service, each component, why there is drift, recent events. */
export function renderServiceStatus(
  nodeName: string,
  st: ServiceStatusResponse,
  style: Style,
  now: number,
): string {
  const head = [
    `${style.bold(st.service)} on ${nodeName}`,
    `desired ${st.active ? "running" : "stopped"}`,
    `version ${st.version || "-"}`,
    st.drift ? style.red("drift") : style.green("no drift"),
  ];
  if (st.deployedAt) head.push(`deployed ${formatDuration(now - timestampMs(st.deployedAt))} ago`);
  let out = `${head.join(", ")}\n\n`;
  const rows = st.components.map((c) => {
    const version =
      c.observedVersion && c.observedVersion !== c.desiredVersion
        ? `${c.desiredVersion || "-"} (running ${c.observedVersion})`
        : c.desiredVersion || c.observedVersion || "-";
    return [
      c.name,
      c.desiredState,
      c.observedState === c.desiredState
        ? style.green(c.observedState)
        : style.yellow(c.observedState),
      version,
      healthName(c.health),
      Object.keys(c.ports).length > 0 ? formatPortMap(c.ports) : "-",
      c.observedState === "running" && c.startedAt
        ? formatDuration(now - timestampMs(c.startedAt))
        : "-",
      c.drift ? style.red("yes") : "no",
    ];
  });
  out += renderTable(serviceStatusHeaders, rows, style);
  const reasons = st.components.flatMap((c) => c.driftReasons.map((r) => `  ${c.name}: ${r}`));
  if (reasons.length > 0) out += `\n${style.bold("Drift:")}\n${reasons.join("\n")}\n`;
  if (st.recentEvents.length > 0) {
    out += `\n${style.bold("Recent events:")}\n`;
    for (const e of st.recentEvents) {
      const when = e.time
        ? timestampDate(e.time)
            .toISOString()
            .replace(/\.\d+Z$/, "Z")
        : "-";
      const level =
        e.level === EventLevel.ERROR
          ? style.red
          : e.level === EventLevel.WARNING
            ? style.yellow
            : (s: string) => s;
      out += `  ${style.dim(when)} ${level(e.kind)}${e.component ? ` ${e.component}` : ""}: ${e.message}\n`;
    }
  }
  return out;
}

function healthName(h: HealthState): string {
  if (h === HealthState.UNSPECIFIED || h === HealthState.NONE) return "-";
  return HealthState[h]?.toLowerCase() ?? "-";
}

export function serviceStatusJson(nodeName: string, st: ServiceStatusResponse): unknown {
  return {
    node: nodeName,
    service: st.service,
    desired: st.active ? "running" : "stopped",
    version: st.version,
    drift: st.drift,
    deployedAt: st.deployedAt ? timestampDate(st.deployedAt).toISOString() : null,
    components: st.components.map((c) => ({
      name: c.name,
      desired: c.desiredState,
      observed: c.observedState,
      drift: c.drift,
      driftReasons: c.driftReasons,
      desiredVersion: c.desiredVersion,
      observedVersion: c.observedVersion,
      health: healthName(c.health),
      ports: { ...c.ports },
      startedAt: c.startedAt ? timestampDate(c.startedAt).toISOString() : null,
      restartCount: c.restartCount,
    })),
    recentEvents: st.recentEvents.map((e) => ({
      time: e.time ? timestampDate(e.time).toISOString() : null,
      kind: e.kind,
      level: EventLevel[e.level]?.toLowerCase() ?? "unspecified",
      component: e.component,
      message: e.message,
    })),
  };
}

/** `mcp status [service]`: desired against observed, drift and version. */
export async function status(ctx: Context, args: StatusArgs): Promise<number> {
  if (args.service) {
    const node = await locateService(ctx, args.service);
    const client = agentClient(await ctx.transport(node));
    let st: ServiceStatusResponse;
    try {
      st = await client.serviceStatus({ service: args.service }, { timeoutMs: ctx.timeoutMs });
    } catch (e) {
      throw fromRpcError(e, { node: node.name, address: node.address });
    }
    if (ctx.json) ctx.stdout.write(renderJson(serviceStatusJson(node.name, st)));
    else ctx.stdout.write(renderServiceStatus(node.name, st, ctx.style, Date.now()));
    return 0;
  }
  const config = await ctx.config();
  const answers = await askNodes(ctx, config.nodes, (client) =>
    client.listServices({}, { timeoutMs: ctx.timeoutMs }),
  );
  if (ctx.json) {
    ctx.stdout.write(
      renderJson({
        nodes: answers.map((a) =>
          a.ok
            ? {
                node: a.node.name,
                ok: true,
                services: a.value.services.map((s) => ({
                  name: s.name,
                  desired: s.active ? "running" : "stopped",
                  components: s.components,
                  running: s.running,
                  drift: s.drift,
                  version: s.version,
                })),
              }
            : {
                node: a.node.name,
                ok: false,
                error: { message: a.error.message, exitCode: a.error.exitCode },
              },
        ),
      }),
    );
  } else if (answers.some((a) => a.ok)) {
    ctx.stdout.write(
      renderTable(fleetStatusHeaders, fleetStatusRows(answers, ctx.style), ctx.style),
    );
  }
  writeNodeFailures(ctx, answers);
  return fleetExitCode(answers);
}
