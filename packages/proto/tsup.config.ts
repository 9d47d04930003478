import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/agent-v1.ts", "src/mcproxy-v1.ts"],
  format: ["esm"],
  target: "node22",
  dts: true,
  clean: true,
  sourcemap: true,
  // The runtime stays a peer so that every package shares one copy of the registry.
  external: ["@bufbuild/protobuf"],
});
