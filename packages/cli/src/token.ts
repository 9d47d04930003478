import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { authError, CliError, ExitCode } from "./errors.js";

/**
 * Cleans a token read from a file or the environment. Trailing newlines from `echo > token`
 * once broke the gRPC Authorization header on the first deployment, so whitespace around the
 * token goes; whitespace inside it cannot be a token and is refused rather than sent.
 */
export function cleanToken(raw: string, source: string): string {
  const token = raw.trim();
  if (token === "") {
    throw authError(`the token in ${source} is empty`, "run `mcp login` to get one");
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we reject
  if (/[\s\u0000-\u001f\u007f]/.test(token)) {
    throw authError(
      `the token in ${source} contains whitespace or control characters`,
      "run `mcp login` to write a fresh one",
    );
  }
  return token;
}

/** The token: `MCP_TOKEN` if set, else the token file beside mcp.toml. */
export async function readToken(opts: {
  env: Record<string, string | undefined>;
  path: string;
}): Promise<string> {
  const fromEnv = opts.env.MCP_TOKEN;
  if (fromEnv !== undefined && fromEnv !== "") return cleanToken(fromEnv, "MCP_TOKEN");
  let raw: string;
  try {
    raw = await readFile(opts.path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") {
      throw authError(
        `no token: ${opts.path} does not exist`,
        "run `mcp login`, or set MCP_TOKEN",
        e,
      );
    }
    throw authError(`cannot read the token file ${opts.path}`, "check its permissions", e);
  }
  return cleanToken(raw, opts.path);
}

/** Writes the token with mode 0600 (directory 0700), replacing the old one atomically. */
export async function writeToken(path: string, token: string): Promise<void> {
  const clean = cleanToken(token, "the login response");
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(tmp, clean, { mode: 0o600 });
    // writeFile's mode only applies to a file it creates, and umask may have narrowed it.
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (e) {
    throw new CliError(`cannot write the token to ${path}: ${(e as { code?: string }).code ?? e}`, {
      exitCode: ExitCode.Failed,
      hint: "check that the directory is writable",
      cause: e,
    });
  }
}
