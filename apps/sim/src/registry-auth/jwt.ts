// The pieces of distribution's token auth that are plain functions: the libtrust key ID
// distribution 2.8 matches a JWT's `kid` against, ES256 JWT signing, and the scope grant.
import { createHash, type KeyObject, sign } from "node:crypto";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding. */
export function base32(data: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * libtrust's key ID (docker/libtrust `keyIDFromCryptoKey`): SHA-256 of the DER
 * SubjectPublicKeyInfo, first 240 bits, base32, in 12 groups of 4 joined by ':'.
 * distribution 2.8 indexes the keys of its `rootcertbundle` by this ID and looks a
 * token's `kid` header up there.
 */
export function libtrustKeyId(spkiDer: Uint8Array): string {
  const s = base32(createHash("sha256").update(spkiDer).digest().subarray(0, 30));
  return s.match(/.{4}/g)?.join(":") ?? s;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** A compact JWS, ES256 (P-256, signature as raw r||s as JWA requires). */
export function signJwtEs256(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject,
): string {
  const input = `${b64url(JSON.stringify({ ...header, alg: "ES256" }))}.${b64url(JSON.stringify(claims))}`;
  const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64url(sig)}`;
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Parses the `scope` query values of a token request: `type:name:actions`, several per
 * value separated by spaces (Docker) or as repeated parameters (containers/image). The
 * name may itself hold ':' (a registry host with a port in some clients), so the type
 * ends at the first ':' and the actions start after the last one. Malformed scopes are
 * skipped: the spec says to grant what can be granted.
 */
export function parseScopes(values: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const v of values) {
    for (const s of v.split(" ")) {
      const first = s.indexOf(":");
      const last = s.lastIndexOf(":");
      if (first <= 0 || last <= first + 1) continue;
      const actions = s
        .slice(last + 1)
        .split(",")
        .filter((a) => a !== "");
      out.push({ type: s.slice(0, first), name: s.slice(first + 1, last), actions });
    }
  }
  return out;
}

/**
 * What an account gets: the `admin` role may pull and push any repository; every other
 * authenticated account may pull only. Only `repository` scopes are granted; actions not
 * asked for are never added, and a scope with nothing granted is left out.
 */
export function grantAccess(requested: readonly Access[], roles: readonly string[]): Access[] {
  const allowed = roles.includes("admin") ? ["pull", "push"] : ["pull"];
  const out: Access[] = [];
  for (const r of requested) {
    if (r.type !== "repository") continue;
    const actions = [...new Set(r.actions.filter((a) => allowed.includes(a)))];
    if (actions.length === 0) continue;
    out.push({ type: r.type, name: r.name, actions });
  }
  return out;
}
