import { ExitCode, isCliError } from "./errors.js";
import type { Style, Writer } from "./output.js";

/**
 * The one place an error becomes output: a known error prints its details, one line of cause
 * and one line of hint, and exits with its code; anything else is a bug in mcp and says so.
 * MCP_DEBUG=1 adds the stack and the cause chain, which stay out of sight otherwise because
 * they can be long and because causes may quote what the agent sent.
 */
export function reportError(
  e: unknown,
  err: Writer,
  style: Style,
  env: Record<string, string | undefined>,
): number {
  const debug = env.MCP_DEBUG === "1" || env.MCP_DEBUG === "true";
  if (isCliError(e)) {
    for (const line of e.details) err.write(`${line}\n`);
    err.write(`${style.red("error:")} ${e.message}\n`);
    if (e.hint) err.write(`${style.dim("hint:")} ${e.hint}\n`);
    if (debug) writeChain(e, err);
    return e.exitCode;
  }
  const message = e instanceof Error ? e.message : String(e);
  err.write(`${style.red("error:")} unexpected: ${message.split("\n")[0]}\n`);
  err.write(
    `${style.dim("hint:")} this is a bug in mcp; please report it with the output of the same command run with MCP_DEBUG=1\n`,
  );
  if (debug) writeChain(e, err);
  return ExitCode.Bug;
}

function writeChain(e: unknown, err: Writer): void {
  let cur: unknown = e;
  for (let depth = 0; depth < 8 && cur !== undefined && cur !== null; depth++) {
    err.write(
      `${depth === 0 ? "" : "caused by: "}${cur instanceof Error ? (cur.stack ?? cur.message) : String(cur)}\n`,
    );
    cur = cur instanceof Error ? cur.cause : undefined;
  }
}
