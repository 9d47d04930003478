import type { Logger } from "pino";
import type { Engine } from "./deploy/engine.ts";
import { isNotFound } from "./deploy/engine.ts";
import { parseOperationKind } from "./deploy/journal.ts";
import { errorLine } from "./errors.ts";
import type { Operation, Store } from "./store/store.ts";

/** What a restart does about one service whose operation a crash cut short. */
export type Settlement =
  | { action: "deploy"; service: string }
  | { action: "release-ports"; service: string }
  | { action: "stop"; service: string; component?: string }
  | { action: "start"; service: string; component?: string }
  | { action: "undeploy"; service: string }
  | { action: "none"; service: string; why: string };

/**
 * Decides, per service, how to finish the last interrupted operation. Pure: `stored` says
 * whether the registry still holds the service's definition.
 *
 * - deploy: deploy the stored definition again (every step is idempotent, so what was
 *   done reports "unchanged" and the rest is done); cut before the definition was stored,
 *   only host ports of a service that does not exist are left, and they are released.
 * - stop / start (of the service or one component): run it again — done steps are
 *   idempotent (routes and records already removed, containers already stopped), and the
 *   service's active flag is written only at the end.
 * - undeploy: run it again; when the definition is already gone, the last step had
 *   finished and nothing is left to do (an undeploy of only unmanaged containers finds
 *   them by label).
 * - restart: nothing — each container either restarted or not, and it runs either way.
 */
export function settlements(
  interrupted: readonly Operation[],
  stored: (service: string) => boolean,
): Settlement[] {
  // One operation per service runs at a time (per-service lock); the newest is the one the
  // crash cut short.
  const last = new Map<string, Operation>();
  for (const op of interrupted) last.set(op.service, op);
  const out: Settlement[] = [];
  for (const [service, op] of last) {
    const { kind, component } = parseOperationKind(op.kind);
    const has = stored(service);
    switch (kind) {
      case "deploy":
        out.push(has ? { action: "deploy", service } : { action: "release-ports", service });
        break;
      case "stop":
      case "start":
        out.push(
          has
            ? { action: kind, service, ...(component === undefined ? {} : { component }) }
            : { action: "none", service, why: "service no longer defined" },
        );
        break;
      case "undeploy":
        out.push({ action: "undeploy", service });
        break;
      default:
        out.push({ action: "none", service, why: `${kind} needs no completion` });
    }
  }
  return out;
}

/**
 * Finishes what a crash cut short, after `recoverInterrupted` closed the journal entries
 * (see `settlements`). Runs in the background after the server listens; each completion is
 * journaled like the operation itself and logged.
 */
export async function settleInterrupted(
  interrupted: readonly Operation[],
  store: Store,
  engine: Engine,
  log: Logger,
): Promise<void> {
  const quiet = () => undefined;
  for (const s of settlements(interrupted, (name) => store.getService(name) !== undefined)) {
    const { service } = s;
    const what = "component" in s && s.component ? `${s.action} of ${s.component}` : s.action;
    try {
      switch (s.action) {
        case "deploy": {
          const stored = store.getService(service);
          if (!stored) continue;
          await engine.deploy(stored.spec, stored.sourceToml, quiet);
          break;
        }
        case "release-ports":
          if (store.listPorts(service).length === 0) continue;
          store.releasePorts(service);
          log.warn({ service }, "released the ports of an interrupted first deploy");
          continue;
        case "stop":
          await engine.stop(service, quiet, s.component);
          break;
        case "start":
          await engine.start(service, quiet, s.component);
          break;
        case "undeploy":
          try {
            await engine.undeploy(service, quiet);
          } catch (e) {
            // Nothing left of it: the interrupted undeploy had got to its end.
            if (!isNotFound(e)) throw e;
          }
          break;
        case "none":
          continue;
      }
      log.warn({ service }, `completed an interrupted ${what}`);
    } catch (e) {
      log.warn({ service, error: errorLine(e) }, `could not complete an interrupted ${what}`);
    }
  }
}
