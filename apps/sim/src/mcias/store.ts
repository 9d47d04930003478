// MCIAS stand-in state, all on disk under the module dir so a restart loses nothing and
// the `mcp-sim mcias ...` commands can change it while the server runs:
//   users.json              accounts (scrypt password hashes), re-read on every request
//   initial-passwords.json  the generated passwords of the default accounts (0600)
//   tokens/<sha256>.json    one file per issued token, named by the token's SHA-256, so
//                           the raw token is never written to disk
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { writeFileAtomic } from "../tls.ts";

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number },
) => Promise<Buffer>;

export type AccountKind = "user" | "service";

export interface Account {
  username: string;
  kind: AccountKind;
  roles: string[];
  /** `scrypt$N$r$p$salt$hash` (base64); null for accounts that cannot log in. */
  password: string | null;
  /** Base32 TOTP secret (RFC 6238, SHA-1, 6 digits, 30 s); login then needs totp_code. */
  totp_secret?: string;
}

export interface TokenRecord {
  username: string;
  issuedAt: string;
  expiresAt: string;
  revoked: boolean;
}

const USERNAME = /^[a-z][a-z0-9._-]{0,63}$/;
const BASE32 = /^[A-Z2-7]+=*$/;

export function tokenKey(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const N = 16384;
  const r = 8;
  const p = 1;
  const hash = await scryptAsync(password, salt, 32, { N, r, p });
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const want = Buffer.from(hash, "base64");
  const got = await scryptAsync(password, Buffer.from(salt, "base64"), want.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return got.length === want.length && timingSafeEqual(got, want);
}

function parseAccounts(text: string, file: string): Account[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const users = (doc as { users?: unknown }).users;
  if (!Array.isArray(users)) throw new Error(`${file}: expected {"users": [...]}`);
  return users.map((u: unknown, i: number) => {
    const a = u as Partial<Account>;
    const where = `${file}: users[${i}]`;
    if (typeof a.username !== "string" || !USERNAME.test(a.username))
      throw new Error(`${where}.username: expected a lower-case name like "alice"`);
    if (a.kind !== "user" && a.kind !== "service")
      throw new Error(`${where}.kind: expected "user" or "service"`);
    if (!Array.isArray(a.roles) || !a.roles.every((r) => typeof r === "string"))
      throw new Error(`${where}.roles: expected a list of strings`);
    if (a.password !== null && typeof a.password !== "string")
      throw new Error(`${where}.password: expected a scrypt hash or null`);
    if (
      a.totp_secret !== undefined &&
      !(typeof a.totp_secret === "string" && BASE32.test(a.totp_secret))
    )
      throw new Error(`${where}.totp_secret: expected a base32 secret`);
    return {
      username: a.username,
      kind: a.kind,
      roles: a.roles,
      password: a.password ?? null,
      ...(a.totp_secret ? { totp_secret: a.totp_secret } : {}),
    };
  });
}

export class MciasStore {
  readonly usersFile: string;
  readonly initialPasswordsFile: string;
  readonly tokensDir: string;

  constructor(readonly dir: string) {
    this.usersFile = join(dir, "users.json");
    this.initialPasswordsFile = join(dir, "initial-passwords.json");
    this.tokensDir = join(dir, "tokens");
  }

  /**
   * Creates the users file on first use: `admin` (role admin), `operator` (no admin
   * role) with random passwords written to initial-passwords.json, and the service
   * account `mcp-agent`, which cannot log in (mint its token with `mcp-sim mcias token`).
   */
  async init(): Promise<void> {
    await mkdir(this.tokensDir, { recursive: true, mode: 0o700 });
    try {
      await readFile(this.usersFile, "utf8");
      await this.accounts();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const passwords = {
      admin: randomBytes(18).toString("base64url"),
      operator: randomBytes(18).toString("base64url"),
    };
    const accounts: Account[] = [
      {
        username: "admin",
        kind: "user",
        roles: ["admin"],
        password: await hashPassword(passwords.admin),
      },
      {
        username: "operator",
        kind: "user",
        roles: ["user"],
        password: await hashPassword(passwords.operator),
      },
      { username: "mcp-agent", kind: "service", roles: [], password: null },
    ];
    await writeFileAtomic(
      this.initialPasswordsFile,
      `${JSON.stringify(passwords, null, 2)}\n`,
      0o600,
    );
    await this.saveAccounts(accounts);
  }

  async accounts(): Promise<Account[]> {
    return parseAccounts(await readFile(this.usersFile, "utf8"), this.usersFile);
  }

  async saveAccounts(accounts: Account[]): Promise<void> {
    await writeFileAtomic(
      this.usersFile,
      `${JSON.stringify({ users: accounts }, null, 2)}\n`,
      0o600,
    );
  }

  async account(username: string): Promise<Account | undefined> {
    return (await this.accounts()).find((a) => a.username === username);
  }

  /** Adds or replaces an account. */
  async putAccount(account: Omit<Account, "password"> & { password?: string }): Promise<void> {
    if (!USERNAME.test(account.username))
      throw new Error(`--user ${account.username}: expected a lower-case name like "alice"`);
    const accounts = (await this.accounts()).filter((a) => a.username !== account.username);
    accounts.push({
      username: account.username,
      kind: account.kind,
      roles: account.roles,
      password: account.password === undefined ? null : await hashPassword(account.password),
      ...(account.totp_secret ? { totp_secret: account.totp_secret } : {}),
    });
    await this.saveAccounts(accounts);
  }

  /** Issues a random 32-byte token for `username`, valid for `ttlMs`. */
  async issueToken(
    username: string,
    ttlMs: number,
    now = Date.now(),
  ): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString("base64url");
    const expiresAt = new Date(now + ttlMs);
    const rec: TokenRecord = {
      username,
      issuedAt: new Date(now).toISOString(),
      expiresAt: expiresAt.toISOString(),
      revoked: false,
    };
    await writeFileAtomic(
      join(this.tokensDir, `${tokenKey(token)}.json`),
      `${JSON.stringify(rec)}\n`,
    );
    return { token, expiresAt };
  }

  async token(token: string): Promise<TokenRecord | undefined> {
    try {
      const text = await readFile(join(this.tokensDir, `${tokenKey(token)}.json`), "utf8");
      return JSON.parse(text) as TokenRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  /** Marks a token revoked; false when it is unknown. */
  async revokeToken(token: string): Promise<boolean> {
    const rec = await this.token(token);
    if (!rec) return false;
    rec.revoked = true;
    await writeFileAtomic(
      join(this.tokensDir, `${tokenKey(token)}.json`),
      `${JSON.stringify(rec)}\n`,
    );
    return true;
  }

  /** Deletes token files that expired more than a day ago. */
  async pruneTokens(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tokensDir)) {
      if (!name.endsWith(".json")) continue;
      const path = join(this.tokensDir, name);
      try {
        const rec = JSON.parse(await readFile(path, "utf8")) as TokenRecord;
        if (Date.parse(rec.expiresAt) < now - 86_400_000) {
          await unlink(path);
          removed++;
        }
      } catch {
        // Leave files we cannot read for a person to look at.
      }
    }
    return removed;
  }
}
