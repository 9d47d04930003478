import {
  type HealthPolicy,
  type HealthRecord,
  initialHealth,
  probeDue,
  recordProbe,
} from "./decide.ts";
import type { ProbeResult } from "./probe.ts";

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface WaitOptions {
  /** Give up after this long (from the call). */
  deadlineMs: number;
  /** How often to probe while waiting: success is noticed this fast. */
  pollMs: number;
  clock: Clock;
}

export type WaitResult =
  | { healthy: true; record: HealthRecord; elapsedMs: number }
  | { healthy: false; record: HealthRecord; elapsedMs: number; reason: string };

/**
 * Probes a just-started container until it is healthy, unhealthy or the deadline passes.
 * Probes run every `pollMs` so that a success is seen quickly; failures count at most once
 * per `interval` (recordProbe's rule), so a container gets the whole start period plus
 * `retries` intervals before it is declared unhealthy, as the monitor would judge it.
 */
export async function waitHealthy(
  probe: () => Promise<ProbeResult>,
  policy: HealthPolicy,
  o: WaitOptions,
): Promise<WaitResult> {
  const start = o.clock.now();
  let rec = initialHealth(start);
  for (;;) {
    const r = await probe();
    const at = o.clock.now();
    if (r.ok)
      return { healthy: true, record: recordProbe(rec, r, at, policy), elapsedMs: at - start };
    if (probeDue(rec, at, policy)) rec = recordProbe(rec, r, at, policy);
    else rec = { ...rec, lastError: r.message };
    if (rec.status === "unhealthy") {
      return {
        healthy: false,
        record: rec,
        elapsedMs: at - start,
        reason: `unhealthy after ${rec.failures} failed check(s): ${r.message}`,
      };
    }
    if (at - start >= o.deadlineMs) {
      return {
        healthy: false,
        record: { ...rec, status: "unhealthy" },
        elapsedMs: at - start,
        reason: `not healthy within ${Math.round(o.deadlineMs / 100) / 10}s: ${r.message}`,
      };
    }
    await o.clock.sleep(Math.min(o.pollMs, Math.max(0, start + o.deadlineMs - at)));
  }
}
