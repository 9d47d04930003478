// Bearer-token checks shared by the Metacrypt and MCNS stand-ins. Two sources, either
// suffices: a static token file in the module's dir (always; created with one random
// token if missing), and, when the sim runs MCIAS too, MCIAS's /v1/token/validate, so
// a token minted with `mcp-sim mcias token` works as it would against the real services.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { request } from "node:https";
import { dirname } from "node:path";
import { writeAtomic } from "./ca.ts";

export interface TokenChecker {
  /** The first token of the static file, for tests and tools. */
  staticToken: string;
  tokensFile: string;
  validate(token: string): Promise<boolean>;
}

export interface MciasPeer {
  url: string;
  /** PEM text of the CA to trust for MCIAS's certificate. */
  ca?: string;
}

const CACHE_MS = 10_000;
const MCIAS_TIMEOUT_MS = 5_000;

export async function tokenChecker(opts: {
  tokensFile: string;
  mcias?: MciasPeer;
  serviceName: string;
}): Promise<TokenChecker> {
  const tokens = await loadTokens(opts.tokensFile);
  const cache = new Map<string, { ok: boolean; until: number }>();
  return {
    staticToken: tokens[0] as string,
    tokensFile: opts.tokensFile,
    async validate(token) {
      if (tokens.some((known) => safeEqual(known, token))) return true;
      if (!opts.mcias) return false;
      // Keyed by hash so the cache never holds a token itself.
      const key = createHash("sha256").update(token).digest("hex");
      const hit = cache.get(key);
      if (hit && hit.until > Date.now()) return hit.ok;
      const ok = await validateWithMcias(opts.mcias, token, opts.serviceName);
      cache.set(key, { ok, until: Date.now() + CACHE_MS });
      return ok;
    },
  };
}

/** True when MCIAS says the token is valid; an unreachable MCIAS counts as "no". */
function validateWithMcias(mcias: MciasPeer, token: string, serviceName: string): Promise<boolean> {
  const body = JSON.stringify({ service_name: serviceName });
  return new Promise((resolve) => {
    const req = request(
      new URL("/v1/token/validate", mcias.url),
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
        ...(mcias.ca ? { ca: mcias.ca } : {}),
        timeout: MCIAS_TIMEOUT_MS,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => {
          try {
            resolve(
              res.statusCode === 200 && (JSON.parse(text) as { valid?: unknown }).valid === true,
            );
          } catch {
            resolve(false);
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

/** Tokens from the file, one per line (`#` comments); creates the file with one random token if missing. */
export async function loadTokens(file: string): Promise<string[]> {
  try {
    const tokens = (await readFile(file, "utf8"))
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    if (tokens.length === 0) throw new Error(`${file}: no tokens in the file`);
    return tokens;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const token = randomBytes(24).toString("base64url");
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeAtomic(file, `${token}\n`, 0o600);
  return [token];
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
