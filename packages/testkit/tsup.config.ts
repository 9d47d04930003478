import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  target: "node22",
  dts: { entry: "src/index.ts" },
  clean: true,
  sourcemap: true,
});
