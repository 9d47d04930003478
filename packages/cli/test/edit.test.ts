import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { editorCommand, stripHeader, withHeader } from "../src/commands/edit.ts";
import { ExitCode } from "../src/errors.ts";
import { testConfig, testContext, testRun } from "./helpers/io.ts";

const editor = fileURLToPath(new URL("./fixtures/fake-editor.mjs", import.meta.url));

const valid = `name = "mcq"
node = "rift"

[[components]]
name = "api"
image = "mcr.svc.mcp.metacircular.net:8443/mcq:v0.4.0"
`;
const changed = valid.replace("v0.4.0", "v0.5.0");
const invalid = valid.replace("v0.4.0", "latest");

type Action = { write: string } | { keep: true } | { fail: number };

let dir: string;
let services: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-edit-"));
  services = join(dir, "services");
  await mkdir(services);
  await writeFile(join(services, "mcq.toml"), valid, { mode: 0o640 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function edit(service: string, actions: Action[]) {
  const state = join(dir, "editor.json");
  await writeFile(state, JSON.stringify({ actions, seen: [], args: [] }));
  const ctx = testContext({
    config: testConfig([{ name: "rift", address: "127.0.0.1:9444" }], { servicesDir: services }),
    transports: {},
    // Split on whitespace into an argument vector: no shell in between.
    env: {
      VISUAL: `${process.execPath} ${editor}`,
      EDITOR: "should-not-be-used",
      FAKE_EDITOR_STATE: state,
    },
  });
  const { io, context } = testRun(ctx);
  const code = await run(["edit", service], io, { context });
  const seen = JSON.parse(await readFile(state, "utf8")) as { seen: string[]; args: string[][] };
  return { code, ctx, seen: seen.seen, args: seen.args };
}

describe("mcp edit", () => {
  it("saves a valid change to the definition, keeping the file's mode", async () => {
    const r = await edit("mcq", [{ write: changed }]);
    expect(r.code).toBe(0);
    expect(await readFile(join(services, "mcq.toml"), "utf8")).toBe(changed);
    expect((await stat(join(services, "mcq.toml"))).mode & 0o777).toBe(0o640);
    expect(r.seen).toEqual([valid]);
    expect(r.args[0]?.[0]).toMatch(/mcp-edit-.*\/mcq\.toml$/);
    expect(r.ctx.stdout.text).toBe(`saved ${join(services, "mcq.toml")}\n`);
  });

  it("reopens an invalid edit with the problems on top, and saves once it is fixed", async () => {
    const r = await edit("mcq", [{ write: invalid }, { write: changed }]);
    expect(r.code).toBe(0);
    expect(await readFile(join(services, "mcq.toml"), "utf8")).toBe(changed);
    expect(r.seen).toHaveLength(2);
    const reopened = r.seen[1] ?? "";
    expect(reopened).toMatch(/^# mcp edit: this definition is invalid/);
    // The line numbers point into the file as shown, header included.
    const header = reopened.split("\n").filter((l) => l.startsWith("# mcp edit:"));
    const problem = header.find((l) => l.includes(":latest"));
    expect(problem).toMatch(/^# mcp edit: line (\d+):\d+: SD\d+ /);
    const line = Number(/line (\d+):/.exec(problem ?? "")?.[1]);
    expect(reopened.split("\n")[line - 1]).toContain(
      'image = "mcr.svc.mcp.metacircular.net:8443/mcq:latest"',
    );
    expect(stripHeader(reopened)).toBe(invalid);
    expect(r.ctx.stderr.text).toMatch(/mcq\.toml:6:9: SD\d+ .*:latest/);
  });

  it("gives up (exit 1) and leaves the file alone when the invalid text is saved unchanged", async () => {
    const r = await edit("mcq", [{ write: invalid }, { keep: true }]);
    expect(r.code).toBe(ExitCode.Failed);
    expect(await readFile(join(services, "mcq.toml"), "utf8")).toBe(valid);
    expect(r.ctx.stderr.text).toContain("edit given up;");
  });

  it("changes nothing when the editor closes without a change", async () => {
    const r = await edit("mcq", [{ keep: true }]);
    expect(r.code).toBe(0);
    expect(await readFile(join(services, "mcq.toml"), "utf8")).toBe(valid);
    expect(r.ctx.stderr.text).toBe(`no changes; ${join(services, "mcq.toml")} left as it was\n`);
  });

  it("refuses a definition whose name is not the file's", async () => {
    const r = await edit("mcq", [
      { write: valid.replace('name = "mcq"', 'name = "other"') },
      { keep: true },
    ]);
    expect(r.code).toBe(ExitCode.Failed);
    expect(r.seen[1]).toContain('name must be "mcq" (the file\'s name), not "other"');
  });

  it("starts a new service from a template, created only if it was changed and validates", async () => {
    const untouched = await edit("newsvc", [{ keep: true }]);
    expect(untouched.code).toBe(0);
    expect(untouched.seen[0]).toContain('name = "newsvc"\nnode = "rift"');
    await expect(stat(join(services, "newsvc.toml"))).rejects.toThrow();
    const made = await edit("newsvc", [{ write: valid.replaceAll("mcq", "newsvc") }]);
    expect(made.code).toBe(0);
    expect(await readFile(join(services, "newsvc.toml"), "utf8")).toContain('name = "newsvc"');
  });

  it("reports an editor that fails, and saves nothing", async () => {
    const r = await edit("mcq", [{ fail: 3 }]);
    expect(r.code).toBe(ExitCode.Failed);
    expect(r.ctx.stderr.text).toContain("exited with status 3; nothing was saved");
    expect(await readFile(join(services, "mcq.toml"), "utf8")).toBe(valid);
  });
});

describe("editor helpers", () => {
  it("takes VISUAL, then EDITOR, then vi, as an argument vector", () => {
    expect(editorCommand({ VISUAL: "code --wait", EDITOR: "nano" })).toEqual(["code", "--wait"]);
    expect(editorCommand({ EDITOR: " nano " })).toEqual(["nano"]);
    expect(editorCommand({})).toEqual(["vi"]);
  });

  it("puts problems in a header that stripHeader takes off again", () => {
    const shown = withHeader("a = 1\n", [{ line: 1, column: 1, code: "SD001", message: "x" }]);
    expect(shown.split("\n")[2]).toBe("# mcp edit: line 4:1: SD001 x");
    expect(shown.split("\n")[3]).toBe("a = 1");
    expect(stripHeader(shown)).toBe("a = 1\n");
  });
});
