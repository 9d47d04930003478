// The route model of the mc-proxy stand-in and its validation: pure, no I/O.

export type RouteMode = "l4" | "l7";

export interface RouteSpec {
  /** Listener name, e.g. ":8443" (the public port the route is served on). */
  listener: string;
  /** Lower-case DNS name matched against the TLS server name (SNI). */
  hostname: string;
  /** `host:port` (IPv6 in brackets) the traffic goes to. */
  backend: string;
  mode: RouteMode;
  /** L7 only: PEM certificate chain and key paths, read when the route is added. */
  tlsCert: string;
  tlsKey: string;
  /** L7 only: speak HTTPS (instead of HTTP) to the backend. */
  backendTls: boolean;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; message: string };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function normalizeHostname(input: string): Validation<string> {
  const host = input.trim().toLowerCase().replace(/\.$/, "");
  if (host.length === 0) return { ok: false, message: "hostname is empty" };
  if (host.length > 253) return { ok: false, message: `hostname "${input}" is longer than 253` };
  for (const label of host.split(".")) {
    if (!LABEL.test(label)) {
      return { ok: false, message: `hostname "${input}" is not a DNS name (label "${label}")` };
    }
  }
  return { ok: true, value: host };
}

export interface Backend {
  host: string;
  port: number;
}

export function parseBackend(input: string): Validation<Backend> {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(input.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 1 && port <= 65_535)) {
    return { ok: false, message: `backend "${input}" is not host:port (IPv6 as [addr]:port)` };
  }
  return { ok: true, value: { host: (m[1] ?? m[2])!, port } };
}

export interface RouteInput {
  listener: string;
  hostname: string;
  backend: string;
  mode: RouteMode | undefined;
  tlsCert: string;
  tlsKey: string;
  backendTls: boolean;
}

/** Checks everything that does not need the file system; cert files are read by the caller. */
export function validateRoute(
  input: RouteInput,
  listeners: readonly string[],
): Validation<RouteSpec> {
  if (!listeners.includes(input.listener)) {
    return {
      ok: false,
      message: `listener "${input.listener}" does not exist (have ${listeners.join(", ")})`,
    };
  }
  const host = normalizeHostname(input.hostname);
  if (!host.ok) return host;
  const backend = parseBackend(input.backend);
  if (!backend.ok) return backend;
  if (input.mode !== "l4" && input.mode !== "l7") {
    return { ok: false, message: `route ${host.value}: mode must be L4 or L7` };
  }
  if (input.mode === "l7" && (input.tlsCert === "" || input.tlsKey === "")) {
    return { ok: false, message: `route ${host.value}: an L7 route needs tls_cert and tls_key` };
  }
  if (input.mode === "l4" && (input.tlsCert !== "" || input.tlsKey !== "" || input.backendTls)) {
    return {
      ok: false,
      message: `route ${host.value}: tls_cert, tls_key and backend_tls apply to L7 routes only`,
    };
  }
  return {
    ok: true,
    value: {
      listener: input.listener,
      hostname: host.value,
      backend: input.backend.trim(),
      mode: input.mode,
      tlsCert: input.tlsCert,
      tlsKey: input.tlsKey,
      backendTls: input.backendTls,
    },
  };
}
