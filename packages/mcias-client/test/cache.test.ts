import { describe, expect, it } from "vitest";
import {
  CachedValidator,
  type MciasClient,
  MciasUnavailableError,
  type TokenValidation,
} from "../src/index.ts";

class FakeMcias implements Pick<MciasClient, "validateToken"> {
  calls: string[] = [];
  answers = new Map<string, TokenValidation>();
  down = false;
  async validateToken(token: string): Promise<TokenValidation> {
    this.calls.push(token);
    if (this.down) throw new MciasUnavailableError("MCIAS is unreachable (ECONNREFUSED)");
    return this.answers.get(token) ?? { valid: false };
  }
}

function setup(opts: { ttlMs?: number; maxEntries?: number } = {}) {
  let t = 1_000_000;
  const fake = new FakeMcias();
  const cache = new CachedValidator(fake, { ...opts, now: () => t });
  return { fake, cache, advance: (ms: number) => (t += ms), now: () => t };
}

const valid = (expiresAt: number): TokenValidation => ({
  valid: true,
  username: "admin",
  roles: ["admin"],
  expiresAt: new Date(expiresAt),
});

describe("CachedValidator", () => {
  it("reuses a valid answer for 30 s, then asks MCIAS again", async () => {
    const { fake, cache, advance, now } = setup();
    fake.answers.set("t1", valid(now() + 3_600_000));
    expect((await cache.validate("t1")).valid).toBe(true);
    advance(29_999);
    await cache.validate("t1");
    expect(fake.calls).toHaveLength(1);
    advance(2);
    await cache.validate("t1");
    expect(fake.calls).toHaveLength(2);
  });

  it("never serves a token past its own expiry", async () => {
    const { fake, cache, advance, now } = setup();
    fake.answers.set("t1", valid(now() + 10_000));
    await cache.validate("t1");
    advance(9_000);
    expect((await cache.validate("t1")).valid).toBe(true);
    expect(fake.calls).toHaveLength(1);
    advance(1_000);
    fake.answers.set("t1", { valid: false });
    expect((await cache.validate("t1")).valid).toBe(false);
    expect(fake.calls).toHaveLength(2);
  });

  it("does not cache an answer for an already expired token", async () => {
    const { fake, cache, now } = setup();
    fake.answers.set("t1", valid(now() - 1));
    await cache.validate("t1");
    expect(cache.size).toBe(0);
  });

  it("does not cache invalid answers", async () => {
    const { fake, cache, now } = setup();
    expect((await cache.validate("nope")).valid).toBe(false);
    fake.answers.set("nope", valid(now() + 60_000));
    expect((await cache.validate("nope")).valid).toBe(true);
    expect(fake.calls).toHaveLength(2);
  });

  it("fails with Unavailable when MCIAS is down and nothing valid is cached", async () => {
    const { fake, cache, advance, now } = setup();
    fake.answers.set("t1", valid(now() + 3_600_000));
    await cache.validate("t1");
    fake.down = true;
    // Within the window the cached answer stands...
    expect((await cache.validate("t1")).valid).toBe(true);
    // ...after it, MCIAS being down is an error, never a pass.
    advance(30_001);
    await expect(cache.validate("t1")).rejects.toBeInstanceOf(MciasUnavailableError);
    await expect(cache.validate("other")).rejects.toBeInstanceOf(MciasUnavailableError);
    expect(cache.size).toBe(0);
  });

  it("evicts the least recently used entries beyond maxEntries", async () => {
    const { fake, cache, now } = setup({ maxEntries: 2 });
    for (const t of ["a", "b", "c"]) fake.answers.set(t, valid(now() + 60_000));
    await cache.validate("a");
    await cache.validate("b");
    await cache.validate("a"); // a is now the most recent
    await cache.validate("c"); // evicts b
    expect(cache.size).toBe(2);
    fake.calls = [];
    await cache.validate("a");
    await cache.validate("b");
    expect(fake.calls).toEqual(["b"]);
  });

  it("shares one MCIAS call between concurrent validations of a token", async () => {
    const { fake, cache, now } = setup();
    fake.answers.set("t1", valid(now() + 60_000));
    const results = await Promise.all([
      cache.validate("t1"),
      cache.validate("t1"),
      cache.validate("t1"),
    ]);
    expect(results.every((r) => r.valid)).toBe(true);
    expect(fake.calls).toHaveLength(1);
  });

  it("forget() drops a cached token", async () => {
    const { fake, cache, now } = setup();
    fake.answers.set("t1", valid(now() + 60_000));
    await cache.validate("t1");
    cache.forget("t1");
    await cache.validate("t1");
    expect(fake.calls).toHaveLength(2);
  });
});
