import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  AUTH_FILE_NAME,
  authFileText,
  pullOptionsFromConfig,
  registryHost,
} from "../src/registry-auth.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-agent-regauth-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const registry = (over: Record<string, unknown> = {}) => ({
  username: "",
  password_file: "",
  token_file: "",
  tls_verify: true,
  cert_dir: "",
  ...over,
});
const base = () => ({
  podman: { auth_file: "", run_as: "" } as never,
  database: { path: join(dir, "state", "mcp.db") },
});

describe("registry credentials for pulls", () => {
  it("finds the registry host of a reference", () => {
    expect(registryHost("mcr.svc.mcp.metacircular.net:8443/app:v1.0.0")).toBe(
      "mcr.svc.mcp.metacircular.net:8443",
    );
    expect(registryHost("127.0.0.1:5000/team/app:v1")).toBe("127.0.0.1:5000");
    expect(registryHost("app:v1")).toBeUndefined();
    expect(registryHost("team/app:v1")).toBeUndefined();
  });

  it("writes a Podman auth file (0600, in the state dir) covering each registry pulled from", async () => {
    await writeFile(join(dir, "pw"), "s3cret\n");
    const opts = await pullOptionsFromConfig({
      ...base(),
      registry: registry({ username: "agent", password_file: join(dir, "pw"), tls_verify: false }),
    });
    expect(typeof opts).toBe("function");
    const get = opts as (image: string) => Promise<Record<string, unknown>>;
    const file = join(dir, "state", AUTH_FILE_NAME);
    expect(await get("127.0.0.1:5000/app:v1.0.0")).toEqual({ authFile: file, tlsVerify: false });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const auth = Buffer.from("agent:s3cret").toString("base64");
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      auths: { "127.0.0.1:5000": { auth } },
    });
    await get("mcr.example:8443/other:v2.0.0");
    expect(Object.keys(JSON.parse(await readFile(file, "utf8")).auths)).toEqual([
      "127.0.0.1:5000",
      "mcr.example:8443",
    ]);
    // A rotated password is picked up by the next pull.
    await writeFile(join(dir, "pw"), "rotated\n");
    await get("127.0.0.1:5000/app:v1.0.1");
    expect(await readFile(file, "utf8")).toContain(Buffer.from("agent:rotated").toString("base64"));
  });

  it("presents the MCIAS service token as the password", async () => {
    await writeFile(join(dir, "token"), "tok-123\n");
    const get = (await pullOptionsFromConfig({
      ...base(),
      registry: registry({ token_file: join(dir, "token") }),
    })) as (image: string) => Promise<{ authFile: string }>;
    const { authFile } = await get("mcr.example:8443/app:v1.0.0");
    expect(await readFile(authFile, "utf8")).toBe(
      authFileText(["mcr.example:8443"], "mcias-token", "tok-123"),
    );
  });

  it("without credentials keeps [podman] auth_file and the TLS settings", async () => {
    expect(
      await pullOptionsFromConfig({
        ...base(),
        podman: { auth_file: "/etc/mcp/auth.json", run_as: "" } as never,
        registry: registry({ cert_dir: "/etc/mcp/certs" }),
      }),
    ).toEqual({ authFile: "/etc/mcp/auth.json", certDir: "/etc/mcp/certs" });
  });

  it("refuses a password file without a username, and two secrets at once", async () => {
    await expect(
      pullOptionsFromConfig({ ...base(), registry: registry({ password_file: "/x" }) }),
    ).rejects.toThrow("password_file needs a username");
    await expect(
      pullOptionsFromConfig({
        ...base(),
        registry: registry({ username: "u", password_file: "/x", token_file: "/y" }),
      }),
    ).rejects.toThrow("not both");
  });
});
