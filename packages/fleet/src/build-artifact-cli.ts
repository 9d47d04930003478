// Entry of scripts/build-agent-artifact.sh. No yargs: two options, parsed by node:util.
import { parseArgs } from "node:util";
import { isArch } from "./artifact.ts";
import { buildAgentArtifact } from "./build-artifact.ts";

const { values } = parseArgs({
  options: {
    "agent-dir": { type: "string" },
    "out-dir": { type: "string" },
    version: { type: "string" },
    arch: { type: "string", multiple: true },
  },
});
try {
  const arches = values.arch ?? ["amd64", "arm64"];
  for (const a of arches) if (!isArch(a)) throw new Error(`--arch ${a}: expected amd64 or arm64`);
  if (!values["agent-dir"] || !values["out-dir"] || !values.version) {
    throw new Error(
      "usage: build-artifact-cli --agent-dir DIR --out-dir DIR --version V [--arch amd64 --arch arm64]",
    );
  }
  for (const arch of arches) {
    if (!isArch(arch)) continue;
    const a = await buildAgentArtifact({
      agentDir: values["agent-dir"],
      outDir: values["out-dir"],
      version: values.version,
      arch,
    });
    const st = a.selftest
      ? ` (self-test: node ${a.selftest.node}, sqlite ${a.selftest.sqlite})`
      : " (not run: other arch)";
    process.stdout.write(`${a.path}  sha256 ${a.sha256}${st}\n`);
  }
} catch (e) {
  process.stderr.write(`build-agent-artifact: ${(e as Error).message}\n`);
  process.exit(1);
}
