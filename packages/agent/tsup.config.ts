import { defineConfig } from "tsup";

export default defineConfig([
  {
    entry: ["src/index.ts"],
    format: ["esm"],
    target: "node22",
    dts: true,
    clean: true,
    sourcemap: true,
  },
  {
    // The daemon is bundled (all JS dependencies inlined) so it starts fast and its
    // footprint is what it uses; better-sqlite3 stays external for its native addon.
    entry: { bin: "src/bin.ts" },
    format: ["esm"],
    // Chunks for what main.ts imports lazily (Podman, MCIAS, platform clients).
    splitting: true,
    target: "node22",
    sourcemap: true,
    noExternal: [/^(?!better-sqlite3$).*/],
    external: ["better-sqlite3"],
    banner: {
      js: "import { createRequire as __mcpCreateRequire } from 'node:module'; const require = __mcpCreateRequire(import.meta.url);",
    },
  },
]);
