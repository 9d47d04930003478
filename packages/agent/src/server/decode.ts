import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

/*
 * connect-es decodes a unary request before any interceptor runs and answers bytes it cannot
 * decode with Internal ("parse binary: …", HTTP 500) — the server's fault, by the book,
 * though the client sent garbage. Streaming requests are decoded inside the interceptors,
 * where the error map already makes that InvalidArgument. For unary methods, the handler
 * is wrapped: it reads the (bounded) body, tries the decode itself, and when it fails hands
 * the library an empty message instead and notes the failure in the call's context. The
 * interceptor after authentication turns the note into InvalidArgument — so auth still
 * comes first, and a garbage request reaches no method either way. The library then writes
 * the error in whichever protocol the call used (no wire output is rewritten).
 */

/** Why the request body could not be decoded (set by the wrapped handler). */
export const decodeErrorKey = createContextKey<string | undefined>(undefined, {
  description: "the request's decode error",
});

export type UnaryBody =
  /** The message bytes to check, and what to hand the library should they not decode. */
  | { check: Uint8Array; empty: Uint8Array }
  /** Not ours to check: JSON (the library answers InvalidArgument itself), compressed, … */
  | { check: undefined };

const PASS: UnaryBody = { check: undefined };
const EMPTY_ENVELOPE = new Uint8Array(5); // flags 0, length 0: one empty message

/**
 * Where the protobuf message is in a unary request body, per protocol. Pure. Only
 * uncompressed binary bodies are checked; a frame that does not match its length is left
 * to the library, which answers it as a protocol error (InvalidArgument).
 */
export function unaryBody(
  contentType: string,
  contentEncoding: string | null,
  body: Uint8Array,
): UnaryBody {
  const type = contentType.toLowerCase().split(";")[0]?.trim() ?? "";
  if (type === "application/proto") {
    // Connect protocol: the body is the message.
    if (contentEncoding !== null && contentEncoding !== "identity") return PASS;
    return { check: body, empty: new Uint8Array(0) };
  }
  if (
    type === "application/grpc" ||
    type === "application/grpc+proto" ||
    type === "application/grpc-web" ||
    type === "application/grpc-web+proto"
  ) {
    // gRPC and gRPC-web: one envelope, flags (bit 0: compressed) and a 32-bit length.
    if (body.byteLength < 5 || body[0] !== 0) return PASS;
    const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(1);
    if (body.byteLength !== 5 + length) return PASS;
    return { check: body.subarray(5), empty: EMPTY_ENVELOPE };
  }
  return PASS;
}

/** Decodes `bytes` as `desc`; the error text when that fails. Pure. */
export function decodeError(desc: DescMessage, bytes: Uint8Array): string | undefined {
  try {
    fromBinary(desc, bytes);
    return undefined;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return `invalid request: cannot decode ${desc.typeName}: ${why}`;
  }
}

function isByteStream(body: UniversalServerRequest["body"]): body is AsyncIterable<Uint8Array> {
  return typeof body === "object" && body !== null && Symbol.asyncIterator in body;
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Wraps a unary method's handler as described above; other handlers are returned as they
 * are. At most `maxBytes` are read ahead: a larger body is handed on untouched (chunks read
 * so far, then the rest), for the library's own limit to refuse.
 */
export function checkUnaryDecoding(handler: UniversalHandler, maxBytes: number): UniversalHandler {
  if (handler.method.methodKind !== "unary") return handler;
  const input = handler.method.input;
  async function wrapped(req: UniversalServerRequest) {
    const { body } = req;
    if (req.method !== "POST" || !isByteStream(body)) return handler(req);
    const it = body[Symbol.asyncIterator]();
    const chunks: Uint8Array[] = [];
    let total = 0;
    let ended = false;
    while (total <= maxBytes) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      chunks.push(r.value);
      total += r.value.byteLength;
    }
    if (!ended) {
      async function* replay() {
        yield* chunks;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      }
      return handler({ ...req, body: replay() });
    }
    const bytes = concat(chunks, total);
    const where = unaryBody(
      req.header.get("content-type") ?? "",
      req.header.get("content-encoding"),
      bytes,
    );
    const why = where.check === undefined ? undefined : decodeError(input, where.check);
    if (why === undefined || where.check === undefined) {
      return handler({ ...req, body: once(bytes) });
    }
    const contextValues = req.contextValues ?? createContextValues();
    contextValues.set(decodeErrorKey, why);
    return handler({ ...req, contextValues, body: once(where.empty) });
  }
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  if (bytes.byteLength > 0) yield bytes;
}

/** Fails a call whose request could not be decoded; runs after authentication. */
export function decodeCheckInterceptor(): Interceptor {
  return (next) => async (req) => {
    const why = req.contextValues.get(decodeErrorKey);
    if (why !== undefined) throw new ConnectError(why, Code.InvalidArgument);
    return next(req);
  };
}
