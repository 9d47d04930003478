// The only file I/O of the library. Kept apart from parse.ts so that the agent, which
// receives specs over RPC, can validate without touching the file system.
import { readFile, stat } from "node:fs/promises";
import { MAX_SOURCE_BYTES, parseBytes, tooLarge } from "./parse.ts";
import type { ParseResult } from "./types.ts";

const LOAD_ERROR = Symbol.for("@mcp/servicedef/LoadError");

/** A file that could not be read at all (missing, a directory, a FIFO, no permission). */
export class LoadError extends Error {
  override readonly name = "LoadError";
  readonly [LOAD_ERROR] = true;
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

export function isLoadError(e: unknown): e is LoadError {
  return typeof e === "object" && e !== null && (e as Record<symbol, unknown>)[LOAD_ERROR] === true;
}

function reason(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case "ENOENT":
      return "no such file (or a dangling symlink)";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "too many levels of symbolic links";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EISDIR":
      return "is a directory";
    default:
      return typeof code === "string" ? `cannot read (${code})` : "cannot read";
  }
}

/**
 * Reads and parses a service definition file. Problems with the content come back as
 * diagnostics; a file that cannot be read rejects with a LoadError.
 */
export async function loadFile(path: string): Promise<ParseResult> {
  let size: number;
  try {
    // stat before open: opening a FIFO for reading would block until a writer appears.
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    if (!st.isFile()) throw new LoadError(path, "not a regular file");
    size = st.size;
  } catch (e) {
    if (isLoadError(e)) throw e;
    throw new LoadError(path, reason(e), { cause: e });
  }
  if (size > MAX_SOURCE_BYTES) {
    return tooLarge(size, path);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new LoadError(path, reason(e), { cause: e });
  }
  return parseBytes(bytes, { filename: path });
}
