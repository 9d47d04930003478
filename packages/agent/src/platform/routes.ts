import { isMcProxyError, type McProxyClient, type McProxyRoute } from "@mcp/mcproxy-client";
import type { RouteRegistrar, RouteRegistration } from "../platform.ts";
import { PlatformError } from "./errors.ts";

/** Whether the proxy's route already is the one wanted (hostnames compare case-insensitively). */
export function sameRoute(have: McProxyRoute, want: RouteRegistration): boolean {
  return (
    have.hostname.toLowerCase() === want.hostname.toLowerCase() &&
    have.backend === want.backend &&
    have.mode === want.mode &&
    have.tlsCert === (want.mode === "l7" ? (want.tlsCert ?? "") : "") &&
    have.tlsKey === (want.mode === "l7" ? (want.tlsKey ?? "") : "") &&
    !have.backendTls
  );
}

/**
 * Counts the certificates written per path in this process. mc-proxy reads certificate files
 * when a route is added, so a route whose certificate was re-issued since it was last added
 * must be added again even though its fields are unchanged.
 */
export class CertificateGenerations {
  readonly #gen = new Map<string, number>();

  bump(certPath: string): void {
    this.#gen.set(certPath, (this.#gen.get(certPath) ?? 0) + 1);
  }

  get(certPath: string | undefined): number {
    return certPath === undefined ? 0 : (this.#gen.get(certPath) ?? 0);
  }
}

function describe(what: string, r: { listener: string; hostname: string }, e: unknown): Error {
  return new PlatformError(`mc-proxy ${what} ${r.hostname} on ${r.listener}`, e);
}

/** RouteRegistrar on mc-proxy's admin API. */
export class McProxyRoutes implements RouteRegistrar {
  readonly #proxy: McProxyClient;
  readonly #certs: CertificateGenerations;
  // (listener, hostname) → certificate generation the route was last added with.
  readonly #addedWith = new Map<string, number>();

  constructor(proxy: McProxyClient, certs: CertificateGenerations = new CertificateGenerations()) {
    this.#proxy = proxy;
    this.#certs = certs;
  }

  async add(route: RouteRegistration): Promise<boolean> {
    const key = `${route.listener}\u0000${route.hostname.toLowerCase()}`;
    const generation = route.mode === "l7" ? this.#certs.get(route.tlsCert) : 0;
    let routes: McProxyRoute[];
    try {
      routes = await this.#proxy.listRoutes(route.listener);
    } catch (e) {
      throw describe("cannot list routes for", route, e);
    }
    const have = routes.find((r) => r.hostname.toLowerCase() === route.hostname.toLowerCase());
    const reloaded = generation === 0 || this.#addedWith.get(key) === generation;
    if (have && sameRoute(have, route) && reloaded) return false;
    try {
      await this.#proxy.addRoute({
        listener: route.listener,
        hostname: route.hostname,
        backend: route.backend,
        mode: route.mode,
        ...(route.mode === "l7" && route.tlsCert ? { tlsCert: route.tlsCert } : {}),
        ...(route.mode === "l7" && route.tlsKey ? { tlsKey: route.tlsKey } : {}),
      });
    } catch (e) {
      throw describe("cannot add route", route, e);
    }
    this.#addedWith.set(key, generation);
    return true;
  }

  async remove(listener: string, hostname: string): Promise<void> {
    try {
      await this.#proxy.removeRoute(listener, hostname);
    } catch (e) {
      // Already gone (or its listener is): removal is idempotent.
      if (!isMcProxyError(e, "not-found")) {
        throw describe("cannot remove route", { listener, hostname }, e);
      }
    }
  }
}
