import type { SimLogger } from "../framework.ts";
import { startSim } from "../runner.ts";

export interface RunOptions {
  dir: string;
  only: string[] | undefined;
  host: string;
  tokenTtl: string | undefined;
  json: boolean;
  /** `KEY=VALUE` module options from `--set`; a number-looking value becomes a number. */
  set?: string[];
}

export function parseSetOptions(pairs: readonly string[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--set ${pair}: expected KEY=VALUE`);
    const value = pair.slice(eq + 1);
    out[pair.slice(0, eq)] = /^\d+$/.test(value) ? Number(value) : value;
  }
  return out;
}

const stderrLogger: SimLogger = {
  info: (msg, f) => process.stderr.write(`${msg}${fmt(f)}\n`),
  warn: (msg, f) => process.stderr.write(`warning: ${msg}${fmt(f)}\n`),
  error: (msg, f) => process.stderr.write(`error: ${msg}${fmt(f)}\n`),
};

function fmt(f?: Record<string, unknown>): string {
  if (!f) return "";
  return Object.entries(f)
    .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("");
}

/** Runs in the foreground; stdout gets one line per module, then `ready <sim.json>`. */
export async function runCommand(opts: RunOptions): Promise<void> {
  // Listen for signals before anything starts: a supervisor may send SIGTERM the moment
  // it reads `ready`, and one that arrives during start-up stops the sim once it is up.
  // Later signals while stopping are ignored so that stopping is never cut short.
  let stopping = false;
  let onSignal: (s: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (s) => {
      if (stopping) return;
      stopping = true;
      resolve(s);
    };
  });
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const sim = await startSim({
    dir: opts.dir,
    ...(opts.only ? { only: opts.only } : {}),
    host: opts.host,
    log: stderrLogger,
    options: { ...parseSetOptions(opts.set ?? []), tokenTtl: opts.tokenTtl },
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(sim.info)}\n`);
  } else {
    for (const ep of Object.values(sim.endpoints)) {
      const where = [
        ep.url,
        ep.socket,
        ...Object.entries(ep.extra ?? {})
          .filter(([k]) => k.startsWith(":") || /(Port|Address)$/.test(k))
          .map(([k, v]) => `${k}=${v}`),
      ]
        .filter(Boolean)
        .join(" ");
      process.stdout.write(`${ep.name.padEnd(10)} ${where}\n`);
    }
    process.stdout.write(`ready ${sim.dir}/sim.json\n`);
  }
  stderrLogger.info(`${await signal}: stopping`);
  await sim.stop();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  stderrLogger.info("stopped");
}
