import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  DEFAULT_MIN_VALIDITY_MS,
  type IssueCertificateRequest,
  type IssuedCertificate,
} from "@mcp/metacrypt-client";
import type { CertificateProvider, CertificateResult } from "../platform.ts";
import { PlatformError } from "./errors.ts";

export type ReuseDecision = { reuse: true } | { reuse: false; reason: string };

/**
 * Whether the certificate on disk can serve `hostnames` for a while yet: it must parse, be
 * valid for more than `minValidityMs` from `now` (30 days), name every hostname, and match
 * the key beside it (a crash between the two renames could leave them from different
 * issues). Pure, so every rule is unit-tested with PEMs made in the test.
 */
export function reuseDecision(
  certPem: string | undefined,
  keyPem: string | undefined,
  hostnames: readonly string[],
  now: Date = new Date(),
  minValidityMs: number = DEFAULT_MIN_VALIDITY_MS,
): ReuseDecision {
  if (certPem === undefined || keyPem === undefined) {
    return { reuse: false, reason: "no certificate yet" };
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { reuse: false, reason: "the certificate on disk cannot be read" };
  }
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() - now.getTime() <= minValidityMs) {
    return { reuse: false, reason: `it expires ${notAfter.toISOString()}` };
  }
  if (new Date(cert.validFrom).getTime() > now.getTime()) {
    return { reuse: false, reason: "it is not valid yet" };
  }
  const sans = dnsNames(cert);
  const missing = hostnames.filter((h) => !sans.has(h.toLowerCase()));
  if (missing.length > 0) return { reuse: false, reason: `it does not name ${missing.join(", ")}` };
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      return { reuse: false, reason: "the key does not match the certificate" };
    }
  } catch {
    return { reuse: false, reason: "the key on disk cannot be read" };
  }
  return { reuse: true };
}

// Exact SAN names only: a route hostname is issued as a DNS SAN as it is, so a wildcard
// that happens to cover it is not what was asked for and a reissue puts it right.
function dnsNames(cert: X509Certificate): Set<string> {
  const out = new Set<string>();
  for (const part of (cert.subjectAltName ?? "").split(/,\s*/)) {
    if (part.startsWith("DNS:")) out.add(part.slice(4).toLowerCase());
  }
  return out;
}

/** The PEM mc-proxy serves: the leaf, then the chain (leaf's issuer first). */
export function certificateBundle(issued: Pick<IssuedCertificate, "certificate" | "caChain">) {
  return [issued.certificate, ...issued.caChain]
    .map((p) => (p.endsWith("\n") ? p : `${p}\n`))
    .join("");
}

/**
 * Writes `data` to `path` with mode 0600 so that a reader sees the old file or the new one,
 * never a part: a temporary file in the same directory, fsync, rename.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export interface MetacryptCertificatesOptions {
  /** Directory of `<service>.pem` and `<service>.key` (config `certs.dir`). */
  dir: string;
  /** Issues one certificate (the Metacrypt client, with its token and timeout). */
  issue: (req: IssueCertificateRequest) => Promise<IssuedCertificate>;
  mount: string;
  /** Engine path (role); the config names only the issuer, which doubles as the path. */
  path: string;
  issuer: string;
  profile: string;
  ttl: string;
  now?: () => Date;
  /** Told the certificate path each time new files were written (routes re-add to reload). */
  onIssued?: (certPath: string) => void;
}

/** CertificateProvider on Metacrypt: reuse what is on disk while it is good, else issue. */
export class MetacryptCertificates implements CertificateProvider {
  readonly #o: MetacryptCertificatesOptions;

  constructor(options: MetacryptCertificatesOptions) {
    this.#o = options;
  }

  paths(service: string): { certPath: string; keyPath: string } {
    return {
      certPath: join(this.#o.dir, `${service}.pem`),
      keyPath: join(this.#o.dir, `${service}.key`),
    };
  }

  async ensure(service: string, hostnames: string[]): Promise<CertificateResult> {
    const { certPath, keyPath } = this.paths(service);
    if (hostnames.length === 0) throw new Error(`no hostnames to certify for ${service}`);
    const [certPem, keyPem] = await Promise.all([readIfExists(certPath), readIfExists(keyPath)]);
    const now = this.#o.now?.() ?? new Date();
    if (reuseDecision(certPem, keyPem, hostnames, now).reuse) {
      return { certPath, keyPath, issued: false };
    }
    const [first] = hostnames as [string];
    let issued: IssuedCertificate;
    try {
      issued = await this.#o.issue({
        mount: this.#o.mount,
        path: this.#o.path,
        issuer: this.#o.issuer,
        profile: this.#o.profile,
        commonName: first,
        dnsNames: hostnames,
        ipAddresses: [],
        ttl: this.#o.ttl,
      });
    } catch (e) {
      throw new PlatformError(
        `Metacrypt cannot issue a certificate for ${hostnames.join(", ")}`,
        e,
      );
    }
    await mkdir(this.#o.dir, { recursive: true, mode: 0o755 });
    // Key first: a crash between the renames leaves a new key beside the old certificate,
    // which reuseDecision rejects, so the next deploy issues again.
    await writeFileAtomic(keyPath, issued.privateKey);
    await writeFileAtomic(certPath, certificateBundle(issued));
    this.#o.onIssued?.(certPath);
    return { certPath, keyPath, issued: true };
  }

  async remove(service: string): Promise<void> {
    const { certPath, keyPath } = this.paths(service);
    await rm(certPath, { force: true });
    await rm(keyPath, { force: true });
  }
}
