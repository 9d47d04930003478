import { readFile } from "node:fs/promises";
import { isMciasUnauthorized, isMciasUnavailable } from "@mcp/mcias-client";
import type { Context } from "../context.js";
import { authError, CliError, configError, ExitCode, isCliError, usageError } from "../errors.js";
import { writeToken } from "../token.js";

export interface LoginArgs {
  username?: string | undefined;
  passwordStdin: boolean;
  totp?: string | undefined;
}

/** The part of an MCIAS client that login needs. */
export interface LoginClient {
  login(req: {
    username: string;
    password: string;
    totpCode?: string;
  }): Promise<{ token: string; expiresAt?: Date | string | undefined }>;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * `mcp login`: asks MCIAS for a token and writes it beside mcp.toml with mode 0600. The password
 * comes from a hidden prompt, or from stdin with --password-stdin (only its first line, with
 * the newline removed, so `echo "$PW" | mcp login --password-stdin` works).
 */
export async function login(
  ctx: Context,
  args: LoginArgs,
  _signal?: AbortSignal,
  client?: LoginClient,
): Promise<number> {
  const config = await ctx.config();
  const serverUrl = config.mcias.serverUrl;
  if (!serverUrl) {
    throw configError(
      `[mcias] server_url is not set in ${config.path}`,
      'add [mcias] server_url = "https://mcias.example:8443"',
    );
  }
  const interactive = ctx.stdin.isTTY === true;
  let username = args.username ?? ctx.env.MCP_USERNAME;
  if (!username) {
    if (!interactive)
      throw usageError(
        "no username",
        "pass --username (stdin is not a terminal, so mcp cannot ask)",
      );
    const { default: input } = await import("@inquirer/input");
    username = await input({ message: "MCIAS username:" });
  }
  let password: string;
  if (args.passwordStdin) {
    password = (await readAll(ctx.stdin)).split(/\r?\n/)[0] ?? "";
  } else {
    if (!interactive)
      throw usageError("no password", "pass --password-stdin and pipe the password in");
    const { default: pw } = await import("@inquirer/password");
    password = await pw({ message: "Password:", mask: false });
  }
  if (password === "") throw usageError("the password is empty");

  const mcias =
    client ??
    (await defaultClient(
      serverUrl,
      config.mcias.caCert,
      config.mcias.serviceName ?? "mcp",
      ctx.timeoutMs,
    ));
  let res: { token: string; expiresAt?: Date | string | undefined };
  try {
    res = await mcias.login({ username, password, ...(args.totp ? { totpCode: args.totp } : {}) });
  } catch (e) {
    throw loginError(e, serverUrl);
  }
  await writeToken(config.tokenPath, res.token);
  const until = res.expiresAt ? `, valid until ${new Date(res.expiresAt).toISOString()}` : "";
  ctx.stdout.write(`logged in as ${username}; token saved to ${config.tokenPath}${until}\n`);
  return 0;
}

/** MCIAS's answer as an operator can act on it. */
function loginError(e: unknown, serverUrl: string): CliError {
  if (isCliError(e)) return e;
  if (isMciasUnauthorized(e)) {
    return authError("MCIAS refused the login", "check the username, password and TOTP code", e);
  }
  const unavailable = isMciasUnavailable(e);
  return new CliError(
    `could not log in at ${serverUrl}: ${e instanceof Error ? e.message : String(e)}`,
    {
      exitCode: unavailable ? ExitCode.Unavailable : ExitCode.Failed,
      hint: unavailable
        ? "check [mcias] server_url and ca_cert in mcp.toml, and that MCIAS is up"
        : "MCIAS answered something unexpected; check [mcias] server_url",
      cause: e,
    },
  );
}

async function defaultClient(
  serverUrl: string,
  caCert: string | undefined,
  serviceName: string,
  timeoutMs: number,
): Promise<LoginClient> {
  let ca: string | undefined;
  if (caCert) {
    try {
      ca = await readFile(caCert, "utf8");
    } catch (e) {
      throw configError(
        `cannot read the MCIAS CA certificate ${caCert}: ${(e as { code?: string }).code ?? e}`,
        "fix [mcias] ca_cert in mcp.toml (or MCP_MCIAS_CA_CERT)",
        e,
      );
    }
  }
  const { createMciasClient } = await import("@mcp/mcias-client");
  try {
    return createMciasClient({ baseUrl: serverUrl, serviceName, timeoutMs, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw configError(`[mcias] server_url "${serverUrl}" is not a URL`, undefined, e);
  }
}
