import net from "node:net";
import tls from "node:tls";
import { describe, expect, it } from "vitest";
import { parseClientHelloSni } from "./sni.ts";

// Real ClientHellos from Node's own TLS stack (OpenSSL), captured off a loopback socket.
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const got = new Promise<Buffer>((resolve) => {
      server.once("connection", (socket) => {
        const chunks: Buffer[] = [];
        socket.on("data", (chunk) => {
          chunks.push(chunk);
          const all = Buffer.concat(chunks);
          // A whole record (header + length) is all a hello needs here.
          if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
            resolve(all);
            socket.destroy();
          }
        });
      });
    });
    const client = tls.connect({ host: "127.0.0.1", port, ...options });
    client.on("error", () => {});
    const hello = await got;
    client.destroy();
    return hello;
  } finally {
    server.close();
  }
}

/** Re-frames one handshake record into records of at most `size` payload bytes. */
function splitRecords(hello: Buffer, size: number): Buffer {
  const payload = hello.subarray(5, 5 + hello.readUInt16BE(3));
  const out: Buffer[] = [];
  for (let at = 0; at < payload.length; at += size) {
    const part = payload.subarray(at, at + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    out.push(header, part);
  }
  return Buffer.concat(out);
}

describe("parseClientHelloSni", () => {
  it("reads the server name of a real TLS 1.3 ClientHello", async () => {
    const hello = await captureClientHello({ servername: "app.svc.example.net" });
    expect(parseClientHelloSni(hello)).toEqual({ status: "ok", serverName: "app.svc.example.net" });
  });

  it("lower-cases the name", async () => {
    const hello = await captureClientHello({ servername: "App.Example.NET" });
    expect(parseClientHelloSni(hello)).toEqual({ status: "ok", serverName: "app.example.net" });
  });

  it("reports no server name when the client sent none", async () => {
    // Node sends no SNI when connecting to an IP address without a servername.
    const hello = await captureClientHello({});
    expect(parseClientHelloSni(hello)).toEqual({ status: "ok", serverName: undefined });
  });

  it("asks for more at every prefix of the hello and answers once it is whole", async () => {
    const hello = await captureClientHello({ servername: "a.example.net" });
    for (let n = 0; n < hello.length; n++) {
      expect(parseClientHelloSni(hello.subarray(0, n)).status).toBe("incomplete");
    }
    expect(parseClientHelloSni(hello)).toEqual({ status: "ok", serverName: "a.example.net" });
  });

  it("reassembles a ClientHello split across many TLS records", async () => {
    const hello = await captureClientHello({ servername: "frag.example.net" });
    for (const size of [1, 3, 7, 64, 200]) {
      const framed = splitRecords(hello, size);
      expect(parseClientHelloSni(framed)).toEqual({ status: "ok", serverName: "frag.example.net" });
      expect(parseClientHelloSni(framed.subarray(0, framed.length - 1)).status).toBe("incomplete");
    }
  });

  it("refuses plain HTTP at the first byte", () => {
    expect(parseClientHelloSni(Buffer.from("G")).status).toBe("invalid");
    expect(parseClientHelloSni(Buffer.from("GET / HTTP/1.1\r\n\r\n")).status).toBe("invalid");
  });

  it("refuses a record that is not a ClientHello", () => {
    const serverHello = Buffer.from([22, 3, 3, 0, 4, 2, 0, 0, 0]);
    expect(parseClientHelloSni(serverHello)).toMatchObject({ status: "invalid" });
  });

  it("refuses an oversized ClientHello without waiting for it", () => {
    const huge = Buffer.from([22, 3, 1, 0, 4, 1, 0x10, 0, 0]);
    expect(parseClientHelloSni(huge)).toEqual({
      status: "invalid",
      reason: "ClientHello too large",
    });
  });

  it("refuses corrupt extension lengths instead of reading past the end", async () => {
    const hello = await captureClientHello({ servername: "x.example.net" });
    // Every single-byte corruption must give a definite answer, never throw.
    for (let i = 5; i < hello.length; i++) {
      const bad = Buffer.from(hello);
      bad[i] = bad[i]! ^ 0xff;
      expect(() => parseClientHelloSni(bad)).not.toThrow();
    }
  });
});
