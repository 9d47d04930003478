// Reads the server name (SNI) out of the bytes a TLS client sends first, without terminating
// TLS, so that an L4 route can pass the untouched stream through to its backend. Pure: give it
// everything received so far, it says whether it needs more bytes.
//
// A ClientHello can arrive in several TCP reads and, per RFC 8446 §5.1, a handshake message may
// be split across several TLS records, so records are reassembled before the message is read.

export type SniResult =
  | { status: "incomplete" }
  | { status: "ok"; serverName: string | undefined }
  | { status: "invalid"; reason: string };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
const MAX_RECORD_PAYLOAD = 16_384 + 2_048;
// A ClientHello with post-quantum key shares is a few KiB; anything near this is abuse.
export const MAX_CLIENT_HELLO = 64 * 1024;

const INCOMPLETE: SniResult = { status: "incomplete" };

function invalid(reason: string): SniResult {
  return { status: "invalid", reason };
}

export function parseClientHelloSni(data: Uint8Array): SniResult {
  const handshake = reassembleHandshake(data);
  if ("status" in handshake) return handshake;
  return readServerName(handshake.body);
}

function reassembleHandshake(data: Uint8Array): SniResult | { body: Uint8Array } {
  const parts: Uint8Array[] = [];
  let have = 0;
  let need: number | undefined;
  let offset = 0;
  for (;;) {
    if (data.length - offset < RECORD_HEADER) {
      // Reject early on the first byte so that plain HTTP or garbage is refused at once.
      if (offset < data.length && data[offset] !== CONTENT_HANDSHAKE) {
        return invalid("not a TLS handshake record");
      }
      return INCOMPLETE;
    }
    const type = data[offset]!;
    const major = data[offset + 1]!;
    const length = (data[offset + 3]! << 8) | data[offset + 4]!;
    if (type !== CONTENT_HANDSHAKE) return invalid("not a TLS handshake record");
    if (major !== 3) return invalid("unsupported TLS record version");
    if (length === 0 || length > MAX_RECORD_PAYLOAD) return invalid("bad TLS record length");
    const start = offset + RECORD_HEADER;
    if (data.length < start + length) return INCOMPLETE;
    parts.push(data.subarray(start, start + length));
    have += length;
    offset = start + length;
    if (need === undefined && have >= 4) {
      const head = concat(parts, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO)
        return invalid("first handshake message is not a ClientHello");
      need = 4 + ((head[1]! << 16) | (head[2]! << 8) | head[3]!);
      if (need > MAX_CLIENT_HELLO) return invalid("ClientHello too large");
    }
    if (need !== undefined && have >= need) {
      return { body: concat(parts, need).subarray(4) };
    }
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    if (at >= length) break;
    const take = Math.min(part.length, length - at);
    out.set(part.subarray(0, take), at);
    at += take;
  }
  return out;
}

function readServerName(body: Uint8Array): SniResult {
  const r = new Reader(body);
  // legacy_version, random
  if (!r.skip(2 + 32)) return invalid("truncated ClientHello");
  const sessionId = r.u8();
  if (sessionId === undefined || sessionId > 32 || !r.skip(sessionId)) {
    return invalid("bad ClientHello session id");
  }
  const suites = r.u16();
  if (suites === undefined || suites % 2 !== 0 || !r.skip(suites)) {
    return invalid("bad ClientHello cipher suites");
  }
  const compression = r.u8();
  if (compression === undefined || !r.skip(compression)) {
    return invalid("bad ClientHello compression methods");
  }
  // Extensions are optional in old ClientHellos; without them there is no SNI.
  if (r.remaining() === 0) return { status: "ok", serverName: undefined };
  const extLength = r.u16();
  if (extLength === undefined || extLength !== r.remaining()) {
    return invalid("bad ClientHello extensions length");
  }
  let serverName: string | undefined;
  let seen = false;
  while (r.remaining() > 0) {
    const type = r.u16();
    const length = r.u16();
    if (type === undefined || length === undefined || length > r.remaining()) {
      return invalid("bad ClientHello extension");
    }
    const ext = r.take(length)!;
    if (type !== EXT_SERVER_NAME) continue;
    if (seen) return invalid("duplicate server_name extension");
    seen = true;
    const parsed = readServerNameExtension(ext);
    if (typeof parsed !== "string") return parsed;
    serverName = parsed;
  }
  return { status: "ok", serverName };
}

function readServerNameExtension(ext: Uint8Array): string | SniResult {
  const r = new Reader(ext);
  const listLength = r.u16();
  if (listLength === undefined || listLength !== r.remaining() || listLength === 0) {
    return invalid("bad server_name list");
  }
  let host: string | undefined;
  while (r.remaining() > 0) {
    const nameType = r.u8();
    const length = r.u16();
    if (nameType === undefined || length === undefined || length > r.remaining()) {
      return invalid("bad server_name entry");
    }
    const name = r.take(length)!;
    if (nameType !== NAME_TYPE_HOST) continue;
    // RFC 6066 §3: at most one name of each type.
    if (host !== undefined) return invalid("more than one host_name in server_name");
    if (length === 0) return invalid("empty host_name in server_name");
    for (const byte of name) {
      // Printable ASCII only; a hostname with control bytes or spaces is never routable.
      if (byte <= 0x20 || byte >= 0x7f) return invalid("host_name is not printable ASCII");
    }
    host = Buffer.from(name).toString("ascii");
  }
  if (host === undefined) return invalid("server_name has no host_name");
  return host.toLowerCase().replace(/\.$/, "");
}

class Reader {
  #at = 0;
  readonly #data: Uint8Array;
  constructor(data: Uint8Array) {
    this.#data = data;
  }
  remaining(): number {
    return this.#data.length - this.#at;
  }
  skip(n: number): boolean {
    if (n > this.remaining()) return false;
    this.#at += n;
    return true;
  }
  u8(): number | undefined {
    if (this.remaining() < 1) return undefined;
    return this.#data[this.#at++];
  }
  u16(): number | undefined {
    if (this.remaining() < 2) return undefined;
    const v = (this.#data[this.#at]! << 8) | this.#data[this.#at + 1]!;
    this.#at += 2;
    return v;
  }
  take(n: number): Uint8Array | undefined {
    if (n > this.remaining()) return undefined;
    const out = this.#data.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
}
