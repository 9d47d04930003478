/**
 * `mcp-sim down`: stops what `up` started, by the pids in DIR/run/ (only processes whose
 * command line still names this platform), agent first. State stays on disk; containers
 * the agent deployed keep running under Podman, and the next `up` finds them again.
 */
import { resolve } from "node:path";
import { PARTS, type PartName, platformLayout } from "./layout.ts";
import { stopPart } from "./process.ts";

export interface DownResult {
  name: PartName;
  /** The pid stopped; undefined when it was not running. */
  pid: number | undefined;
}

export async function downPlatform(opts: { dir: string }): Promise<DownResult[]> {
  const layout = platformLayout(resolve(opts.dir));
  const out: DownResult[] = [];
  for (const name of [...PARTS].reverse()) {
    out.push({ name, pid: await stopPart(layout.runDir, name) });
  }
  return out;
}
