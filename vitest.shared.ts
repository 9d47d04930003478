import { defineConfig } from "vitest/config";

// Every package writes a JSON report beside itself; scripts/test-summary.mjs adds them up.
export function packageTestConfig(options: { testTimeout?: number; include?: string[] } = {}) {
  return defineConfig({
    test: {
      include: options.include ?? ["test/**/*.test.ts", "src/**/*.test.ts"],
      testTimeout: options.testTimeout ?? 10_000,
      reporters: ["default", "json"],
      outputFile: { json: "test-results.json" },
    },
  });
}
