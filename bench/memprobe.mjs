// Preloaded into an agent under benchmark (`node --expose-gc --import ./memprobe.mjs ...`):
// on SIGUSR2 it runs two full garbage collections and writes the process's memory figures
// as JSON to $MCP_MEMPROBE_OUT, so a benchmark can tell live heap (what the agent retains)
// from RSS (what V8 and malloc keep mapped). Nothing of it ships in the agent.
import { readFileSync, writeFileSync } from "node:fs";
import v8 from "node:v8";

const out = process.env.MCP_MEMPROBE_OUT;
if (out && typeof globalThis.gc === "function") {
  process.on("SIGUSR2", () => {
    globalThis.gc();
    globalThis.gc();
    const m = process.memoryUsage();
    // Resident memory by mapping (anonymous ones by size class), to see what holds RSS.
    const byMap = {};
    let name = "";
    const smaps = readFileSync("/proc/self/smaps", "utf8");
    if (process.env.MCP_MEMPROBE_SMAPS) writeFileSync(process.env.MCP_MEMPROBE_SMAPS, smaps);
    for (const line of smaps.split("\n")) {
      const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) name = head[1] || "[anon]";
      const rss = /^Rss:\s+(\d+) kB/.exec(line);
      if (rss) byMap[name] = (byMap[name] ?? 0) + Number(rss[1]);
    }
    const h = v8.getHeapStatistics();
    writeFileSync(
      out,
      JSON.stringify({
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        totalPhysical: h.total_physical_size,
        mallocedMemory: h.malloced_memory,
        rssKiBByMapping: Object.fromEntries(
          Object.entries(byMap)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 6),
        ),
        spaces: Object.fromEntries(
          v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]),
        ),
      }),
    );
  });
}
