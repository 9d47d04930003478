#!/usr/bin/env node
// Kept to node: builtins so that, when the process re-executes itself with its Node flags
// (memory.ts), the first process has evaluated nothing of the bundle.
import { reexecWithNodeFlags } from "./memory.ts";

reexecWithNodeFlags();
await import("./cli.ts");
