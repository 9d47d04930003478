import { readFileSync } from "node:fs";
import { defineConfig } from "tsup";

const { version } = JSON.parse(
  readFileSync(new URL("./package.json", import.meta.url), "utf8"),
) as {
  version: string;
};

export default defineConfig({
  entry: ["src/index.ts", "src/bin.ts"],
  format: ["esm"],
  target: "node22",
  platform: "node",
  dts: { entry: "src/index.ts" },
  clean: true,
  sourcemap: true,
  // One bundle with every dependency, split at the dynamic imports: node resolves and parses a
  // few files instead of hundreds, and a command's code loads only when it runs. This is what
  // brings `mcp --help` near plain `node` start-up (TEST-ENVIRONMENT.md: 218 ms unbundled).
  noExternal: [/.*/],
  splitting: true,
  // Some bundled CommonJS (cli-table3) calls require() for Node built-ins.
  banner: {
    js: 'import { createRequire as __mcpCreateRequire } from "node:module"; const require = __mcpCreateRequire(import.meta.url);',
  },
  define: { MCP_CLI_VERSION: JSON.stringify(version) },
});
