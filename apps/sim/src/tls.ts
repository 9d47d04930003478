// The sim's local CA: created on first start under DIR/ca/ and reused, so clients that
// were told to trust DIR/ca/ca.pem keep working across restarts. ECDSA P-256 through
// @peculiar/x509 on Node's WebCrypto (docs/decisions/0020-sim-x509-library.md).
// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs the
// Reflect metadata polyfill loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import type { SimTls } from "./framework.ts";

const crypto = webcrypto;
// @peculiar/x509 types its provider with the DOM Crypto type; Node's is the same API.
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
/** Leaf certificates are renewed when less than this is left. */
const RENEW_BEFORE = 30 * DAY;

interface KeyPairPem {
  cert: string;
  key: string;
}

export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

function keyToPem(der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error("private key file holds no PEM block");
  return crypto.subtle.importKey("pkcs8", der, alg, false, ["sign"]);
}

function serial(): string {
  // Positive 16-byte serial (top bit clear).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f;
  return Buffer.from(b).toString("hex");
}

async function createCa(): Promise<KeyPairPem> {
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=mcp-sim local CA",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3650 * DAY),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const key = keyToPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: cert.toString("pem"), key };
}

/** Issues a TLS server certificate for the given names, signed by the CA. */
export async function issueServerCert(
  ca: KeyPairPem,
  names: { dnsNames: string[]; ips: string[] },
  validDays = 365,
): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKey(ca.key);
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.dnsNames[0] ?? names.ips[0] ?? "localhost"}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * DAY),
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...names.ips.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  const key = keyToPem(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: `${cert.toString("pem")}\n`, key };
}

/** Loads DIR/ca/{ca.pem,ca.key}, creating them on first use. */
export async function ensureLocalCa(rootDir: string): Promise<KeyPairPem & { caFile: string }> {
  const dir = join(rootDir, "ca");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, "ca.pem");
  const keyFile = join(dir, "ca.key");
  const [cert, key] = await Promise.all([readIfExists(caFile), readIfExists(keyFile)]);
  if (cert && key) return { cert, key, caFile };
  const ca = await createCa();
  // Key first: a crash between the two writes leaves no certificate without its key.
  await writeFileAtomic(keyFile, ca.key, 0o600);
  await writeFileAtomic(caFile, ca.cert, 0o644);
  return { ...ca, caFile };
}

/**
 * A SimTls for one module: leaf certificates are kept in `moduleDir/tls.{pem,key}` and
 * reused until 30 days before expiry or until the requested names change.
 */
export function simTls(ca: KeyPairPem & { caFile: string }, moduleDir: string): SimTls {
  return {
    caFile: ca.caFile,
    ca: ca.cert,
    async serverCert(opts = {}) {
      const dnsNames = ["localhost", ...(opts.dnsNames ?? [])];
      const ips = ["127.0.0.1", "::1"];
      const certFile = join(moduleDir, "tls.pem");
      const keyFile = join(moduleDir, "tls.key");
      const [cert, key] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
      if (cert && key) {
        try {
          const parsed = new x509.X509Certificate(cert);
          const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
          const have = new Set(san?.names.items.map((n) => n.value) ?? []);
          const fresh = parsed.notAfter.getTime() - Date.now() > RENEW_BEFORE;
          const sameCa = parsed.issuer === new x509.X509Certificate(ca.cert).subject;
          if (fresh && sameCa && dnsNames.every((n) => have.has(n))) return { cert, key };
        } catch {
          // An unreadable certificate is replaced below.
        }
      }
      const leaf = await issueServerCert(ca, { dnsNames, ips });
      await writeFileAtomic(keyFile, leaf.key, 0o600);
      await writeFileAtomic(certFile, leaf.cert, 0o644);
      return leaf;
    },
  };
}
