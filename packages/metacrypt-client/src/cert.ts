import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { InvalidCertificateError } from "./errors.ts";

/** The agent reuses a certificate while it has more than this left (spec: 30 days). */
export const DEFAULT_MIN_VALIDITY_MS = 30 * 24 * 60 * 60 * 1000;

/** notAfter of the first certificate in a PEM (a leaf followed by its chain is fine). */
export function certificateExpiry(pem: string | Buffer): Date {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (cause) {
    throw new InvalidCertificateError("not a PEM X.509 certificate", { cause });
  }
  return new Date(cert.validTo);
}

/**
 * True when the certificate expires within `minValidityMs` of `now` (or already has), so a
 * new one should be issued; false while it can still be reused.
 */
export function needsRenewal(
  pem: string | Buffer,
  now: Date = new Date(),
  minValidityMs: number = DEFAULT_MIN_VALIDITY_MS,
): boolean {
  return certificateExpiry(pem).getTime() - now.getTime() <= minValidityMs;
}

/** notAfter of the certificate in the file at `path`, or `undefined` when there is no such file. */
export async function readCertificateExpiry(path: string): Promise<Date | undefined> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return certificateExpiry(pem);
  } catch (e) {
    throw new InvalidCertificateError(`${path}: not a PEM X.509 certificate`, { cause: e });
  }
}
