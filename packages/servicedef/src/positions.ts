// Where each key and value of a TOML document sits, by key path. The TOML parser gives
// values but no positions, and a diagnostic about `components[1].routes[0].mode` must
// point at the line an operator wrote. This scanner runs only on text the parser already
// accepted, so it can be lenient: it tracks tables, arrays of tables, dotted keys, inline
// arrays and tables, and skips strings and comments correctly. It never throws to its
// caller; on anything surprising the map is just less complete and positions fall back to
// the nearest enclosing key. (docs/decisions/0003-diagnostic-positions.md)

export type PathSegment = string | number;

export interface Pos {
  line: number;
  column: number;
}

export interface PositionEntry {
  key?: Pos;
  value?: Pos;
  /** Source text of a scalar value (to tell `8443.0` from `8443`, which parse alike). */
  raw?: string;
}

export type PositionMap = Map<string, PositionEntry>;

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

export function appendPath(path: string, s: PathSegment): string {
  if (typeof s === "number") return `${path}[${s}]`;
  if (BARE_KEY.test(s)) return path === "" ? s : `${path}.${s}`;
  return `${path}[${JSON.stringify(s)}]`;
}

export function joinPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const s of segments) out = appendPath(out, s);
  return out;
}

const MAX_DEPTH = 128;

class Scanner {
  i = 0;
  readonly lineStarts: number[] = [0];
  readonly map: PositionMap = new Map();
  readonly arrayCounts = new Map<string, number>();
  readonly commentLines: number[] = [];
  table: PathSegment[] = [];

  readonly src: string;

  constructor(src: string) {
    this.src = src;
    for (let k = 0; k < src.length; k++) if (src.charCodeAt(k) === 10) this.lineStarts.push(k + 1);
  }

  pos(index: number): Pos {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: index - (this.lineStarts[lo] as number) + 1 };
  }

  entry(path: readonly PathSegment[]): PositionEntry {
    return this.entryAt(joinPath(path));
  }

  entryAt(key: string): PositionEntry {
    let e = this.map.get(key);
    if (!e) {
      e = {};
      this.map.set(key, e);
    }
    return e;
  }

  peek(offset = 0): string {
    return this.src[this.i + offset] ?? "";
  }

  skipSpaces(): void {
    while (this.peek() === " " || this.peek() === "\t") this.i++;
  }

  /** Whitespace, newlines and comments. */
  skipBlank(): void {
    for (;;) {
      const c = this.peek();
      if (c === " " || c === "\t" || c === "\r" || c === "\n") this.i++;
      else if (c === "#") this.skipComment();
      else return;
    }
  }

  skipComment(): void {
    this.commentLines.push(this.pos(this.i).line);
    while (this.i < this.src.length && this.peek() !== "\n") this.i++;
  }

  run(): void {
    while (this.i < this.src.length) {
      this.skipBlank();
      if (this.i >= this.src.length) break;
      if (this.peek() === "[") this.header();
      else this.keyValue(this.table, 0);
      this.skipSpaces();
      if (this.peek() === "#") this.skipComment();
      // Anything else left on the line is impossible in accepted TOML; move on.
      while (this.i < this.src.length && this.peek() !== "\n") this.i++;
    }
  }

  header(): void {
    const start = this.i;
    const isArray = this.peek(1) === "[";
    this.i += isArray ? 2 : 1;
    const keys = this.keys();
    this.skipSpaces();
    this.i += isArray ? 2 : 1;
    const resolved: PathSegment[] = [];
    let joined = "";
    keys.forEach((k, n) => {
      resolved.push(k.name);
      joined = appendPath(joined, k.name);
      const last = n === keys.length - 1;
      if (!last) this.entryAt(joined).key ??= this.pos(k.at);
      const count = this.arrayCounts.get(joined);
      if (last && isArray) {
        this.arrayCounts.set(joined, (count ?? 0) + 1);
        if (count === undefined) this.entryAt(joined).key ??= this.pos(start);
        resolved.push(count ?? 0);
        joined = appendPath(joined, count ?? 0);
      } else if (count !== undefined && !last) {
        resolved.push(count - 1);
        joined = appendPath(joined, count - 1);
      }
    });
    this.entryAt(joined).key ??= this.pos(start);
    this.table = resolved;
  }

  keys(): { name: string; at: number }[] {
    const out: { name: string; at: number }[] = [];
    for (;;) {
      this.skipSpaces();
      const at = this.i;
      out.push({ name: this.key(), at });
      this.skipSpaces();
      if (this.peek() !== ".") return out;
      this.i++;
    }
  }

  key(): string {
    const c = this.peek();
    if (c === '"') {
      const start = this.i;
      this.skipBasicString();
      const raw = this.src.slice(start, this.i);
      try {
        return JSON.parse(raw) as string;
      } catch {
        return raw.slice(1, -1);
      }
    }
    if (c === "'") {
      const start = this.i + 1;
      this.i = this.src.indexOf("'", start);
      if (this.i < 0) this.i = this.src.length;
      return this.src.slice(start, this.i++);
    }
    const start = this.i;
    while (/[A-Za-z0-9_-]/.test(this.peek())) this.i++;
    if (this.i === start) throw new Error("no key");
    return this.src.slice(start, this.i);
  }

  keyValue(base: readonly PathSegment[], depth: number): void {
    const keys = this.keys();
    const path = [...base];
    let joined = joinPath(base);
    for (const k of keys) {
      path.push(k.name);
      joined = appendPath(joined, k.name);
      this.entryAt(joined).key ??= this.pos(k.at);
    }
    this.skipSpaces();
    if (this.peek() === "=") this.i++;
    this.value(path, depth);
  }

  value(path: readonly PathSegment[], depth: number): void {
    if (depth > MAX_DEPTH) throw new Error("too deep");
    this.skipSpaces();
    const e = this.entry(path);
    e.value = this.pos(this.i);
    const c = this.peek();
    if (c === '"') this.skipBasicString();
    else if (c === "'") this.skipLiteralString();
    else if (c === "[") {
      this.i++;
      let index = 0;
      for (;;) {
        this.skipBlank();
        if (this.peek() === "]" || this.i >= this.src.length) break;
        this.value([...path, index++], depth + 1);
        this.skipBlank();
        if (this.peek() === ",") this.i++;
      }
      this.i++;
    } else if (c === "{") {
      this.i++;
      for (;;) {
        this.skipBlank();
        if (this.peek() === "}" || this.i >= this.src.length) break;
        this.keyValue(path, depth + 1);
        this.skipBlank();
        if (this.peek() === ",") this.i++;
      }
      this.i++;
    } else {
      const start = this.i;
      while (this.i < this.src.length && !",]}\r\n#".includes(this.peek())) this.i++;
      e.raw = this.src.slice(start, this.i).trim();
    }
  }

  skipBasicString(): void {
    if (this.src.startsWith('"""', this.i)) {
      this.i += 3;
      for (;;) {
        if (this.i >= this.src.length) return;
        const c = this.peek();
        if (c === "\\") this.i += 2;
        else if (this.src.startsWith('"""', this.i)) {
          this.i += 3;
          // Up to two quotes may close the content right before the delimiter.
          while (this.peek() === '"') this.i++;
          return;
        } else this.i++;
      }
    }
    this.i++;
    while (this.i < this.src.length) {
      const c = this.peek();
      if (c === "\\") this.i += 2;
      else if (c === '"' || c === "\n") {
        this.i++;
        return;
      } else this.i++;
    }
  }

  skipLiteralString(): void {
    if (this.src.startsWith("'''", this.i)) {
      const end = this.src.indexOf("'''", this.i + 3);
      this.i = end < 0 ? this.src.length : end + 3;
      while (this.peek() === "'") this.i++;
      return;
    }
    const end = this.src.indexOf("'", this.i + 1);
    this.i = end < 0 ? this.src.length : end + 1;
  }
}

export function scanPositions(src: string): PositionMap {
  const scanner = new Scanner(src);
  try {
    scanner.run();
  } catch {
    // A partial map is still useful; see the note at the top.
  }
  return scanner.map;
}

/** 1-based lines that hold a comment (a `#` outside strings). */
export function commentLines(src: string): number[] {
  const scanner = new Scanner(src);
  try {
    scanner.run();
  } catch {
    // As in scanPositions.
  }
  return scanner.commentLines;
}

/** Position of a path's value (or key), falling back to the nearest enclosing key. */
export function lookup(
  map: PositionMap,
  path: readonly PathSegment[],
  prefer: "key" | "value",
): Pos {
  for (let n = path.length; n > 0; n--) {
    const e = map.get(joinPath(path.slice(0, n)));
    if (!e) continue;
    const p = prefer === "value" && n === path.length ? (e.value ?? e.key) : (e.key ?? e.value);
    if (p) return p;
  }
  return { line: 1, column: 1 };
}
