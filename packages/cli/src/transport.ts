import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

export interface AgentTransportOptions {
  /** `host:port` of the agent. */
  address: string;
  /** PEM of the CA that signed the agent's certificate; the system roots when absent. */
  ca?: string | undefined;
  /** MCIAS token, sent as `Authorization: Bearer`. */
  token: string;
}

/** A transport plus the HTTP/2 connection behind it, so the CLI can close it and exit. */
export interface AgentTransport {
  transport: Transport;
  close(): void;
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/**
 * The transport to one agent: the gRPC protocol over HTTP/2 and TLS 1.3, trusting the configured
 * CA. HTTP/2 PINGs every 10 s detect an agent that vanished under a long stream (`logs -f`,
 * a slow image pull) even when no message is due; unary calls carry their own deadline.
 */
export function createAgentTransport(opts: AgentTransportOptions): AgentTransport {
  const baseUrl = `https://${opts.address}`;
  const session = new Http2SessionManager(
    baseUrl,
    { pingIntervalMs: 10_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 60_000 },
    {
      ...(opts.ca ? { ca: opts.ca } : {}),
      minVersion: "TLSv1.3",
    },
  );
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: session,
    interceptors: [bearer(opts.token)],
  });
  return { transport, close: () => session.abort() };
}
