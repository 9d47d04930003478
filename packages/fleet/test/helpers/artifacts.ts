import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import {
  type Artifact,
  artifactFileName,
  buildAgentArtifact,
  sha256File,
} from "../../src/index.ts";

/** The @mcp/agent package (built by turbo before these tests: it is a devDependency). */
export const AGENT_DIR = fileURLToPath(new URL("../../../agent", import.meta.url));

/** Real release artifacts of the agent, one per version, for amd64. */
export async function buildVersions(outDir: string, versions: string[]): Promise<Artifact[]> {
  const out: Artifact[] = [];
  for (const version of versions) {
    out.push(
      await buildAgentArtifact({
        agentDir: AGENT_DIR,
        arch: "amd64",
        version,
        outDir,
        smokeTestNode: false,
      }),
    );
  }
  return out;
}

/** The real artifact with its entry replaced by one that crashes on start. */
export async function brokenArtifact(
  from: Artifact,
  outDir: string,
  version: string,
): Promise<Artifact> {
  const stage = await mkdtemp(join(tmpdir(), "mcp-fleet-broken-"));
  try {
    await execa("tar", ["-xzf", from.path, "-C", stage]);
    await writeFile(
      join(stage, "lib", "entry.mjs"),
      'process.stderr.write("mcp-agent: broken on purpose\\n");\nprocess.exit(1);\n',
    );
    const path = join(outDir, artifactFileName(version, "amd64"));
    await execa("tar", ["-C", stage, "-czf", path, "."]);
    const sha256 = await sha256File(path);
    await writeFile(`${path}.sha256`, `${sha256}  ${artifactFileName(version, "amd64")}\n`);
    return { path, version, arch: "amd64", sha256 };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
