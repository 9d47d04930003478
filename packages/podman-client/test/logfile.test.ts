import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { followLogFile, parseCriLine, sinceToNs, timeToNs } from "../src/logfile.ts";

describe("CRI log lines (conmon's k8s-file format)", () => {
  it("parses full and partial lines, both streams, empty text", () => {
    expect(parseCriLine("2026-11-21T02:17:19.751650638Z stdout F hello world")).toEqual({
      time: "2026-11-21T02:17:19.751650638Z",
      stream: "stdout",
      partial: false,
      text: "hello world",
    });
    expect(parseCriLine("2026-11-21T02:17:19.7Z stderr P   spaced")).toMatchObject({
      stream: "stderr",
      partial: true,
      text: "  spaced",
    });
    expect(parseCriLine("2026-11-21T02:17:19Z stdout F")).toMatchObject({ text: "" });
    expect(parseCriLine("garbage")).toBeUndefined();
    expect(parseCriLine("2026-11-21T02:17:19Z stdin F x")).toBeUndefined();
  });

  it("times to nanoseconds, with trimmed fractions and offsets", () => {
    expect(timeToNs("2026-11-21T02:17:19.751650638Z")! - timeToNs("2026-11-21T02:17:19.75Z")!).toBe(
      1650638n,
    );
    expect(timeToNs("2026-11-21T03:17:19+01:00")).toBe(timeToNs("2026-11-21T02:17:19Z"));
    expect(timeToNs("nope")).toBeUndefined();
  });

  it("since: Date, RFC 3339, Go durations", () => {
    const now = Date.parse("2026-11-21T02:00:00Z");
    expect(sinceToNs(new Date(now))).toBe(BigInt(now) * 1_000_000n);
    expect(sinceToNs("2026-11-21T02:00:00.5Z")).toBe(BigInt(now) * 1_000_000n + 500_000_000n);
    expect(sinceToNs("10m", now)).toBe(BigInt(now - 600_000) * 1_000_000n);
    expect(sinceToNs("1h30m", now)).toBe(BigInt(now - 5_400_000) * 1_000_000n);
    expect(sinceToNs("yesterday-ish", now)).toBeUndefined();
  });
});

describe("followLogFile", () => {
  let dir = "";
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const line = (i: number, text: string, tag = "F", stream = "stdout") =>
    `2026-11-21T02:00:${String(i).padStart(2, "0")}.000000001Z ${stream} ${tag} ${text}\n`;

  async function collect(gen: AsyncIterable<string>) {
    const out: string[] = [];
    for await (const l of gen) out.push(l);
    return out;
  }

  it("reads what exists, then what is appended, joins partial lines, ends when finished", async () => {
    dir = await mkdtemp(join(tmpdir(), "logfile-"));
    const file = join(dir, "ctr.log");
    await writeFile(file, line(1, "one") + line(2, "tw", "P"));
    let finished = false;
    const ac = new AbortController();
    const seen: string[] = [];
    const reader = (async () => {
      for await (const l of followLogFile(file, {
        signal: ac.signal,
        finished: () => finished,
        pollMs: 10,
      }))
        seen.push(l);
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["one"]);
    await appendFile(
      file,
      line(2, "o", "F") + line(3, "three", "F", "stderr") + line(4, "no newline yet").slice(0, -1),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual(["one", "two", "three"]);
    await appendFile(file, "\n");
    finished = true;
    await reader;
    expect(seen).toEqual(["one", "two", "three", "no newline yet"]);
  });

  it("tail applies to what exists at the start; since and timestamps", async () => {
    dir = await mkdtemp(join(tmpdir(), "logfile-"));
    const file = join(dir, "ctr.log");
    await writeFile(file, [1, 2, 3, 4, 5].map((i) => line(i, `l${i}`)).join(""));
    const ac = new AbortController();
    const done = () => true;
    expect(
      await collect(followLogFile(file, { signal: ac.signal, finished: done, tail: 2 })),
    ).toEqual(["l4", "l5"]);
    expect(
      await collect(followLogFile(file, { signal: ac.signal, finished: done, tail: 0 })),
    ).toEqual([]);
    expect(
      await collect(
        followLogFile(file, {
          signal: ac.signal,
          finished: done,
          sinceNs: timeToNs("2026-11-21T02:00:03.000000001Z"),
        }),
      ),
    ).toEqual(["l4", "l5"]);
    expect(
      await collect(
        followLogFile(file, { signal: ac.signal, finished: done, tail: 1, timestamps: true }),
      ),
    ).toEqual(["2026-11-21T02:00:05.000000001Z l5"]);
  });

  it("stops at once when aborted while waiting for more", async () => {
    dir = await mkdtemp(join(tmpdir(), "logfile-"));
    const file = join(dir, "ctr.log");
    await writeFile(file, line(1, "one"));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const t = Date.now();
    expect(
      await collect(
        followLogFile(file, { signal: ac.signal, finished: () => false, pollMs: 10_000 }),
      ),
    ).toEqual(["one"]);
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it("handles multi-byte characters split across chunks", async () => {
    dir = await mkdtemp(join(tmpdir(), "logfile-"));
    const file = join(dir, "ctr.log");
    const text = "ünïcødé ✓ ".repeat(50);
    await writeFile(file, line(1, text) + line(2, text));
    const out = await collect(
      followLogFile(file, {
        signal: new AbortController().signal,
        finished: () => true,
        chunkBytes: 7,
      }),
    );
    expect(out).toEqual([text, text]);
  });
});
