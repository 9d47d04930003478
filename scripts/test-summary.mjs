// Adds up the vitest JSON reports of every workspace package into one closing line,
// so CI and people see a single "N passed, N failed" for the whole suite.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const group of ["packages", "apps", "tests", "."]) {
  if (!existsSync(join(root, group))) continue;
  const dirs =
    group === "." ? ["bench"] : readdirSync(join(root, group)).map((d) => join(group, d));
  for (const dir of dirs) {
    const file = join(root, dir, "test-results.json");
    if (!existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, "utf8"));
    passed += report.numPassedTests ?? 0;
    failed += report.numFailedTests ?? 0;
    skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    for (const suite of report.testResults ?? []) {
      for (const t of suite.assertionResults ?? []) {
        if (t.status === "failed") failures.push(`${dir}: ${t.fullName}`);
      }
      if (suite.status === "failed" && (suite.assertionResults ?? []).length === 0) {
        failed += 1;
        failures.push(`${dir}: ${suite.name} (suite failed to load: ${suite.message ?? "?"})`);
      }
    }
  }
}
for (const f of failures) console.log(`FAILED ${f}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed + failed === 0) {
  console.error("test: no test ran");
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
