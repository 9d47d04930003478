import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  certificateExpiry,
  DEFAULT_MIN_VALIDITY_MS,
  isInvalidCertificateError,
  needsRenewal,
  readCertificateExpiry,
} from "../src/index.ts";

const DAY = 86_400_000;
// fixtures/leaf-90d.pem: `openssl req -x509 -newkey ec ... -days 90`, valid until this instant.
const NOT_AFTER = new Date("2027-02-19T02:08:07Z");
const fixture = join(import.meta.dirname, "fixtures", "leaf-90d.pem");

describe("certificate expiry helpers", () => {
  let pem: string;
  let dir: string;
  beforeAll(async () => {
    pem = await readFile(fixture, "utf8");
    dir = await mkdtemp(join(tmpdir(), "mcp-metacrypt-cert-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads notAfter from a PEM string or buffer, also when a chain follows the leaf", () => {
    expect(certificateExpiry(pem)).toEqual(NOT_AFTER);
    expect(certificateExpiry(Buffer.from(pem + pem))).toEqual(NOT_AFTER);
  });

  it("needsRenewal: reuse while more than 30 days are left, renew at 30 days or fewer", () => {
    expect(DEFAULT_MIN_VALIDITY_MS).toBe(30 * DAY);
    const at = (msBeforeExpiry: number) => new Date(NOT_AFTER.getTime() - msBeforeExpiry);
    expect(needsRenewal(pem, at(60 * DAY))).toBe(false);
    expect(needsRenewal(pem, at(30 * DAY + 1000))).toBe(false);
    expect(needsRenewal(pem, at(30 * DAY))).toBe(true);
    expect(needsRenewal(pem, at(DAY))).toBe(true);
    expect(needsRenewal(pem, at(-DAY))).toBe(true);
    expect(needsRenewal(pem, at(10 * DAY), 7 * DAY)).toBe(false);
  });

  it("reads the expiry of a file, undefined when there is none", async () => {
    const file = join(dir, "svc.pem");
    await writeFile(file, pem);
    expect(await readCertificateExpiry(file)).toEqual(NOT_AFTER);
    expect(await readCertificateExpiry(join(dir, "missing.pem"))).toBeUndefined();
  });

  it("names the file when it is not a certificate", async () => {
    const file = join(dir, "garbage.pem");
    await writeFile(file, "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
    const e = await readCertificateExpiry(file).catch((x: unknown) => x);
    expect(isInvalidCertificateError(e)).toBe(true);
    expect((e as Error).message).toContain("garbage.pem");
    expect(() => needsRenewal("not a pem")).toThrow(/not a PEM X\.509 certificate/);
  });
});
