import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/fake.ts"],
  format: ["esm"],
  target: "node22",
  dts: { entry: ["src/index.ts", "src/fake.ts"] },
  clean: true,
  sourcemap: true,
});
