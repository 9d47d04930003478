import { readFile } from "node:fs/promises";
import type { Transport } from "@connectrpc/connect";
import type { CliIo, GlobalArgs } from "./cli.js";
import type { Config, NodeConfig } from "./config.js";
import type { Context, ImageTools } from "./context.js";
import { configError, usageError } from "./errors.js";
import { loadConfig } from "./load-config.js";
import { colorEnabled, makeStyle } from "./output.js";
import { readToken } from "./token.js";

/** The context of a real run: mcp.toml from disk, the token file, TLS to the agents. */
export function createContext(io: CliIo, globals: GlobalArgs): Context {
  if (!Number.isFinite(globals.timeout) || globals.timeout <= 0) {
    throw usageError(`--timeout must be a positive number of seconds, not ${globals.timeout}`);
  }
  let config: Promise<Config> | undefined;
  let ca: Promise<string | undefined> | undefined;
  let token: Promise<string> | undefined;
  const transports = new Map<string, { transport: Transport; close(): void }>();

  const getConfig = () => {
    config ??= loadConfig({ flag: globals.config, env: io.env, home: io.home, cwd: io.cwd });
    return config;
  };
  const getCa = async (): Promise<string | undefined> => {
    const cfg = await getConfig();
    const path = cfg.tls.caCert;
    if (!path) return undefined;
    ca ??= readFile(path, "utf8").catch((e: unknown) => {
      throw configError(
        `cannot read the CA certificate ${path} ([tls] ca_cert in ${cfg.path}): ${(e as { code?: string }).code ?? e}`,
        "point [tls] ca_cert (or MCP_TLS_CA_CERT) at the PEM of the CA that signed the agents' certificates",
        e,
      );
    });
    return ca;
  };

  return {
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    env: io.env,
    cwd: io.cwd,
    home: io.home,
    style: makeStyle(!globals.json && colorEnabled(io.env, io.stdout.isTTY === true)),
    errStyle: makeStyle(colorEnabled(io.env, io.stderr.isTTY === true)),
    json: globals.json,
    timeoutMs: globals.timeout * 1000,
    config: getConfig,
    async transport(node: NodeConfig): Promise<Transport> {
      const existing = transports.get(node.name);
      if (existing) return existing.transport;
      const cfg = await getConfig();
      token ??= readToken({ env: io.env, path: cfg.tokenPath });
      const [tok, caPem] = await Promise.all([token, getCa()]);
      const { createAgentTransport } = await import("./transport.js");
      const made = createAgentTransport({ address: node.address, ca: caPem, token: tok });
      transports.set(node.name, made);
      return made.transport;
    },
    async images(): Promise<ImageTools> {
      const cfg = await getConfig();
      const { createImageTools } = await import("./image-tools.js");
      return createImageTools(cfg, io.env);
    },
    close() {
      for (const t of transports.values()) t.close();
      transports.clear();
    },
  };
}
