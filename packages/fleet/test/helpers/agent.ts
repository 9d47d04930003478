import { mkdir, writeFile } from "node:fs/promises";
import { connect } from "node:http2";
import { join } from "node:path";
import { execa } from "execa";

/** A self-signed loopback certificate for a test agent (openssl CLI). */
export async function selfSignedCert(
  dir: string,
): Promise<{ cert: string; key: string; certPem: string }> {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  await execa("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  const { readFile } = await import("node:fs/promises");
  return { cert, key, certPem: await readFile(cert, "utf8") };
}

/** An mcp-agent.toml for a test node: loopback only, no platform services. */
export async function writeAgentConfig(o: {
  dir: string;
  port: number;
  cert: string;
  key: string;
  nodeName: string;
}): Promise<void> {
  await writeFile(
    join(o.dir, "mcp-agent.toml"),
    `[server]
grpc_addr = "127.0.0.1:${o.port}"
tls_cert = "${o.cert}"
tls_key = "${o.key}"

[database]
path = "${o.dir}/mcp.db"

[mcias]
server_url = "https://127.0.0.1:9/"
service_name = "mcp-agent"

[agent]
node_name = "${o.nodeName}"
address = "127.0.0.1"

[podman]
run_as = "mcp"
stop_timeout = "1s"

[log]
level = "warn"
`,
  );
}

/** GET /healthz over HTTP/2 + TLS: the running agent's version (what NodeInfo reports too). */
export async function healthVersion(port: number, ca: string, timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error("healthz timed out"));
    }, timeoutMs);
    session.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const req = session.request({ ":path": "/healthz", ":method": "GET" });
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      clearTimeout(timer);
      session.close();
      try {
        resolve((JSON.parse(body) as { version: string }).version);
      } catch (e) {
        reject(e);
      }
    });
    req.on("error", (e) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    });
    req.end();
  });
}
