#!/usr/bin/env node
import { homedir } from "node:os";
import { run } from "./cli.js";

// Ctrl-C aborts whatever stream is open, so the command can end with its own message and code
// (`logs -f` ends with 0). Whatever is still running a second later, or at a second Ctrl-C
// (a unary call, a prompt), exits 130.
const controller = new AbortController();
process.once("SIGINT", () => {
  controller.abort(new Error("interrupted"));
  setTimeout(() => process.exit(130), 1000).unref();
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
