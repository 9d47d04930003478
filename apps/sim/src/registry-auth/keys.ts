// The token signing key and its self-signed certificate, kept under the module's dir so
// a registry configured with DIR/registry-auth/rootcertbundle.pem keeps trusting tokens
// across restarts. ECDSA P-256; the certificate is made with @peculiar/x509, like the
// sim's local CA (docs/decisions/0020-sim-x509-library.md).
import "reflect-metadata";
import { createPrivateKey, createPublicKey, type KeyObject, webcrypto } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { writeFileAtomic } from "../tls.ts";
import { libtrustKeyId } from "./jwt.ts";

const crypto = webcrypto;
x509.cryptoProvider.set(crypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;

export interface SigningKey {
  key: KeyObject;
  /** PEM of the self-signed certificate: the registry's `rootcertbundle`. */
  certPem: string;
  certFile: string;
  /** libtrust key ID of the public key, the JWT `kid`. */
  kid: string;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Loads `signing-key.pem` + `rootcertbundle.pem` from `dir`, creating them on first use. */
export async function ensureSigningKey(
  dir: string,
  subject = "mcp-sim registry token signer",
): Promise<SigningKey> {
  const keyFile = join(dir, "signing-key.pem");
  const certFile = join(dir, "rootcertbundle.pem");
  let keyPem = await readIfExists(keyFile);
  let certPem = await readIfExists(certFile);
  if (keyPem === undefined || certPem === undefined) {
    const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: Buffer.from(
        crypto.getRandomValues(new Uint8Array(16)).map((b, i) => (i === 0 ? b & 0x7f : b)),
      ).toString("hex"),
      name: `CN=${subject}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3650 * DAY),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
    });
    keyPem = x509.PemConverter.encode(
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    );
    certPem = cert.toString("pem");
    await writeFileAtomic(keyFile, keyPem, 0o600);
    // The registry (another user, possibly) only needs to read the certificate.
    await writeFileAtomic(certFile, `${certPem.trim()}\n`, 0o644);
  }
  let key: KeyObject;
  let spki: Buffer;
  try {
    key = createPrivateKey(keyPem);
    spki = createPublicKey(certPem).export({ type: "spki", format: "der" });
  } catch (e) {
    throw new Error(
      `${dir}: signing-key.pem or rootcertbundle.pem is unreadable: ${(e as Error).message}`,
    );
  }
  const fromKey = createPublicKey(key).export({ type: "spki", format: "der" });
  if (!fromKey.equals(spki))
    throw new Error(
      `${dir}: signing-key.pem does not belong to rootcertbundle.pem; remove both to make new ones`,
    );
  return { key, certPem, certFile, kid: libtrustKeyId(spki) };
}
