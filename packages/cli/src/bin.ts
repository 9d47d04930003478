#!/usr/bin/env node
import { homedir } from "node:os";
import { run } from "./cli.js";

// Ctrl-C aborts whatever stream is open; the command then ends with its own message and code.
// A second Ctrl-C exits at once.
const controller = new AbortController();
process.once("SIGINT", () => {
  controller.abort(new Error("interrupted"));
  process.once("SIGINT", () => process.exit(130));
});

const code = await run(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    home: homedir(),
  },
  { signal: controller.signal },
);
// exitCode rather than exit(): stdout may be a pipe still draining.
process.exitCode = code;
