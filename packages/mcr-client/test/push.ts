// Puts a tiny OCI image into a registry through the distribution API itself (blob
// uploads and a manifest PUT), so tests can create tags in milliseconds without Podman.
import { createHash } from "node:crypto";

function digestOf(b: Buffer): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

async function putBlob(base: string, repo: string, data: Buffer, auth?: string): Promise<string> {
  const digest = digestOf(data);
  const headers: Record<string, string> = auth ? { authorization: auth } : {};
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST", headers });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const loc = new URL(start.headers.get("location") as string, base);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, {
    method: "PUT",
    headers: { ...headers, "content-type": "application/octet-stream" },
    body: data,
  });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
  return digest;
}

/** Pushes `repo:tag` (an OCI manifest with one empty layer); resolves with its digest. */
export async function pushTinyImage(
  base: string,
  repo: string,
  tag: string,
  auth?: string,
): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
    }),
  );
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const configDigest = await putBlob(base, repo, config, auth);
  const layerDigest = await putBlob(base, repo, layer, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: layerDigest,
          size: layer.length,
        },
      ],
    }),
  );
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: {
      "content-type": "application/vnd.oci.image.manifest.v1+json",
      ...(auth ? { authorization: auth } : {}),
    },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`manifest put: HTTP ${res.status} ${await res.text()}`);
  return digestOf(manifest);
}
