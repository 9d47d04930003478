import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { registryTokenAuthConfig } from "./config.ts";
import { base32, grantAccess, libtrustKeyId, parseScopes, signJwtEs256 } from "./jwt.ts";
import { ensureSigningKey } from "./keys.ts";

describe("base32 and the libtrust key ID", () => {
  test.each([
    ["", ""],
    ["f", "MY"],
    ["fo", "MZXQ"],
    ["foo", "MZXW6"],
    ["foob", "MZXW6YQ"],
    ["fooba", "MZXW6YTB"],
    ["foobar", "MZXW6YTBOI"],
  ])("RFC 4648 vector %j", (input, want) => {
    expect(base32(Buffer.from(input))).toBe(want);
  });

  test("12 groups of 4 base32 characters, stable for a key", () => {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const der = publicKey.export({ type: "spki", format: "der" });
    const id = libtrustKeyId(der);
    expect(id).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    expect(libtrustKeyId(der)).toBe(id);
  });
});

describe("signJwtEs256", () => {
  test("a compact JWS that verifies with the public key (r||s signature)", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwt = signJwtEs256({ typ: "JWT", kid: "K" }, { sub: "alice" }, privateKey);
    const [h, c, s] = jwt.split(".") as [string, string, string];
    expect(JSON.parse(Buffer.from(h, "base64url").toString())).toEqual({
      typ: "JWT",
      kid: "K",
      alg: "ES256",
    });
    expect(JSON.parse(Buffer.from(c, "base64url").toString())).toEqual({ sub: "alice" });
    const sig = Buffer.from(s, "base64url");
    expect(sig).toHaveLength(64);
    expect(
      verify(
        "sha256",
        Buffer.from(`${h}.${c}`),
        { key: publicKey, dsaEncoding: "ieee-p1363" },
        sig,
      ),
    ).toBe(true);
  });
});

describe("scopes", () => {
  test("repeated parameters and space-separated scopes; malformed ones skipped", () => {
    expect(
      parseScopes([
        "repository:app:pull,push",
        "repository:team/x:pull registry:catalog:*",
        "junk",
        "a::",
      ]),
    ).toEqual([
      { type: "repository", name: "app", actions: ["pull", "push"] },
      { type: "repository", name: "team/x", actions: ["pull"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
  });

  test("admin gets pull and push; other roles pull only; nothing beyond what was asked", () => {
    const asked = parseScopes([
      "repository:app:pull,push",
      "repository:b:push",
      "registry:catalog:*",
      "repository:c:delete",
    ]);
    expect(grantAccess(asked, ["admin"])).toEqual([
      { type: "repository", name: "app", actions: ["pull", "push"] },
      { type: "repository", name: "b", actions: ["push"] },
    ]);
    expect(grantAccess(asked, ["user"])).toEqual([
      { type: "repository", name: "app", actions: ["pull"] },
    ]);
    expect(grantAccess(asked, [])).toEqual([
      { type: "repository", name: "app", actions: ["pull"] },
    ]);
  });
});

describe("signing key", () => {
  test("created once with private key 0600, then reused; the kid is the certificate's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "registry-auth-keys-"));
    try {
      const a = await ensureSigningKey(dir);
      expect((await stat(join(dir, "signing-key.pem"))).mode & 0o777).toBe(0o600);
      const b = await ensureSigningKey(dir);
      expect(b.kid).toBe(a.kid);
      const spki = createPublicKey(await readFile(a.certFile, "utf8")).export({
        type: "spki",
        format: "der",
      });
      expect(a.kid).toBe(libtrustKeyId(spki));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("registryTokenAuthConfig", () => {
  test("token auth section with quoted scalars", () => {
    const text = registryTokenAuthConfig({
      addr: "127.0.0.1:5000",
      storageDir: "/tmp/x: y",
      realm: "https://127.0.0.1:4443/token",
      service: "mcr",
      issuer: "iss",
      rootCertBundle: "/d/rootcertbundle.pem",
    });
    expect(text).toContain('  addr: "127.0.0.1:5000"\n');
    expect(text).toContain('    rootdirectory: "/tmp/x: y"\n');
    expect(text).toContain(
      'auth:\n  token:\n    realm: "https://127.0.0.1:4443/token"\n    service: "mcr"\n    issuer: "iss"\n    rootcertbundle: "/d/rootcertbundle.pem"\n',
    );
    expect(text).not.toContain("tls:");
  });
});
