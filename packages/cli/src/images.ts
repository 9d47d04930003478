import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { ServiceDef } from "@mcp/servicedef";
import { parseImageRef } from "@mcp/servicedef";
import { CliError, configError, ExitCode } from "./errors.js";

/** One image `mcp build` makes: a `[build.images]` entry matched to its component image. */
export interface BuildTarget {
  service: string;
  /** The `[build.images]` key: the repository name of the image. */
  repository: string;
  /** The full reference it is tagged and pushed as, `host:port/name:tag`. */
  image: string;
  /** Registry host of the image (`host:port`). */
  registry: string;
  tag: string;
  /** Absolute build context: `<workspace>/<path>`. */
  context: string;
  /** Absolute path of the Dockerfile (given relative to the context). */
  dockerfile: string;
  /** Components that run this image. */
  components: string[];
}

/** What the registry says about one image reference. */
export interface ImageCheck {
  ref: string;
  exists: boolean;
  /** Set when the reference could not be checked (`exists` is then false). */
  error?: CliError | undefined;
}

/** The images a service's components run, each once, in the definition's order. */
export function componentImages(def: ServiceDef): string[] {
  return [...new Set((def.components ?? []).map((c) => c.image))];
}

/**
 * The images `[build.images]` builds for this definition. Pure. A key that matches no
 * component image was refused by validation (SD015); an image without a tag cannot be
 * built, since the tag is the version.
 */
export function buildTargets(def: ServiceDef, workspace: string): BuildTarget[] {
  const context = join(workspace, def.path);
  const out = new Map<string, BuildTarget>();
  for (const [repository, dockerfile] of Object.entries(def.build?.images ?? {})) {
    for (const c of def.components ?? []) {
      const ref = parseImageRef(c.image);
      if (typeof ref === "string" || ref.repository !== repository) continue;
      const existing = out.get(c.image);
      if (existing) {
        existing.components.push(c.name);
        continue;
      }
      if (!ref.tag || !ref.registry) {
        throw new CliError(
          `service ${def.name}: image ${c.image} of component ${c.name} needs a registry and a tag to be built`,
          { exitCode: ExitCode.Failed, hint: "write it as host:port/name:vX.Y.Z" },
        );
      }
      out.set(c.image, {
        service: def.name,
        repository,
        image: c.image,
        registry: ref.registry,
        tag: ref.tag,
        context,
        dockerfile: join(context, dockerfile),
        components: [c.name],
      });
    }
  }
  return [...out.values()];
}

/** `[build] workspace`, or a configuration error saying where to set it. */
export function requireWorkspace(workspace: string | undefined, configPath: string): string {
  if (!workspace) {
    throw configError(
      `no build workspace: [build] workspace is not set in ${configPath}`,
      "set it to the directory holding the source trees (or MCP_BUILD_WORKSPACE)",
    );
  }
  return workspace;
}

/** Why a target cannot be built from this machine (context or Dockerfile missing), or undefined. */
export async function missingSource(t: BuildTarget): Promise<string | undefined> {
  const kind = async (p: string) => {
    try {
      const s = await stat(p);
      return s.isDirectory() ? "dir" : "file";
    } catch {
      return undefined;
    }
  };
  if ((await kind(t.context)) !== "dir") return `build context ${t.context} does not exist`;
  if ((await kind(t.dockerfile)) !== "file") return `Dockerfile ${t.dockerfile} does not exist`;
  return undefined;
}

/** Keeps the last `size` lines of a stream of output, for error messages. */
export class LineTail {
  readonly #lines: string[] = [];
  constructor(readonly size = 20) {}
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.size) this.#lines.shift();
  }
  get lines(): string[] {
    return [...this.#lines];
  }
}
