/**
 * The test image: Debian's static busybox in an image FROM scratch, built locally (the CI
 * machine cannot pull from the internet) and cached in the user's storage by tag.
 */
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PodmanClient } from "@mcp/podman-client";

export const TEST_IMAGE_REPO = "localhost/mcp-test/busybox";
export const TEST_IMAGE = `${TEST_IMAGE_REPO}:v1.0.0`;
export const BUSYBOX_PATH = "/bin/busybox";

/**
 * Serves HTTP on $PORT (default 8080) with busybox httpd; /index.html says the version,
 * so a test can tell v1.0.0 from v1.1.0 after a redeploy. catatonit is not needed with
 * `init: true`; without it busybox as PID 1 ignores SIGTERM, so give a stop timeout.
 */
export const CONTAINERFILE = `FROM scratch
ARG VERSION=v1.0.0
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /www /tmp && echo "mcp-test $VERSION" > /www/index.html
LABEL org.opencontainers.image.version=$VERSION
ENV PORT=8080
CMD ["sh", "-c", "exec httpd -f -p \${PORT} -h /www"]
`;

/** Writes the build context (Containerfile + busybox) to a new directory the user can read. */
export async function writeTestImageContext(dir?: string): Promise<string> {
  const ctx = dir ?? (await mkdtemp(join(tmpdir(), "mcp-test-image-")));
  await chmod(ctx, 0o755);
  await copyFile(BUSYBOX_PATH, join(ctx, "busybox"));
  await chmod(join(ctx, "busybox"), 0o755);
  await writeFile(join(ctx, "Containerfile"), CONTAINERFILE, { mode: 0o644 });
  return ctx;
}

const RECIPE_LABEL = "mcp-testkit.recipe";
const RECIPE_HASH = createHash("sha256").update(CONTAINERFILE).digest("hex").slice(0, 16);

const building = new Map<string, Promise<string>>();

/** Returns the reference of the test image with `tag`, building it once when missing. */
export function ensureTestImage(
  client: PodmanClient,
  options: { tag?: string; onOutput?: (line: string) => void } = {},
): Promise<string> {
  const ref = `${TEST_IMAGE_REPO}:${options.tag ?? "v1.0.0"}`;
  let p = building.get(ref);
  if (!p) {
    p = (async () => {
      // The recipe's hash is a label, so a changed Containerfile rebuilds the cached image.
      if (await client.imageExists(ref)) {
        const img = await client.inspectImage(ref);
        if (img.labels[RECIPE_LABEL] === RECIPE_HASH) return ref;
      }
      const ctx = await writeTestImageContext();
      try {
        await client.buildImage({
          context: ctx,
          tags: [ref],
          buildArgs: { VERSION: options.tag ?? "v1.0.0" },
          pull: "never",
          labels: { [RECIPE_LABEL]: RECIPE_HASH },
          ...(options.onOutput ? { onOutput: options.onOutput } : {}),
        });
      } finally {
        await rm(ctx, { recursive: true, force: true });
      }
      return ref;
    })();
    building.set(ref, p);
    p.catch(() => building.delete(ref));
  }
  return p;
}
