import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/build-artifact-cli.ts"],
  format: ["esm"],
  target: "node22",
  dts: { entry: "src/index.ts" },
  clean: true,
  sourcemap: true,
  splitting: true,
});
