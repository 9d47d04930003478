import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ArtifactError, ChecksumMismatchError } from "./errors.ts";

/** Node architectures as written in mcp.toml (`arch = "amd64"`). */
export type Arch = "amd64" | "arm64";
export const ARCHES: readonly Arch[] = ["amd64", "arm64"];

export function isArch(s: string): s is Arch {
  return (ARCHES as readonly string[]).includes(s);
}

/** Node.js's name for an architecture (`process.arch`). */
export function nodeArch(arch: Arch): "x64" | "arm64" {
  return arch === "amd64" ? "x64" : "arm64";
}

// The version becomes a directory name on the node (/srv/mcp/versions/<version>).
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export function checkVersion(version: string): string {
  if (!VERSION_RE.test(version)) {
    throw new ArtifactError(
      `artifact version ${JSON.stringify(version)} is not usable as a directory name (letters, digits, . _ + -)`,
    );
  }
  return version;
}

export function artifactFileName(version: string, arch: Arch): string {
  return `mcp-agent-${checkVersion(version)}-linux-${arch}.tar.gz`;
}

const NAME_RE = /^mcp-agent-(.+)-linux-(amd64|arm64)\.tar\.gz$/;

/** A built artifact: the tarball, its published sha256 and what the agent in it reports. */
export interface Artifact {
  path: string;
  version: string;
  arch: Arch;
  sha256: string;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Reads `<tarball>.sha256` (sha256sum format: `<hex>  <name>`). */
export async function readChecksumFile(tarball: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(`${tarball}.sha256`, "utf8");
  } catch (e) {
    throw new ArtifactError(
      `${tarball}.sha256 is missing: every artifact ships with its checksum`,
      {
        cause: e,
      },
    );
  }
  const hex = text.trim().split(/\s+/)[0] ?? "";
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new ArtifactError(`${tarball}.sha256 does not hold a sha256`);
  return hex;
}

/**
 * Finds the artifact for `arch` in `dir`. With no `version`, exactly one version must be
 * there, so an upgrade never picks one by accident.
 */
export async function findArtifact(dir: string, arch: Arch, version?: string): Promise<Artifact> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new ArtifactError(`artifacts directory ${dir} cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const found = names
    .map((n) => NAME_RE.exec(n))
    .filter(
      (m): m is RegExpExecArray =>
        m !== null && m[2] === arch && (version === undefined || m[1] === version),
    );
  if (found.length === 0) {
    throw new ArtifactError(
      `no mcp-agent artifact for linux-${arch}${version ? ` version ${version}` : ""} in ${dir} (build it with scripts/build-agent-artifact.sh)`,
    );
  }
  if (found.length > 1) {
    throw new ArtifactError(
      `several mcp-agent versions for linux-${arch} in ${dir} (${found.map((m) => m[1]).join(", ")}): name one`,
    );
  }
  const m = found[0] as RegExpExecArray;
  const path = join(dir, m[0]);
  return {
    path,
    version: checkVersion(m[1] as string),
    arch,
    sha256: await readChecksumFile(path),
  };
}

/** The local file must match its published checksum before it is sent anywhere. */
export async function verifyLocalArtifact(a: Artifact): Promise<void> {
  const actual = await sha256File(a.path);
  if (actual !== a.sha256) {
    throw new ChecksumMismatchError(
      `${a.path}: sha256 ${actual} does not match ${a.path}.sha256 (${a.sha256})`,
      "local",
    );
  }
}
