// Side effect required by @peculiar/x509 (its DI container, tsyringe, reads decorator
// metadata); see docs/decisions/0030-sim-x509-library.md.
import "reflect-metadata";
import { randomBytes, webcrypto } from "node:crypto";
import { appendFile, chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const CA_LIFETIME_MS = 10 * 365 * 24 * 3_600_000;

export type Profile = "server" | "client" | "peer";
export const PROFILES: readonly Profile[] = ["server", "client", "peer"];

export interface IssueParams {
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  ttlMs: number;
  profile: Profile;
  issuer: string;
}

export interface Issued {
  certificate: string;
  privateKey: string;
  caChain: string[];
  serial: string;
  notBefore: Date;
  expiresAt: Date;
}

/** One line of `index.jsonl`: what was issued, so a restart loses nothing. */
export interface IndexEntry {
  serial: string;
  issuer: string;
  profile: Profile;
  common_name: string;
  dns_names: string[];
  ip_addresses: string[];
  not_before: string;
  not_after: string;
}

/**
 * A root CA kept in `dir`: `ca.pem` (public, for clients to trust), `ca-key.pem` (0600),
 * `index.jsonl` (one line per issued certificate). Created on first open, reused after.
 */
export class SimCa {
  readonly dir: string;
  readonly caPem: string;
  readonly #cert: x509.X509Certificate;
  readonly #key: webcrypto.CryptoKey;

  private constructor(dir: string, cert: x509.X509Certificate, key: webcrypto.CryptoKey) {
    this.dir = dir;
    this.#cert = cert;
    this.#key = key;
    this.caPem = `${cert.toString("pem")}\n`;
  }

  get caFile(): string {
    return join(this.dir, "ca.pem");
  }

  static async open(dir: string): Promise<SimCa> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const certFile = join(dir, "ca.pem");
    const keyFile = join(dir, "ca-key.pem");
    let certPem: string | undefined;
    let keyPem: string | undefined;
    try {
      [certPem, keyPem] = await Promise.all([
        readFile(certFile, "utf8"),
        readFile(keyFile, "utf8"),
      ]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    if (certPem !== undefined && keyPem !== undefined) {
      const key = await webcrypto.subtle.importKey(
        "pkcs8",
        x509.PemConverter.decodeFirst(keyPem),
        { name: ALG.name, namedCurve: ALG.namedCurve },
        false,
        ["sign"],
      );
      return new SimCa(dir, new x509.X509Certificate(certPem), key);
    }
    const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerial(),
      name: "CN=MCP sim Metacrypt root CA, O=Metacircular (simulated)",
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + CA_LIFETIME_MS),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    await writeAtomic(keyFile, `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`, 0o600);
    await writeAtomic(certFile, `${cert.toString("pem")}\n`, 0o644);
    return new SimCa(dir, cert, keys.privateKey);
  }

  /** Signs a fresh P-256 key for the leaf, appends it to the index, and returns it with the chain. */
  async issue(p: IssueParams): Promise<Issued> {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    const now = Date.now();
    // Backdated a minute so a client with a slightly slow clock accepts it at once.
    const notBefore = new Date(Math.floor((now - 60_000) / 1000) * 1000);
    const notAfter = new Date(Math.floor((now + p.ttlMs) / 1000) * 1000);
    const caNotAfter = this.#cert.notAfter;
    const expiresAt = notAfter > caNotAfter ? caNotAfter : notAfter;
    const serial = newSerial();
    const eku: string[] = [];
    if (p.profile === "server" || p.profile === "peer") eku.push(x509.ExtendedKeyUsage.serverAuth);
    if (p.profile === "client" || p.profile === "peer") eku.push(x509.ExtendedKeyUsage.clientAuth);
    const san: x509.JsonGeneralName[] = [
      ...p.dnsNames.map((value) => ({ type: "dns" as const, value })),
      ...p.ipAddresses.map((value) => ({ type: "ip" as const, value })),
    ];
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(eku, false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(this.#cert, false),
    ];
    if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(san, false));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: new x509.Name([{ CN: [p.commonName] }]).toString(),
      issuer: this.#cert.subject,
      notBefore,
      notAfter: expiresAt,
      signingKey: this.#key,
      publicKey: keys.publicKey,
      signingAlgorithm: ALG,
      extensions,
    });
    const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
    const entry: IndexEntry = {
      serial,
      issuer: p.issuer,
      profile: p.profile,
      common_name: p.commonName,
      dns_names: p.dnsNames,
      ip_addresses: p.ipAddresses,
      not_before: notBefore.toISOString(),
      not_after: expiresAt.toISOString(),
    };
    await appendFile(join(this.dir, "index.jsonl"), `${JSON.stringify(entry)}\n`, { mode: 0o600 });
    return {
      certificate: `${cert.toString("pem")}\n`,
      privateKey: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n`,
      caChain: [this.caPem],
      serial: formatSerial(serial),
      notBefore,
      expiresAt,
    };
  }

  /** Every certificate issued by this CA, oldest first. */
  async index(): Promise<IndexEntry[]> {
    let text: string;
    try {
      text = await readFile(join(this.dir, "index.jsonl"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as IndexEntry);
  }
}

/** 16 random bytes, top bit clear so the DER INTEGER stays positive and 16 bytes long. */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x10;
  return b.toString("hex");
}

/** Colon-separated lower-case hex pairs, the way Vault-like PKI engines print serials. */
function formatSerial(hex: string): string {
  return (hex.toLowerCase().match(/../g) ?? []).join(":");
}

export async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}
