import {
  type Component,
  effectiveHealthCheck,
  type HealthCheck,
  parseDuration,
} from "@mcp/servicedef";
import type { ComponentDef, RouteDef } from "../spec.ts";

/** "starting" until the first verdict; the names match Podman's and the proto's. */
export type HealthStatus = "starting" | "healthy" | "unhealthy";

/** What one check of a component asks for, with its durations in milliseconds. */
export interface HealthPolicy {
  check: HealthCheck;
  /** Routes whose host ports an http/tcp check probes (empty for command). */
  routes: RouteDef[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

function ms(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : (parseDuration(text) ?? fallback);
}

/**
 * The component's health policy: its declared check, or a TCP connect to each route's port
 * (servicedef's effectiveHealthCheck). Undefined when there is nothing to probe (no check,
 * no routes): then "running" is all there is. Pure.
 */
export function healthPolicy(component: ComponentDef): HealthPolicy | undefined {
  const eff = effectiveHealthCheck(component as Pick<Component, "health" | "routes">);
  if (!eff) return undefined;
  const c = eff.check;
  return {
    check: c,
    routes: eff.routes,
    intervalMs: ms(c.interval, 10_000),
    timeoutMs: ms(c.timeout, 2_000),
    retries: Math.max(1, c.retries ?? 3),
    startPeriodMs: ms(c.start_period, 0),
  };
}

/** How long a deploy waits for a new container: every failure the policy allows, plus margin. */
export function healthDeadlineMs(policy: HealthPolicy, marginMs: number): number {
  return policy.startPeriodMs + policy.retries * policy.intervalMs + marginMs;
}

/** The running verdict about one container. */
export interface HealthRecord {
  status: HealthStatus;
  /** When the container started (ms since the epoch): the start period counts from it. */
  startedAt: number;
  /** Consecutive failures that counted (after the start period). */
  failures: number;
  /** When the last probe ran; undefined before the first. */
  lastProbeAt: number | undefined;
  /** The last failure's reason; "" after a success. */
  lastError: string;
}

export function initialHealth(startedAt: number): HealthRecord {
  return { status: "starting", startedAt, failures: 0, lastProbeAt: undefined, lastError: "" };
}

/**
 * The verdict after one probe. Healthy from the first success (which resets the failure
 * count); unhealthy after `retries` consecutive failures once the start period is over.
 * Failures inside the start period do not count, so a slow starter stays "starting". Pure.
 */
export function recordProbe(
  rec: HealthRecord,
  result: { ok: boolean; message?: string },
  at: number,
  policy: Pick<HealthPolicy, "retries" | "startPeriodMs">,
): HealthRecord {
  if (result.ok) return { ...rec, status: "healthy", failures: 0, lastProbeAt: at, lastError: "" };
  const lastError = result.message ?? "check failed";
  if (at < rec.startedAt + policy.startPeriodMs) return { ...rec, lastProbeAt: at, lastError };
  const failures = rec.failures + 1;
  const status = failures >= policy.retries ? "unhealthy" : rec.status;
  return { ...rec, status, failures, lastProbeAt: at, lastError };
}

/** Whether the policy's interval has passed since the last probe. Pure. */
export function probeDue(rec: HealthRecord, at: number, policy: Pick<HealthPolicy, "intervalMs">) {
  return rec.lastProbeAt === undefined || at - rec.lastProbeAt >= policy.intervalMs;
}
