import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execa } from "execa";
import {
  type Arch,
  type Artifact,
  artifactFileName,
  checkVersion,
  nodeArch,
  sha256File,
} from "./artifact.ts";
import { ArtifactError } from "./errors.ts";

export interface BuildArtifactOptions {
  /** The @mcp/agent package directory; its `dist/bin.js` must be built. */
  agentDir: string;
  arch: Arch;
  /** Release version (e.g. `git describe --tags --always --dirty`). */
  version: string;
  /** Where the `.tar.gz` and `.sha256` go (created). */
  outDir: string;
  /**
   * Run the staged artifact's self-check (load the SQLite binding, `--version`) with this
   * Node binary when the target arch is the build machine's. Default: process.execPath.
   * `false` skips it.
   */
  smokeTestNode?: string | false;
}

export interface BuiltArtifact extends Artifact {
  /** What the smoke test printed, when it ran. */
  selftest?: { version: string; node: string; arch: string; sqlite: string };
}

/**
 * The launcher resolves its own location through symlinks (/srv/mcp/mcp-agent →
 * current/mcp-agent → versions/<v>/mcp-agent) so the bundle beside it is found.
 */
const LAUNCHER = `#!/bin/sh
# mcp-agent release launcher: runs the bundled agent with the Node.js (>= 22) found on
# PATH, or the one named by MCP_AGENT_NODE.
dir=$(dirname "$(readlink -f "$0")")
exec "\${MCP_AGENT_NODE:-node}" "$dir/lib/entry.mjs" "$@"
`;

/**
 * Checks the Node version before the bundle is parsed (an old Node fails on its syntax with
 * an unhelpful message), and answers `artifact-selftest` by opening an in-memory database
 * through the shipped native binding, which is the part most likely to be wrong.
 */
const ENTRY = `import { readFileSync } from "node:fs";
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(\`mcp-agent: needs Node.js 22 or newer; \${process.execPath} is \${process.version} (set MCP_AGENT_NODE)\\n\`);
  process.exit(2);
}
if (process.argv[2] === "artifact-selftest") {
  const { createRequire } = await import("node:module");
  const Database = createRequire(import.meta.url)("better-sqlite3");
  const db = new Database(":memory:");
  const sqlite = db.prepare("select sqlite_version() as v").get().v;
  db.close();
  const manifest = JSON.parse(readFileSync(new URL("../manifest.json", import.meta.url), "utf8"));
  process.stdout.write(\`\${JSON.stringify({ version: manifest.version, node: process.version, arch: process.arch, sqlite })}\\n\`);
  process.exit(0);
}
await import("./bin.js");
`;

// esbuild inlines the agent's package.json as \`var package_default = { name, version, ...}\`;
// AGENT_VERSION (what NodeInfo and /healthz report) is read from it.
const STAMP_RE = /(var package_default = \{\s*name: "@mcp\/agent",\s*version: )"[^"\n]*"/g;

/**
 * Writes the release version into the bundled agent, so a running agent reports the
 * artifact it came from and an upgrade can tell the new process from the old one. Fails
 * unless the inlined package.json is found exactly once.
 */
export function stampVersion(bundle: string, version: string): string {
  const matches = bundle.match(STAMP_RE)?.length ?? 0;
  if (matches !== 1) {
    throw new ArtifactError(
      `cannot stamp the version into the agent bundle: found the inlined @mcp/agent package.json ${matches} times (expected 1)`,
    );
  }
  return bundle.replace(STAMP_RE, `$1${JSON.stringify(checkVersion(version))}`);
}

// esbuild writes its own chunk imports with double quotes; bundled JSDoc such as
// \`@param {import('./client.js')}\` uses single ones and must not be followed.
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)"(\.\/[^"]+\.js)"/g;

/** The relative ES modules reachable from `entry` in `dir` (esbuild chunks), with their text. */
async function moduleGraph(
  dir: string,
  entry: string,
  entryText: string,
): Promise<Map<string, string>> {
  const seen = new Map<string, string>([[entry, entryText]]);
  const queue = [entry];
  while (queue.length > 0) {
    const text = seen.get(queue.shift() as string) as string;
    for (const m of text.matchAll(IMPORT_RE)) {
      const name = (m[1] as string).slice(2);
      if (seen.has(name) || name.includes("/")) continue;
      seen.set(name, await readFile(join(dir, name), "utf8"));
      queue.push(name);
    }
  }
  return seen;
}

function hostArch(): Arch | undefined {
  return process.arch === "x64" ? "amd64" : process.arch === "arm64" ? "arm64" : undefined;
}

/**
 * Builds `mcp-agent-<version>-linux-<arch>.tar.gz` (+ `.sha256`): the tsup bundle of the
 * agent (every pure-JS dependency inlined), better-sqlite3's JS and its prebuilt N-API
 * binding for `arch` (glibc and musl) taken from the better-sqlite3 npm package, the
 * database migrations, and a `mcp-agent` launcher. Runs on any Node ≥ 22 with nothing else
 * installed.
 */
export async function buildAgentArtifact(o: BuildArtifactOptions): Promise<BuiltArtifact> {
  const version = checkVersion(o.version);
  const bin = join(o.agentDir, "dist", "bin.js");
  let bundle: string;
  try {
    bundle = await readFile(bin, "utf8");
  } catch (e) {
    throw new ArtifactError(
      `${bin} is missing: build the agent first (pnpm --filter @mcp/agent build)`,
      {
        cause: e,
      },
    );
  }
  let sqliteDir: string;
  try {
    sqliteDir = dirname(
      createRequire(join(resolve(o.agentDir), "package.json")).resolve(
        "better-sqlite3/package.json",
      ),
    );
  } catch (e) {
    throw new ArtifactError(`better-sqlite3 is not installed beside ${o.agentDir} (pnpm install)`, {
      cause: e,
    });
  }
  const sqlitePkg = JSON.parse(await readFile(join(sqliteDir, "package.json"), "utf8")) as {
    version: string;
  };
  const na = nodeArch(o.arch);
  const bindings = [`linux-${na}.node`, `linuxmusl-${na}.node`];

  const stage = await mkdtemp(join(tmpdir(), "mcp-agent-artifact-"));
  try {
    const lib = join(stage, "lib");
    const sq = join(lib, "node_modules", "better-sqlite3");
    await mkdir(join(sq, "prebuilds"), { recursive: true });
    // The bin may be split into chunks (static and lazy imports); ship its whole graph.
    const files = await moduleGraph(dirname(bin), "bin.js", bundle);
    let stamped = 0;
    for (const [name, text] of files) {
      const hasPkg = (text.match(STAMP_RE)?.length ?? 0) > 0;
      if (hasPkg) stamped++;
      await writeFile(join(lib, name), hasPkg ? stampVersion(text, version) : text);
    }
    if (stamped !== 1) {
      throw new ArtifactError(
        `cannot stamp the version into the agent bundle: the inlined @mcp/agent package.json is in ${stamped} of its files (expected 1)`,
      );
    }
    await writeFile(join(lib, "entry.mjs"), ENTRY);
    await cp(join(o.agentDir, "drizzle"), join(lib, "drizzle"), { recursive: true });
    await cp(join(sqliteDir, "lib"), join(sq, "lib"), { recursive: true });
    for (const f of ["package.json", "LICENSE"]) await copyFile(join(sqliteDir, f), join(sq, f));
    for (const b of bindings) {
      try {
        await copyFile(join(sqliteDir, "prebuilds", b), join(sq, "prebuilds", b));
      } catch (e) {
        throw new ArtifactError(
          `better-sqlite3 ${sqlitePkg.version} has no prebuilt binding prebuilds/${b} (13.x ships them)`,
          { cause: e },
        );
      }
    }
    await writeFile(join(stage, "mcp-agent"), LAUNCHER);
    await chmod(join(stage, "mcp-agent"), 0o755);
    await writeFile(
      join(stage, "manifest.json"),
      `${JSON.stringify({ name: "mcp-agent", version, arch: o.arch, node: ">=22", betterSqlite3: sqlitePkg.version }, null, 2)}\n`,
    );

    let selftest: BuiltArtifact["selftest"];
    const node = o.smokeTestNode === undefined ? process.execPath : o.smokeTestNode;
    if (node !== false && hostArch() === o.arch) {
      const env = { ...process.env, MCP_AGENT_NODE: node };
      const st = await execa(join(stage, "mcp-agent"), ["artifact-selftest"], {
        env,
        timeout: 30_000,
        reject: false,
      });
      if (st.exitCode !== 0) {
        throw new ArtifactError(
          `the staged artifact failed its self-test: ${String(st.stderr).trim()}`,
        );
      }
      selftest = JSON.parse(String(st.stdout));
      const v = await execa(join(stage, "mcp-agent"), ["--version"], {
        env,
        timeout: 30_000,
        reject: false,
      });
      if (String(v.stdout).trim() !== version) {
        throw new ArtifactError(
          `the staged agent reports version "${String(v.stdout).trim()}", expected ${version}`,
        );
      }
    }

    await mkdir(o.outDir, { recursive: true });
    const name = artifactFileName(version, o.arch);
    const out = join(o.outDir, name);
    // Sorted, owner-less, fixed-mtime entries: the same inputs give the same tar stream.
    await execa(
      "tar",
      [
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--numeric-owner",
        "--mtime=@0",
        "-C",
        stage,
        "-czf",
        out,
        ".",
      ],
      { timeout: 120_000, env: { ...process.env, GZIP: "-n" } },
    );
    const sha256 = await sha256File(out);
    await writeFile(`${out}.sha256`, `${sha256}  ${name}\n`);
    return { path: out, version, arch: o.arch, sha256, ...(selftest ? { selftest } : {}) };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
