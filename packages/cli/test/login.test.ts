import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { type SimInstance, silentLogger, startSim } from "@mcp/sim";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { ExitCode } from "../src/errors.ts";
import { Sink } from "./helpers/io.ts";

let dir: string;
let sim: SimInstance;
let adminPassword: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-login-"));
  sim = await startSim({ dir: join(dir, "sim"), only: ["mcias"], log: silentLogger });
  const mcias = sim.endpoints.mcias;
  if (!mcias?.url || !mcias.caFile) throw new Error("sim MCIAS did not start");
  const passwords = JSON.parse(
    await readFile(String(mcias.extra?.initialPasswordsFile), "utf8"),
  ) as { admin: string };
  adminPassword = passwords.admin;
  await writeFile(
    join(dir, "mcp.toml"),
    `[mcias]\nserver_url = "${mcias.url}"\nca_cert = "${mcias.caFile}"\nservice_name = "mcp-agent"\n`,
  );
}, 30_000);

afterAll(async () => {
  await sim?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function login(args: string[], stdinText: string) {
  const stdin = new PassThrough();
  stdin.end(stdinText);
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await run(["login", ...args], {
    stdout: stdout as never,
    stderr: stderr as never,
    stdin,
    env: { MCP_CONFIG: join(dir, "mcp.toml") },
    cwd: dir,
    home: "/nonexistent",
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("mcp login (against the sim's MCIAS over HTTPS)", () => {
  it("gets a token and writes it beside mcp.toml with mode 0600", async () => {
    const r = await login(["-u", "admin", "--password-stdin"], `${adminPassword}\n`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^logged in as admin; token saved to ${join(dir, "token")}, valid until \\d{4}-`),
    );
    const token = await readFile(join(dir, "token"), "utf8");
    expect(token).toMatch(/^\S+$/);
    expect((await stat(join(dir, "token"))).mode & 0o777).toBe(0o600);
  });

  it("exits 4 on a wrong password and leaves the old token alone", async () => {
    const before = await readFile(join(dir, "token"), "utf8");
    const r = await login(["-u", "admin", "--password-stdin"], "wrong\n");
    expect(r.code).toBe(ExitCode.Auth);
    expect(r.stderr).toBe(
      "error: MCIAS refused the login\nhint: check the username, password and TOTP code\n",
    );
    expect(await readFile(join(dir, "token"), "utf8")).toBe(before);
  });

  it("will not prompt when stdin is not a terminal", async () => {
    const r = await login([], "");
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toContain("pass --username");
  });
});
