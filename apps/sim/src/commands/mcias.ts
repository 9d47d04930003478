import { join, resolve } from "node:path";
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
}): Promise<void> {
  const store = await openStore(opts.dir);
  await store.putAccount({
    username: opts.user,
    kind: opts.kind,
    roles: opts.roles,
    ...(opts.password !== undefined ? { password: opts.password } : {}),
  });
  process.stderr.write(`account ${opts.user} saved in ${store.usersFile}\n`);
}
