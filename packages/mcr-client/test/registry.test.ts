// Against a real OCI registry (Debian's docker-registry, distribution 2.8) without auth.
// Token auth against the real registry is tested with the sim's token service, in
// apps/sim/src/registry-auth.
import { startRegistry, type TestRegistry } from "@mcp/testkit";
import { afterAll, beforeAll, expect, test } from "vitest";
import { createMcrClient, isMcrNotFound, isMcrUnreachable, type McrClient } from "../src/index.ts";
import { pushTinyImage } from "./push.ts";

let registry: TestRegistry;
let client: McrClient;
let digest: string;

beforeAll(async () => {
  registry = await startRegistry();
  client = createMcrClient({ url: registry.url });
  digest = await pushTinyImage(registry.url, "team/app", "v1.0.0");
  await pushTinyImage(registry.url, "team/app", "v1.1.0");
}, 30_000);

afterAll(async () => {
  await client?.close();
  await registry?.stop();
});

test("an existing tag gives the digest the registry stored", async () => {
  expect(await client.manifest(registry.ref("team/app:v1.0.0"))).toEqual({
    digest,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
  });
});

test("an absent tag, and a tag of an absent repository, are false", async () => {
  expect(await client.tagExists(registry.ref("team/app:v9.9.9"))).toBe(false);
  expect(await client.tagExists(registry.ref("nothing/here:v1.0.0"))).toBe(false);
});

test("lists tags; an unknown repository is NotFound", async () => {
  expect((await client.listTags("team/app")).sort()).toEqual(["v1.0.0", "v1.1.0"]);
  await expect(client.listTags("nothing/here")).rejects.toSatisfy(isMcrNotFound);
});

test("checkTags over the real registry", async () => {
  const out = await client.checkTags([
    registry.ref("team/app:v1.1.0"),
    registry.ref("team/app:v2.0.0"),
  ]);
  expect(out.map((r) => r.exists)).toEqual([true, false]);
});

test("a stopped registry is Unreachable", async () => {
  const r = await startRegistry();
  const c = createMcrClient({ url: r.url, timeoutMs: 2000 });
  await r.stop();
  await expect(c.tagExists(r.ref("team/app:v1.0.0"))).rejects.toSatisfy(isMcrUnreachable);
  await c.close();
});
