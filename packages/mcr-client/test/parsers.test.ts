import { describe, expect, test } from "vitest";
import { mapLimit, parseLinkNext, parseWwwAuthenticate, TokenCache } from "../src/index.ts";

describe("parseWwwAuthenticate", () => {
  test("distribution's Bearer challenge", () => {
    expect(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.example/token",service="mcr",scope="repository:app:pull,push"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.example/token",
          service: "mcr",
          scope: "repository:app:pull,push",
        },
      },
    ]);
  });

  test("error parameters, escapes, unquoted values, several challenges", () => {
    expect(
      parseWwwAuthenticate(
        'Basic realm="a \\"b\\"", Bearer realm="https://x/t", error=insufficient_scope',
      ),
    ).toEqual([
      { scheme: "basic", params: { realm: 'a "b"' } },
      { scheme: "bearer", params: { realm: "https://x/t", error: "insufficient_scope" } },
    ]);
  });

  test.each(['Bearer realm="unterminated', "=x", 'Bearer realm="a" junk"', "", "Bearer realm="])(
    "garbage %j gives undefined",
    (h) => {
      expect(parseWwwAuthenticate(h)).toBeUndefined();
    },
  );
});

describe("parseLinkNext", () => {
  const base = new URL("http://127.0.0.1:5000/v2/app/tags/list?n=2");
  test("relative next link", () => {
    expect(parseLinkNext('</v2/app/tags/list?n=2&last=b>; rel="next"', base)?.href).toBe(
      "http://127.0.0.1:5000/v2/app/tags/list?n=2&last=b",
    );
  });
  test("other rels and absent header", () => {
    expect(parseLinkNext('</x>; rel="prev", </y>; rel=next', base)?.pathname).toBe("/y");
    expect(parseLinkNext('</x>; rel="prev"', base)).toBeUndefined();
    expect(parseLinkNext(undefined, base)).toBeUndefined();
  });
});

describe("TokenCache", () => {
  test("reuses per scope until shortly before expiry; default lifetime 60 s", () => {
    const c = new TokenCache();
    c.put("svc", ["repository:a:pull", "repository:b:pull"], "T1", 300, 0);
    expect(c.get("svc", "repository:a:pull", 1000)).toBe("T1");
    expect(c.get("svc", "repository:b:pull", 1000)).toBe("T1");
    expect(c.get("svc", "repository:c:pull", 1000)).toBeUndefined();
    expect(c.get("other", "repository:a:pull", 1000)).toBeUndefined();
    expect(c.get("svc", "repository:a:pull", 294_999)).toBe("T1");
    expect(c.get("svc", "repository:a:pull", 295_000)).toBeUndefined();

    c.put("svc", ["s"], "T2", undefined, 0);
    expect(c.get("svc", "s", 54_999)).toBe("T2");
    expect(c.get("svc", "s", 55_000)).toBeUndefined();
    c.put("svc", ["s"], "T3", 10, 0);
    expect(c.get("svc", "s", 8_999)).toBe("T3");
    expect(c.get("svc", "s", 9_000)).toBeUndefined();
  });

  test("drop forgets a refused token", () => {
    const c = new TokenCache();
    c.put("svc", ["s"], "T", 60, 0);
    c.drop("svc", "T");
    expect(c.get("svc", "s", 1)).toBeUndefined();
  });
});

describe("mapLimit", () => {
  test("keeps order and never exceeds the bound", async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([...Array(20).keys()], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return n * 2;
    });
    expect(out).toEqual([...Array(20).keys()].map((n) => n * 2));
    expect(peak).toBe(3);
  });
  test("refuses a bad bound", async () => {
    await expect(mapLimit([1], 0, async (n) => n)).rejects.toThrow(/positive integer/);
  });
});
