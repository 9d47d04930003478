import { downPlatform } from "../platform/down.ts";

export async function downCommand(opts: { dir: string }): Promise<void> {
  for (const r of await downPlatform(opts)) {
    process.stdout.write(
      `${r.name.padEnd(9)} ${r.pid === undefined ? "was not running" : `stopped (pid ${r.pid})`}\n`,
    );
  }
  process.stdout.write(
    `state kept in ${opts.dir}; \`mcp-sim up --dir ${opts.dir}\` starts it again\n`,
  );
}
