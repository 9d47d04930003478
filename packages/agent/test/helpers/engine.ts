import { Engine, type EngineOptions } from "../../src/deploy/engine.ts";
import type { StepEvent } from "../../src/deploy/steps.ts";
import { HealthChecker } from "../../src/health/checker.ts";
import { ObservedState } from "../../src/observed.ts";
import type { Platform } from "../../src/platform.ts";
import { openStore } from "../../src/store/sqlite.ts";
import { fakeClock } from "./clock.ts";
import { FakeRuntime } from "./fake-runtime.ts";

/** The engine's options in the unit tests: node rift at 10.0.0.5, ports 20000-20010. */
export const ENGINE_OPTIONS: EngineOptions = {
  nodeName: "rift",
  address: "10.0.0.5",
  zone: "svc.example",
  certsDir: "/certs",
  listeners: {},
  portRange: { low: 20000, high: 20010 },
  historyKeep: 5,
  stopTimeoutSeconds: 1,
};

/**
 * A deploy engine over an in-memory registry and the fake runtime (which holds `image`),
 * with a fake clock; the fake runtime runs no processes, so health probes answer as a
 * passing check would. `events` collects what `emit` is given.
 */
export function engineSetup(image: string, platform: Platform = {}, options = ENGINE_OPTIONS) {
  const store = openStore(":memory:");
  const runtime = new FakeRuntime();
  runtime.images.add(image);
  const observed = new ObservedState(runtime, store, 0);
  const health = new HealthChecker({ runtime, prober: async () => ({ ok: true, message: "" }) });
  const engine = new Engine({
    store,
    runtime,
    observed,
    platform,
    options,
    probe: async () => true,
    health,
    clock: fakeClock(),
  });
  const events: StepEvent[] = [];
  const emit = (e: StepEvent) => events.push(e);
  return { store, runtime, engine, events, emit };
}
