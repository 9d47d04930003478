import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface Expanded {
  files: string[];
  /** Paths that could not be listed or do not exist, with the reason. */
  errors: { file: string; message: string }[];
}

/**
 * Files named on the command line are taken as they are (whatever their name); directories
 * are searched recursively for *.toml. Everything else a directory holds is ignored.
 */
export async function expandPaths(paths: readonly string[]): Promise<Expanded> {
  const files: string[] = [];
  const errors: Expanded["errors"] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (e) {
      const code = (e as { code?: string }).code;
      errors.push({
        file: p,
        message:
          code === "ENOENT" ? "no such file or directory" : `cannot read (${code ?? String(e)})`,
      });
      continue;
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    try {
      const entries = await readdir(p, { recursive: true, withFileTypes: true });
      const found = entries
        .filter((e) => e.name.endsWith(".toml"))
        .map((e) => join(e.parentPath, e.name))
        .sort();
      files.push(...found);
    } catch (e) {
      const code = (e as { code?: string }).code;
      errors.push({ file: p, message: `cannot list directory (${code ?? String(e)})` });
    }
  }
  return { files, errors };
}

/** Like Promise.all over `items.map(fn)`, with at most `limit` calls in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
