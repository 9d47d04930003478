import { parse as parseToml } from "smol-toml";
import schemaJson from "../gen/schema.json" with { type: "json" };
import { RULES } from "./codes.ts";
import { Reporter } from "./report.ts";
import { type LooseDef, runRules } from "./rules.ts";
import { type SchemaNode, walk } from "./structure.ts";
import type { Diagnostic, ParseOptions, ParseResult, ServiceDef } from "./types.ts";

/** No service definition comes near this; bigger input is refused before parsing. */
export const MAX_SOURCE_BYTES = 1024 * 1024;
/** Nesting beyond this is refused by the TOML parser (a definition nests 4 deep). */
const MAX_DEPTH = 64;

const schema = schemaJson as unknown as SchemaNode;

function fileDiagnostic(
  rule: "syntax" | "encoding" | "file-too-large",
  message: string,
  line = 1,
  column = 1,
): Diagnostic {
  const info = RULES[rule];
  return { code: info.code, rule, severity: info.severity, message, path: "", line, column };
}

function result(
  diagnostics: Diagnostic[],
  value: ServiceDef | undefined,
  filename: string | undefined,
): ParseResult {
  const ok = !diagnostics.some((d) => d.severity === "error");
  return {
    ok,
    value: ok ? value : undefined,
    diagnostics,
    ...(filename === undefined ? {} : { filename }),
  };
}

function check(
  data: unknown,
  source: string | undefined,
): { value: ServiceDef | undefined; diagnostics: Diagnostic[] } {
  const withSource = source !== undefined;
  const report = new Reporter(source);
  const walked = walk(schema, data, [], report) as LooseDef | undefined;
  if (walked) runRules(walked, report);
  const diagnostics = report.diagnostics;
  if (withSource) diagnostics.sort((a, b) => a.line - b.line || a.column - b.column);
  else {
    for (const d of diagnostics) {
      d.line = 0;
      d.column = 0;
    }
  }
  let value: ServiceDef | undefined;
  if (walked && walked.name !== undefined) {
    value = { ...walked, path: walked.path ?? walked.name } as ServiceDef;
    // Keep the key order of the reference: name, node, active, path, build, components.
    value = {
      name: value.name,
      node: value.node,
      active: value.active,
      path: value.path,
      ...(value.build ? { build: value.build } : {}),
      ...(value.components ? { components: value.components } : {}),
    };
  }
  return { value, diagnostics };
}

/**
 * Parses and validates a service definition. Never throws: every problem of the text,
 * syntax or meaning, comes back as a diagnostic with its key path, line and column.
 */
export function parse(text: string, options: ParseOptions = {}): ParseResult {
  const filename = options.filename;
  if (typeof text !== "string") {
    return result([fileDiagnostic("encoding", "input is not text")], undefined, filename);
  }
  if (text.length > MAX_SOURCE_BYTES) {
    return result(
      [
        fileDiagnostic(
          "file-too-large",
          `the file has ${text.length} characters; a service definition has at most ${MAX_SOURCE_BYTES}`,
        ),
      ],
      undefined,
      filename,
    );
  }
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let data: unknown;
  try {
    data = parseToml(src, { maxDepth: MAX_DEPTH });
  } catch (e) {
    const err = e as { message?: unknown; line?: unknown; column?: unknown };
    const message = typeof err.message === "string" ? err.message : String(e);
    const first = message.split("\n")[0]?.replace(/^Invalid TOML document: /, "") ?? "invalid TOML";
    const line = typeof err.line === "number" ? err.line : 1;
    const column = typeof err.column === "number" ? err.column : 1;
    return result(
      [fileDiagnostic("syntax", `TOML syntax: ${first}`, line, column)],
      undefined,
      filename,
    );
  }
  const { value, diagnostics } = check(data, src);
  return result(diagnostics, value, filename);
}

/**
 * Validates an already-parsed object (e.g. a spec received over RPC). Same rules as
 * `parse`; there is no source, so every diagnostic has line and column 0.
 */
export function validate(object: unknown): ParseResult {
  const { value, diagnostics } = check(object, undefined);
  return result(diagnostics, value, undefined);
}

/** Byte offset of the first invalid UTF-8 sequence, or -1 when the bytes are valid UTF-8. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Continuation bytes and the smallest code point each lead byte may encode.
    const n =
      b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    if (n === 0) return i;
    const min = [0, 0x80, 0x800, 0x10000][n] as number;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Parses bytes: checks size and UTF-8 first, so a binary file gets one clear diagnostic. */
export function parseBytes(bytes: Uint8Array, options: ParseOptions = {}): ParseResult {
  if (bytes.length > MAX_SOURCE_BYTES) return tooLarge(bytes.length, options.filename);
  const bad = firstInvalidUtf8(bytes);
  if (bad >= 0) {
    const before = new TextDecoder().decode(bytes.subarray(0, bad));
    const lines = before.split("\n");
    const line = lines.length;
    const column = (lines.at(-1) as string).length + 1;
    return result(
      [
        fileDiagnostic(
          "encoding",
          `not valid UTF-8: byte 0x${(bytes[bad] as number).toString(16).padStart(2, "0")} at offset ${bad}`,
          line,
          column,
        ),
      ],
      undefined,
      options.filename,
    );
  }
  return parse(new TextDecoder().decode(bytes), options);
}

export function tooLarge(bytes: number, filename: string | undefined): ParseResult {
  return result(
    [
      fileDiagnostic(
        "file-too-large",
        `the file has ${bytes} bytes; a service definition has at most ${MAX_SOURCE_BYTES}`,
      ),
    ],
    undefined,
    filename,
  );
}
