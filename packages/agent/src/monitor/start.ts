import type { AgentConfig } from "../config.ts";
import { durationMs } from "../config.ts";
import type { MonitorDeps, MonitorLog } from "./monitor.ts";
import { Monitor } from "./monitor.ts";
import { openEventPruner } from "./prune.ts";

// The container events that can change what `podman ps` shows (exec, attach and the like
// cannot). `died` covers kill and stop.
const STATE_EVENTS = [
  "create",
  "start",
  "died",
  "remove",
  "rename",
  "pause",
  "unpause",
  "health_status",
];

/**
 * `podman events` for containers, as the agent's `[podman]` config runs Podman. Its own
 * client: one long-lived process, loaded with the first subscription.
 */
export function podmanEvents(
  p: Pick<AgentConfig["podman"], "path" | "run_as" | "xdg_runtime_dir">,
): (signal: AbortSignal) => AsyncIterable<unknown> {
  return async function* (signal) {
    const { PodmanClient } = await import("@mcp/podman-client");
    // With run_as, Podman gets that user's own environment; only the runtime dir is added
    // (this process's HOME would send rootless Podman to the wrong config).
    const xdg = p.xdg_runtime_dir ? { XDG_RUNTIME_DIR: p.xdg_runtime_dir } : undefined;
    const client = new PodmanClient({
      podmanPath: p.path,
      ...(p.run_as ? { runAs: p.run_as } : {}),
      ...(xdg ? { env: p.run_as ? xdg : { ...process.env, ...xdg } } : {}),
    });
    yield* client.events({ signal, filters: { type: ["container"], event: STATE_EVENTS } });
  };
}

/**
 * The monitor from the agent's `[monitor]` config. The alert runner (and execa beneath
 * it) loads only when `alert_command` is set, so an agent without alerts starts no faster
 * or slower for it.
 */
export async function createMonitor(
  config: Pick<AgentConfig, "monitor" | "agent" | "database" | "podman">,
  deps: Pick<MonitorDeps, "store" | "observed" | "engine" | "probeHealth"> & { log: MonitorLog },
  options: { followEvents?: boolean } = {},
): Promise<Monitor> {
  const m = config.monitor;
  let alerts: MonitorDeps["alerts"];
  if (m.alert_command.length > 0) {
    const { AlertRunner } = await import("./alert.ts");
    alerts = new AlertRunner(m.alert_command, { log: deps.log });
  }
  return new Monitor({
    ...deps,
    ...(options.followEvents === false ? {} : { events: podmanEvents(config.podman) }),
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
