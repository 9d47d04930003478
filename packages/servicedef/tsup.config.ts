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
  // The JSON Schema ships beside the code as `@mcp/servicedef/schema.json` for editors.
  onSuccess: async () => {
    copyFileSync("gen/schema.json", "dist/schema.json");
  },
});
