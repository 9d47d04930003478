/**
 * Following a container's k8s-file log by reading the file itself.
 *
 * `podman logs --follow` loses lines (podman#21914, 4.3 through 5.x): of a container that
 * writes fast it drops whole chunks, and of a stopped container it stops early. Measured
 * here: following a container writing 150 000 lines gave 61 452, with the last line.
 * `podman logs` without --follow reads the file whole. So a running container's log is
 * followed here: the CRI log format that conmon writes (`<RFC 3339 time> <stream> <P|F>
 * <text>`), read in chunks as the consumer pulls, polled for growth at EOF, until Podman
 * says the container has exited and the file is read to its end.
 */
import { open, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

export interface CriLine {
  /** RFC 3339 with nanoseconds, as written by conmon. */
  time: string;
  stream: "stdout" | "stderr";
  /** True for a chunk of a longer line (tag "P"); the line ends with the next "F". */
  partial: boolean;
  text: string;
}

/** One line of a k8s-file (CRI) log, or undefined if it is not one. */
export function parseCriLine(line: string): CriLine | undefined {
  const a = line.indexOf(" ");
  const b = a < 0 ? -1 : line.indexOf(" ", a + 1);
  if (b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== "stdout" && stream !== "stderr") return undefined;
  const tag = line.slice(b + 1, b + 2);
  const c = line.charAt(b + 2);
  if ((tag !== "P" && tag !== "F") || (c !== " " && c !== "")) return undefined;
  return { time: line.slice(0, a), stream, partial: tag === "P", text: line.slice(b + 3) };
}

const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Nanoseconds since the epoch of an RFC 3339 time (Go's RFC3339Nano trims zeros). */
export function timeToNs(ts: string): bigint | undefined {
  const m = TS.exec(ts);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

const DURATION = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** `since` as Podman takes it (Date, RFC 3339, or a Go duration before now) in ns. */
export function sinceToNs(since: Date | string, nowMs = Date.now()): bigint | undefined {
  if (since instanceof Date) return BigInt(since.getTime()) * 1_000_000n;
  const exact = timeToNs(since);
  if (exact !== undefined) return exact;
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(since)) {
    let ns = 0;
    for (const m of since.matchAll(DURATION)) ns += Number(m[1]) * UNIT_NS[m[2]!]!;
    return BigInt(nowMs) * 1_000_000n - BigInt(Math.round(ns));
  }
  const ms = Date.parse(since);
  return Number.isNaN(ms) ? undefined : BigInt(ms) * 1_000_000n;
}

export interface TailOptions {
  /** Only the last n lines that exist when following starts. */
  tail?: number | undefined;
  /** Only lines after this instant (ns), as Podman's --since. */
  sinceNs?: bigint | undefined;
  /** Prefix each line with its time, as `podman logs --timestamps`. */
  timestamps?: boolean | undefined;
  signal: AbortSignal;
  /** True once the container has exited: the file is then read to its end, and done. */
  finished(): boolean;
  pollMs?: number;
  chunkBytes?: number;
}

/**
 * Lines of a CRI log file as the consumer pulls them: what exists (after tail/since), then
 * what is appended, until `finished()` and end of file. Memory: one chunk, one partial
 * line, and the `tail` window.
 */
export async function* followLogFile(path: string, o: TailOptions): AsyncGenerator<string> {
  const fh = await open(path, "r");
  try {
    const startSize = (await fh.stat()).size;
    const buf = Buffer.alloc(o.chunkBytes ?? 64 * 1024);
    const decoder = new TextDecoder("utf-8");
    let pos = 0;
    let rest = "";
    let pending = ""; // text of "P" chunks waiting for their "F"
    let pendingTime = "";
    // Lines before startSize go through the tail window first.
    const windowSize = o.tail;
    let window: string[] | undefined = windowSize === undefined ? undefined : [];
    const format = (time: string, text: string) => (o.timestamps ? `${time} ${text}` : text);
    const accept = (time: string) => {
      if (o.sinceNs === undefined) return true;
      const ns = timeToNs(time);
      return ns === undefined || ns > o.sinceNs;
    };

    for (;;) {
      if (o.signal.aborted) return;
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) {
        if (window) {
          yield* window;
          window = undefined;
        }
        if (o.finished()) {
          // The container exited; conmon may still be flushing its last write.
          const size = (await fh.stat()).size;
          if (size > pos) continue;
          return;
        }
        const size = await stat(path).then(
          (s) => s.size,
          () => pos,
        );
        if (size < pos) pos = 0; // rotated or truncated: start over
        if (size <= pos) {
          try {
            await sleep(o.pollMs ?? 100, undefined, { signal: o.signal });
          } catch {
            return; // aborted
          }
        }
        continue;
      }
      const before = pos;
      pos += bytesRead;
      const text = rest + decoder.decode(buf.subarray(0, bytesRead), { stream: true });
      const lines = text.split("\n");
      rest = lines.pop() ?? "";
      for (const raw of lines) {
        const l = parseCriLine(raw);
        if (!l) continue;
        if (l.partial) {
          if (pending === "") pendingTime = l.time;
          pending += l.text;
          continue;
        }
        const time = pending === "" ? l.time : pendingTime;
        const full = pending + l.text;
        pending = "";
        if (!accept(time)) continue;
        const out = format(time, full);
        if (window && windowSize !== undefined && before < startSize) {
          if (windowSize > 0) {
            window.push(out);
            if (window.length > windowSize) window.shift();
          }
          continue;
        }
        if (window) {
          yield* window;
          window = undefined;
        }
        yield out;
      }
    }
  } finally {
    await fh.close();
  }
}
