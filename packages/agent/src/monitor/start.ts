import type { AgentConfig } from "../config.ts";
import { durationMs } from "../config.ts";
import type { MonitorDeps, MonitorLog } from "./monitor.ts";
import { Monitor } from "./monitor.ts";
import { openEventPruner } from "./prune.ts";

/**
 * The monitor from the agent's `[monitor]` config. The alert runner (and execa beneath
 * it) loads only when `alert_command` is set, so an agent without alerts starts no faster
 * or slower for it.
 */
export async function createMonitor(
  config: Pick<AgentConfig, "monitor" | "agent" | "database">,
  deps: Pick<MonitorDeps, "store" | "observed" | "engine"> & { log: MonitorLog },
): Promise<Monitor> {
  const m = config.monitor;
  let alerts: MonitorDeps["alerts"];
  if (m.alert_command.length > 0) {
    const { AlertRunner } = await import("./alert.ts");
    alerts = new AlertRunner(m.alert_command, { log: deps.log });
  }
  return new Monitor({
    ...deps,
    alerts,
    pruner: openEventPruner(config.database.path),
    settings: {
      nodeName: config.agent.node_name,
      intervalMs: durationMs(m.interval),
      cooldownMs: durationMs(m.cooldown),
      flapThreshold: m.flap_threshold,
      flapWindowMs: durationMs(m.flap_window),
      retentionMs: durationMs(m.retention),
      reconcile: m.reconcile,
    },
  });
}
