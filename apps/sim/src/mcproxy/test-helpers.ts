// Test-only helpers for the mc-proxy stand-in: a throwaway CA with leaf certificates, and
// backends (HTTP, HTTPS, raw TLS) on loopback port 0. Not exported from the package.
import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { Duplex } from "node:stream";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

export interface TestCa {
  certPem: string;
  issue(
    dnsNames: string[],
    dir: string,
  ): Promise<{ cert: string; key: string; certFile: string; keyFile: string }>;
}

export async function createTestCa(name = "mcproxy test CA"): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString("hex"),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  const certPem = `${caCert.toString("pem")}\n`;
  return {
    certPem,
    async issue(dnsNames, dir) {
      const leafKeys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: randomBytes(8).toString("hex"),
        subject: `CN=${dnsNames[0]}`,
        issuer: caCert.subject,
        notBefore: new Date(Date.now() - DAY),
        notAfter: new Date(Date.now() + DAY),
        signingKey: keys.privateKey,
        publicKey: leafKeys.publicKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(
            dnsNames.map((value) => ({ type: "dns", value })),
          ),
        ],
      });
      const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
      const cert = `${leaf.toString("pem")}\n${certPem}`;
      const key = `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`;
      const base = path.join(dir, `${dnsNames[0]}-${randomBytes(3).toString("hex")}`);
      await writeFile(`${base}.pem`, cert);
      await writeFile(`${base}.key`, key, { mode: 0o600 });
      return { cert, key, certFile: `${base}.pem`, keyFile: `${base}.key` };
    },
  };
}

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TestBackend {
  address: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

function record(name: string, seen: Seen[]): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.setHeader("x-backend", name);
      res.end(`${name}:${req.method}:${req.url}:${body}`);
    });
  };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

function closer(server: http.Server | net.Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      (server as http.Server).closeAllConnections?.();
      server.close(() => resolve());
    });
}

/** A plain HTTP backend that answers `<name>:<method>:<url>:<body>` and records requests. */
export async function startHttpBackend(name: string): Promise<TestBackend> {
  const seen: Seen[] = [];
  const server = http.createServer(record(name, seen));
  const port = await listen(server);
  return { address: `127.0.0.1:${port}`, port, seen, close: closer(server) };
}

/**
 * A backend that accepts `Upgrade: echo` (101, then echoes every byte back) and answers 426
 * with a body to anything else.
 */
export async function startUpgradeBackend(): Promise<TestBackend> {
  const seen: Seen[] = [];
  const server = http.createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("upgrade required");
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" });
    if (req.headers.upgrade !== "echo") {
      socket.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\n\r\nbad upgrade");
      return;
    }
    socket.write(
      "HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n",
    );
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  const port = await listen(server);
  return { address: `127.0.0.1:${port}`, port, seen, close: closer(server) };
}

/** An HTTPS backend with its own certificate (for L4 passthrough and backend_tls). */
export async function startHttpsBackend(
  name: string,
  creds: { cert: string; key: string },
): Promise<TestBackend> {
  const seen: Seen[] = [];
  const server = https.createServer({ cert: creds.cert, key: creds.key }, record(name, seen));
  const port = await listen(server);
  return { address: `127.0.0.1:${port}`, port, seen, close: closer(server) };
}

/** Requests `https://<servername>/path` through `port` on loopback, trusting only `ca`. */
export function requestVia(
  port: number,
  servername: string,
  ca: string,
  options: {
    path?: string;
    method?: string;
    body?: string;
    minVersion?: tls.SecureVersion;
    maxVersion?: tls.SecureVersion;
    headers?: http.OutgoingHttpHeaders;
  } = {},
): Promise<{
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  peerCert: tls.PeerCertificate;
  alpn: string | false | null;
}> {
  return new Promise((resolve, reject) => {
    // With `agent: false` the options reach tls.connect, which takes ALPNProtocols.
    const requestOptions: https.RequestOptions & tls.ConnectionOptions = {
      host: "127.0.0.1",
      port,
      servername,
      ca,
      path: options.path ?? "/",
      method: options.method ?? "GET",
      headers: { host: servername, ...options.headers },
      agent: false,
      ALPNProtocols: ["http/1.1"],
      ...(options.minVersion ? { minVersion: options.minVersion } : {}),
      ...(options.maxVersion ? { maxVersion: options.maxVersion } : {}),
    };
    const req = https.request(requestOptions, (res) => {
      const socket = res.socket as tls.TLSSocket;
      const peerCert = socket.getPeerCertificate();
      const alpn = socket.alpnProtocol;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: res.headers,
          peerCert,
          alpn,
        }),
      );
      res.on("error", reject);
    });
    req.setTimeout(5_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * Opens a TLS connection through `port` whose first bytes (the ClientHello) go out 16 bytes at
 * a time with a pause between, so the proxy sees it in many TCP reads.
 */
export async function connectTrickling(
  port: number,
  options: { servername: string; ca: string },
): Promise<tls.TLSSocket> {
  const raw = net.connect({ host: "127.0.0.1", port });
  raw.setNoDelay(true);
  let first = true;
  const trickle = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      if (!first) {
        raw.write(chunk, callback);
        return;
      }
      first = false;
      void (async () => {
        for (let at = 0; at < chunk.length; at += 16) {
          raw.write(chunk.subarray(at, at + 16));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        callback();
      })();
    },
    final(callback) {
      raw.end();
      callback();
    },
    destroy(err, callback) {
      raw.destroy();
      callback(err);
    },
  });
  raw.on("data", (chunk) => trickle.push(chunk));
  raw.on("end", () => trickle.push(null));
  raw.on("error", (err) => trickle.destroy(err));
  const socket = tls.connect({ socket: trickle, servername: options.servername, ca: options.ca });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Sends one HTTP/1.1 GET on an open (TLS) connection and resolves with the response body. */
export function askOver(socket: tls.TLSSocket, host: string, url: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let got = "";
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      const end = got.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: (\d+)/i.exec(got.slice(0, end));
      const body = got.slice(end + 4);
      if (end >= 0 && length && body.length >= Number(length[1])) {
        socket.off("data", onData);
        resolve(body);
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.write(`GET ${url} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
  });
}
