import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPodmanError } from "../../src/index.ts";
import {
  ensureImage,
  type Harness,
  harness,
  imageContext,
  type Registry,
  startRegistry,
  waitFor,
} from "./harness.ts";

let h: Harness;
let image: string;
let registry: Registry;

beforeAll(async () => {
  h = await harness();
  [image, registry] = await Promise.all([ensureImage(h), startRegistry()]);
});
afterAll(async () => {
  await registry?.stop();
  await h?.cleanup();
});

describe("build", () => {
  it("streams the build's output line by line and passes build args", async () => {
    const ctx = await imageContext(await h.tempDir(), 'RUN echo "built-by-test"\n');
    const tag = `localhost/${h.name("built")}:v2.0.0`;
    const lines: { at: number; line: string }[] = [];
    const id = await h.client.buildImage({
      context: ctx,
      file: join(ctx, "Containerfile"),
      tags: [tag],
      buildArgs: { VERSION: "v2.0.0" },
      labels: { "org.example.test": "yes" },
      pull: "never",
      onOutput: (line) => lines.push({ at: Date.now(), line }),
    });
    const done = Date.now();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const text = lines.map((l) => l.line);
    expect(text.some((l) => l.startsWith("STEP 1/"))).toBe(true);
    expect(text).toContain("built-by-test");
    // Streamed, not delivered at the end: the first step was seen well before completion.
    const firstStep = lines.find((l) => l.line.startsWith("STEP 1/"))!;
    expect(done - firstStep.at).toBeGreaterThan(50);

    const img = await h.client.inspectImage(tag);
    expect(img.id).toBe(id);
    expect(img.labels["org.example.test"]).toBe("yes");

    const c = h.name("version-check");
    await h.client.runContainer({
      name: c,
      image: tag,
      cmd: ["cat", "/version"],
      labels: h.labels,
    });
    await waitFor(async () =>
      (await h.client.inspectContainer(c)).state.status === "exited" ? true : undefined,
    );
    expect(await h.client.logs(c)).toEqual(["v2.0.0"]);
  });

  it("a failing build throws with Podman's error line", async () => {
    const ctx = await imageContext(await h.tempDir(), "RUN exit 3\n");
    const seen: string[] = [];
    const err = await h.client
      .buildImage({
        context: ctx,
        tags: [`localhost/${h.name("broken")}:v1.0.0`],
        pull: "never",
        onOutput: (l) => seen.push(l),
      })
      .catch((e: unknown) => e);
    expect(isPodmanError(err, "command-failed")).toBe(true);
    expect((err as Error).message).toMatch(/exit status 3/);
    expect(seen.some((l) => l.startsWith("Error:"))).toBe(false);
  });
});

describe("registry, save and load", () => {
  it("pushes to and pulls from a real loopback registry", async () => {
    const remote = `${registry.host}/${h.name("push")}/busybox:v1.0.0`;
    await h.client.tagImage(image, remote);
    await h.client.pushImage(remote, { tlsVerify: false });
    const head = await fetch(
      `http://${registry.host}/v2/${h.name("push")}/busybox/manifests/v1.0.0`,
      {
        method: "HEAD",
        headers: {
          accept:
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        },
      },
    );
    expect(head.status).toBe(200);

    await h.client.removeImage(remote);
    expect(await h.client.imageExists(remote)).toBe(false);
    const id = await h.client.pullImage(remote, { tlsVerify: false });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await h.client.imageExists(remote)).toBe(true);
    expect((await h.client.listImages()).some((i) => i.names.includes(remote))).toBe(true);
  });

  it("pull of a missing tag is ImageNotFound; of an unreachable registry a RegistryError", async () => {
    const missing = await h.client
      .pullImage(`${registry.host}/${h.name("nothing")}:v9.9.9`, { tlsVerify: false })
      .catch((e: unknown) => e);
    expect(isPodmanError(missing, "image-not-found")).toBe(true);

    const dir = await h.tempDir();
    const authFile = join(dir, "auth.json");
    await writeFile(authFile, JSON.stringify({ auths: {} }));
    const unreachable = await h.client
      .pullImage("127.0.0.1:1/x:v1", {
        tlsVerify: false,
        authFile,
        certDir: dir,
        timeoutMs: 20_000,
      })
      .catch((e: unknown) => e);
    expect(isPodmanError(unreachable, "registry")).toBe(true);
    expect((unreachable as Error).message).toContain("connection refused");
  });

  it("saves an image to a file and loads it back", async () => {
    const tag = `localhost/${h.name("saved")}:v1.0.0`;
    await h.client.tagImage(image, tag);
    const file = join(await h.tempDir(), "image.tar");
    await h.client.saveImage(tag, file);
    expect((await stat(file)).size).toBeGreaterThan(100_000);
    expect((await readFile(file)).subarray(0, 512).length).toBe(512);
    await h.client.removeImage(tag);
    expect(await h.client.imageExists(tag)).toBe(false);
    const loaded = await h.client.loadImage(file);
    expect(loaded).toContain(tag);
    expect(await h.client.imageExists(tag)).toBe(true);
  });
});
