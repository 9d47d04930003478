import type { Logger } from "pino";
import type { Engine } from "./deploy/engine.ts";
import { errorLine } from "./errors.ts";
import type { Operation, Store } from "./store/store.ts";

/**
 * Finishes what a crash cut short, after `recoverInterrupted` closed the journal entries:
 * a deploy interrupted once its definition was stored is completed by deploying that stored
 * definition again (every step is idempotent, so what was done reports "unchanged" and the
 * rest is done: container, routes, DNS); a deploy interrupted before its definition was
 * stored leaves only host ports assigned to a service that does not exist, which are
 * released. Runs in the background after the server listens; each outcome is logged and
 * journaled like any deploy.
 */
export async function settleInterruptedDeploys(
  interrupted: readonly Operation[],
  store: Store,
  engine: Engine,
  log: Logger,
): Promise<void> {
  const services = new Set(
    interrupted.filter((op) => op.kind === "deploy").map((op) => op.service),
  );
  for (const name of services) {
    const stored = store.getService(name);
    if (!stored) {
      if (store.listPorts(name).length > 0) {
        store.releasePorts(name);
        log.warn({ service: name }, "released the ports of an interrupted first deploy");
      }
      continue;
    }
    try {
      await engine.deploy(stored.spec, stored.sourceToml, () => undefined);
      log.warn({ service: name }, "completed an interrupted deploy");
    } catch (e) {
      log.warn({ service: name, error: errorLine(e) }, "could not complete an interrupted deploy");
    }
  }
}
