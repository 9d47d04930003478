import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Secret, TOTP } from "otpauth";
import { parseDuration } from "../duration.ts";
import type { AccountKind } from "../mcias/store.ts";
import { MciasStore } from "../mcias/store.ts";
import { writeFileAtomic } from "../tls.ts";

async function openStore(dir: string): Promise<MciasStore> {
  const store = new MciasStore(join(resolve(dir), "mcias"));
  await store.init();
  return store;
}

export async function mintTokenCommand(opts: {
  dir: string;
  user: string;
  ttl: string;
  out: string | undefined;
}): Promise<void> {
  const ttlMs = parseDuration(opts.ttl, "--ttl");
  const store = await openStore(opts.dir);
  if (!(await store.account(opts.user))) {
    throw new Error(`--user ${opts.user}: no such account in ${store.usersFile}`);
  }
  const { token, expiresAt } = await store.issueToken(opts.user, ttlMs);
  if (opts.out) {
    await writeFileAtomic(opts.out, `${token}\n`, 0o600);
    process.stderr.write(
      `token for ${opts.user} written to ${opts.out} (expires ${expiresAt.toISOString()})\n`,
    );
  } else {
    process.stdout.write(`${token}\n`);
  }
}

export async function userCommand(opts: {
  dir: string;
  user: string;
  password: string | undefined;
  roles: string[];
  kind: AccountKind;
  totp: boolean;
}): Promise<void> {
  const store = await openStore(opts.dir);
  const secret = opts.totp ? new Secret({ size: 20 }) : undefined;
  await store.putAccount({
    username: opts.user,
    kind: opts.kind,
    roles: opts.roles,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(secret ? { totp_secret: secret.base32 } : {}),
  });
  process.stderr.write(`account ${opts.user} saved in ${store.usersFile}\n`);
  if (secret) {
    const uri = new TOTP({ issuer: "mcp-sim", label: opts.user, secret }).toString();
    process.stdout.write(`${uri}\n`);
  }
}

export async function revokeCommand(opts: { dir: string; tokenFile: string }): Promise<void> {
  let token: string;
  try {
    token = (await readFile(opts.tokenFile, "utf8")).trim();
  } catch (e) {
    throw new Error(`--token-file ${opts.tokenFile}: cannot read: ${(e as Error).message}`);
  }
  const store = await openStore(opts.dir);
  if (!(await store.revokeToken(token))) {
    throw new Error(`--token-file ${opts.tokenFile}: MCIAS stand-in does not know this token`);
  }
  process.stderr.write("token revoked\n");
}
