import { copyFileSync } from "node:fs";
import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/bin.ts"],
  format: ["esm"],
  target: "node22",
  dts: { entry: "src/index.ts" },
  clean: true,
  sourcemap: true,
  splitting: true,
  // yargs and smol-toml are bundled (both are devDependencies; the package has no run-time
  // dependencies). Loading one file instead of each library's many modules takes
  // `mcp-servicedef --help` from ~130 to ~90 ms and `import "@mcp/servicedef"` down by
  // ~6 ms (best of 15-25 runs). smol-toml's BSD licence header is kept in the bundle;
  // yargs' locale files are not shipped, so its messages fall back to English.
  noExternal: ["yargs", "smol-toml"],
  // The JSON Schema ships beside the code as `@mcp/servicedef/schema.json` for editors.
  onSuccess: async () => {
    copyFileSync("gen/schema.json", "dist/schema.json");
  },
});
