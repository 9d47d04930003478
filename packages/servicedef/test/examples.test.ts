import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { format, loadFile, parse, portEnvName, validate } from "../src/index.ts";

const dir = new URL("../../../examples/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".toml"));

describe("examples/ (every definition of the spec, and platform ones)", () => {
  test("the spec's five definitions are there", () => {
    for (const f of [
      "minimal-l7.toml",
      "api-l4-multi-route.toml",
      "full-api-web.toml",
      "public-hostname.toml",
      "walkthrough-myservice.toml",
    ]) {
      expect(files).toContain(f);
    }
  });

  test.each(files)("%s is valid, without warnings, and round-trips", async (f) => {
    const r = await loadFile(new URL(f, dir).pathname);
    expect(r.diagnostics).toEqual([]);
    expect(r.ok).toBe(true);
    const value = r.value as NonNullable<typeof r.value>;
    expect(parse(format(value)).value).toEqual(value);
    expect(validate(value).value).toEqual(value);
  });

  test("the full API + web example reads as the spec describes", () => {
    const r = parse(readFileSync(new URL("full-api-web.toml", dir), "utf8"));
    const def = r.value as NonNullable<typeof r.value>;
    expect(def).toMatchObject({ name: "myservice", node: "rift", active: true, path: "myservice" });
    expect(def.build?.images).toEqual({
      myservice: "Dockerfile.api",
      "myservice-web": "Dockerfile.web",
    });
    const [api, web] = def.components ?? [];
    expect(api?.routes?.map(portEnvName)).toEqual(["PORT_REST", "PORT_GRPC"]);
    expect(web?.routes?.map(portEnvName)).toEqual(["PORT"]);
    expect(api?.drain).toBe("5s");
    expect(api?.health).toBeUndefined();
  });

  test("health defaults are filled in", () => {
    const r = parse(readFileSync(new URL("metacrypt.toml", dir), "utf8"));
    expect(r.value?.components?.[1]?.health).toEqual({
      type: "http",
      path: "/login",
      status: 200,
      interval: "10s",
      timeout: "2s",
      retries: 3,
      start_period: "0s",
    });
  });
});
