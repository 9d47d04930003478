import { once } from "node:events";
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AgentService } from "@mcp/proto/agent/v1";
import { ensureLocalCa, issueServerCert } from "@mcp/sim";
import type { AgentImpl } from "./fake-agent.ts";

export interface TlsAgent {
  address: string;
  caFile: string;
  /** Authorization headers the agent received, in order. */
  authorizations: string[];
  /** Kills every open HTTP/2 connection, as an agent that restarts does. */
  dropConnections(): void;
  close(): Promise<void>;
}

/**
 * A real Connect server over HTTP/2 and TLS on loopback, with a certificate from a local CA
 * (the sim's), serving the handlers a test writes: the CLI's whole network path, minus the
 * agent's own logic.
 */
export async function startTlsAgent(dir: string, impl: AgentImpl): Promise<TlsAgent> {
  const ca = await ensureLocalCa(dir);
  const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  const authorizations: string[] = [];
  const sessions = new Set<ServerHttp2Session>();
  const handler = connectNodeAdapter({
    routes: (router) => router.service(AgentService, impl),
  });
  const server: Http2SecureServer = createSecureServer(
    { cert: leaf.cert, key: leaf.key, minVersion: "TLSv1.3" },
    (req, res) => {
      authorizations.push(String(req.headers.authorization));
      handler(req, res);
    },
  );
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    caFile: ca.caFile,
    authorizations,
    dropConnections() {
      for (const s of sessions) s.destroy();
    },
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
