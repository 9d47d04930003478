import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PodmanHarness, setupPodman, startRegistry, TEST_IMAGE } from "../src/index.ts";

describe("testkit against real rootless Podman", () => {
  let h: PodmanHarness;
  beforeAll(async () => {
    h = await setupPodman();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("gives a rootless client as user mcp with the test image built", async () => {
    const info = await h.client.info();
    expect(info.rootless).toBe(true);
    expect(h.env.XDG_RUNTIME_DIR).toBe(`/run/user/${h.user.uid}`);
    expect(h.image).toBe(TEST_IMAGE);
    expect(await h.client.imageExists(h.image)).toBe(true);
    expect(h.prefix).toMatch(/^t[0-9a-z]{7}-$/);
  });

  it("the test image serves HTTP on $PORT and says its version", async () => {
    const port = await h.freePort();
    await h.client.runContainer({
      name: h.name("web"),
      image: h.image,
      env: { PORT: "8080" },
      ports: [{ hostIp: "127.0.0.1", hostPort: port, containerPort: 8080 }],
      init: true,
      labels: h.labels,
    });
    let body = "";
    for (let i = 0; i < 50 && body === ""; i++) {
      body = await fetch(`http://127.0.0.1:${port}/`).then(
        (r) => r.text(),
        () => "",
      );
      if (body === "") await new Promise((r) => setTimeout(r, 100));
    }
    expect(body.trim()).toBe("mcp-test v1.0.0");
  });

  it("cleanup removes the run's containers, networks and temp dirs, and is idempotent", async () => {
    const h2 = await setupPodman();
    await h2.client.createContainer({ name: h2.name("a"), image: h2.image, labels: h2.labels });
    await h2.client.createNetwork(h2.name("net"));
    const dir = await h2.tempDir();
    await h2.cleanup();
    await h2.cleanup();
    expect(await h.client.containerExists(h2.name("a"))).toBe(false);
    expect(await h.client.networkExists(h2.name("net"))).toBe(false);
    await expect(import("node:fs/promises").then((fs) => fs.stat(dir))).rejects.toThrow();
  });

  it("starts a real registry on loopback and stops it", async () => {
    const reg = await startRegistry();
    try {
      expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
      const res = await fetch(`${reg.url}/v2/`);
      expect(res.status).toBe(200);
      const missing = await fetch(`${reg.url}/v2/nothing/manifests/v1`, { method: "HEAD" });
      expect(missing.status).toBe(404);
    } finally {
      await reg.stop();
    }
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
  });
});

describe("cleanup keeps shared images", () => {
  it("a run's extra tag on the shared test image is untagged, the image stays", async () => {
    const h3 = await setupPodman();
    const extra = `localhost/${h3.prefix}copy:v1.0.0`;
    await h3.client.tagImage(h3.image, extra);
    await h3.cleanup();
    expect(await h3.client.imageExists(extra)).toBe(false);
    expect(await h3.client.imageExists(h3.image)).toBe(true);
  });
});

describe("registry with token auth (the extension point for MCR's bearer flow)", () => {
  it("answers 401 with a Bearer challenge naming the realm and service", async () => {
    const { execFileSync } = await import("node:child_process");
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "testkit-token-"));
    try {
      const cert = join(dir, "signer.pem");
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-keyout",
          join(dir, "signer.key"),
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=test-token-signer",
        ],
        { stdio: "ignore" },
      );
      const reg = await startRegistry({
        tokenAuth: {
          realm: "http://127.0.0.1:1/token",
          service: "test-registry",
          issuer: "test-issuer",
          rootCertBundle: cert,
        },
      });
      try {
        const res = await fetch(`${reg.url}/v2/`);
        expect(res.status).toBe(401);
        const challenge = res.headers.get("www-authenticate") ?? "";
        expect(challenge).toContain('Bearer realm="http://127.0.0.1:1/token"');
        expect(challenge).toContain('service="test-registry"');
      } finally {
        await reg.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
