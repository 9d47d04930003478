import { PassThrough } from "node:stream";
import type { Transport } from "@connectrpc/connect";
import type { CliIo, ContextFactory } from "../../src/cli.ts";
import type { Config, NodeConfig } from "../../src/config.ts";
import type { Context, ImageTools } from "../../src/context.ts";
import { makeStyle, type Writer } from "../../src/output.ts";

/** A Writer that keeps what it was given. */
export class Sink implements Writer {
  chunks: string[] = [];
  isTTY = false;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  get text(): string {
    return this.chunks.join("");
  }
}

export function testConfig(nodes: NodeConfig[], over: Partial<Config> = {}): Config {
  return {
    path: "/nonexistent/mcp.toml",
    nodes,
    servicesDir: "/nonexistent/services",
    tokenPath: "/nonexistent/token",
    build: {},
    registry: {},
    mcias: {},
    tls: {},
    ...over,
  };
}

export interface TestContext extends Context {
  stdout: Sink;
  stderr: Sink;
  closed: number;
}

/** A Context over in-memory transports, one per node name. */
export function testContext(opts: {
  config: Config;
  transports: Record<string, Transport>;
  json?: boolean;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Registry and builder; default: every tag exists and nothing may be built. */
  images?: ImageTools;
}): TestContext {
  const ctx: TestContext = {
    stdout: new Sink(),
    stderr: new Sink(),
    stdin: new PassThrough(),
    env: opts.env ?? {},
    cwd: "/",
    home: "/nonexistent",
    style: makeStyle(false),
    errStyle: makeStyle(false),
    json: opts.json ?? false,
    timeoutMs: opts.timeoutMs ?? 2000,
    closed: 0,
    config: async () => opts.config,
    transport: async (node) => {
      const t = opts.transports[node.name];
      if (!t) throw new Error(`test: no transport for ${node.name}`);
      return t;
    },
    images: async () => opts.images ?? allPresent,
    close() {
      ctx.closed++;
    },
  };
  return ctx;
}

/** Io plus a context factory, for driving `run()` as the shell would. */
export function testRun(ctx: TestContext): { io: CliIo; context: ContextFactory } {
  const io: CliIo = {
    stdout: ctx.stdout as unknown as CliIo["stdout"],
    stderr: ctx.stderr as unknown as CliIo["stderr"],
    stdin: ctx.stdin,
    env: ctx.env,
    cwd: ctx.cwd,
    home: ctx.home,
  };
  return {
    io,
    context: (_io, globals) => {
      ctx.json = globals.json;
      ctx.timeoutMs = globals.timeout * 1000;
      return ctx;
    },
  };
}

/** The registry of unit tests that do not care about images: every tag is there. */
export const allPresent: ImageTools = {
  check: async (refs) => refs.map((ref) => ({ ref, exists: true })),
  build: async (t) => {
    throw new Error(`test: unexpected build of ${t.image}`);
  },
  push: async (t) => {
    throw new Error(`test: unexpected push of ${t.image}`);
  },
  close: async () => {},
};
