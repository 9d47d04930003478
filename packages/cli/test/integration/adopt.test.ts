// Bootstrap steps 8–10 end to end: containers started by hand with plain Podman (as `mcp`,
// named <service>-<component> with a hyphenated service name), then the bundled `mcp` against
// a real mcp-agent: adopt, service export (the file lints clean), complete it, sync, status.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadFile } from "@mcp/servicedef";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentHarness, startAgentHarness } from "../helpers/agent-harness.ts";

let h: AgentHarness | undefined;
let service = "";
let data = "";
let published = 0;
let network = "";

beforeAll(async () => {
  h = await startAgentHarness("mcp-cli-adopt-");
  const p = h.podman;
  service = p.name("mc-demo");
  data = await p.tempDir();
  published = await p.freePort();
  // Components that talk to each other share a network with DNS (bootstrap step 7's mcpnet).
  network = p.name("net");
  await p.client.createNetwork(network);
  // As an operator would have before MCP: `podman run -d --name <service>-<component> ...`.
  await p.client.runContainer({
    name: `${service}-web`,
    image: p.image,
    labels: p.labels,
    cmd: ["httpd", "-f", "-p", "8080"],
    env: { MODE: "demo" },
    ports: [{ hostPort: published, containerPort: 8080, protocol: "tcp", hostIp: "127.0.0.1" }],
    volumes: [{ source: data, target: "/data", readOnly: false }],
    network: "slirp4netns",
    user: "0:0",
    restart: { name: "unless-stopped" },
    stopTimeout: 1,
  });
  await p.client.runContainer({
    name: `${service}-api`,
    image: p.image,
    labels: p.labels,
    cmd: ["httpd", "-f", "-p", "9090"],
    network,
    stopTimeout: 1,
  });
}, 240_000);

afterAll(async () => {
  await h?.stop();
}, 120_000);

async function ids(): Promise<Record<string, string>> {
  const p = (h as AgentHarness).podman;
  const out: Record<string, string> = {};
  for (const c of ["web", "api"]) out[c] = (await p.client.inspectContainer(`${service}-${c}`)).id;
  return out;
}

describe("adopting hand-started containers with a real agent and real Podman", () => {
  it("adopt → export (lints clean) → complete → sync → status without drift; events and routes", async () => {
    const H = h as AgentHarness;
    const before = await ids();

    const preview = await H.mcp(["adopt", service, "--dry-run"]);
    expect(preview.stderr).toBe("");
    expect(preview.exitCode).toBe(0);
    expect(preview.stdout).toContain(`would adopt ${service}-web as ${service}/web`);

    const adopted = await H.mcp(["adopt", service, "--json"]);
    expect(adopted.stderr).toBe("");
    expect(adopted.exitCode).toBe(0);
    const a = JSON.parse(String(adopted.stdout));
    expect(a.adopted.map((x: { component: string }) => x.component).sort()).toEqual(["api", "web"]);
    // Adopting recreated nothing.
    expect(await ids()).toEqual(before);

    const exported = await H.mcp(["service", "export", service]);
    expect(exported.stderr).toBe("");
    expect(exported.exitCode).toBe(0);
    const file = join(H.services, `${service}.toml`);
    const text = await readFile(file, "utf8");
    // What `mcp-servicedef lint` runs on each file.
    const lint = await loadFile(file);
    expect(lint.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(lint.ok).toBe(true);
    const web = lint.value?.components?.find((c) => c.name === "web");
    expect(web).toMatchObject({
      image: H.podman.image,
      volumes: [`${data}:/data`],
      user: "0:0",
      restart: "unless-stopped",
      cmd: ["httpd", "-f", "-p", "8080"],
      env: ["MODE=demo"],
    });
    expect(lint.value?.components?.find((c) => c.name === "api")?.network).toBe(network);
    expect(text).toContain(
      `# Published by hand on host port ${published} (container port 8080/tcp).`,
    );
    expect(text).toContain("# [[components.routes]]\n# port = 8080\n");

    // Exporting again over the file: refused without --force, nothing to show as different.
    const again = await H.mcp(["service", "export", service]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("is already up to date");

    // The operator completes the file: the hand-published web port becomes its route (the
    // route's host port is the one it was published on). Nothing else changes, so sync
    // keeps both containers as they are.
    const completed = text.replace(
      '# [[components.routes]]\n# port = 8080\n# mode = "l4"',
      '[[components.routes]]\nport = 8080\nmode = "l4"',
    );
    expect(completed).not.toBe(text);
    await writeFile(file, completed);

    const diff = await H.mcp(["diff", service, "--exit-code"]);
    expect(diff.exitCode).toBe(1);
    expect(diff.stdout).toMatch(/web\.routes/);

    const synced = await H.mcp(["sync"], 180_000);
    expect(synced.exitCode, `${synced.stdout}\n${synced.stderr}\n${H.agentOutput()}`).toBe(0);
    expect(synced.stdout).toMatch(new RegExp(`rift\\s+${service}\\s+deployed`));
    expect(await ids()).toEqual(before);
    const kept = await H.mcp(["status", service, "--json"]);
    expect(JSON.parse(String(kept.stdout))).toMatchObject({ service, drift: false });
    // The route goes to the port the operator published by hand.
    const listed = await H.mcp(["route", "list"]);
    expect(listed.stdout).toContain(`:${published}`);

    // Syncing again changes nothing (the kept containers are known by id and spec hash).
    const noop = await H.mcp(["sync"], 120_000);
    expect(noop.exitCode, `${noop.stdout}\n${noop.stderr}`).toBe(0);
    expect(await ids()).toEqual(before);

    // A changed field replaces that adopted container only: api gets an env variable.
    const apiChanged = completed.replace(
      `network = "${network}"`,
      `network = "${network}"\nenv = ["MODE=changed"]`,
    );
    expect(apiChanged).not.toBe(completed);
    await writeFile(file, apiChanged);
    const replaced = await H.mcp(["sync"], 180_000);
    expect(replaced.exitCode, `${replaced.stdout}\n${replaced.stderr}`).toBe(0);
    const afterApi = await ids();
    expect(afterApi.web).toBe(before.web);
    expect(afterApi.api).not.toBe(before.api);
    const apiEnv = (await H.podman.client.inspectContainer(`${service}-api`)).env;
    expect(apiEnv).toMatchObject({ MODE: "changed" });

    // Then web moves to a port MCP assigns: a new container on $PORT, the route follows it.
    await writeFile(
      file,
      apiChanged.replace(
        'cmd = ["httpd", "-f", "-p", "8080"]',
        'cmd = ["sh", "-c", "exec httpd -f -p $PORT"]',
      ),
    );
    const moved = await H.mcp(["sync"], 180_000);
    expect(moved.exitCode, `${moved.stdout}\n${moved.stderr}\n${H.agentOutput()}`).toBe(0);
    const afterWeb = await ids();
    expect(afterWeb.web).not.toBe(before.web);
    expect(afterWeb.api).toBe(afterApi.api);

    const status = await H.mcp(["status", service, "--json"]);
    expect(status.exitCode).toBe(0);
    const st = JSON.parse(String(status.stdout));
    expect(st).toMatchObject({ service, drift: false });
    expect(
      st.components
        .map((c: { name: string; observed: string }) => `${c.name}:${c.observed}`)
        .sort(),
    ).toEqual(["api:running", "web:running"]);
    const fleet = await H.mcp(["status"]);
    expect(fleet.stdout).toMatch(
      new RegExp(`rift\\s+${service}\\s+running\\s+running\\s+no drift`),
    );

    const events = await H.mcp(["events", service, "--json"]);
    expect(events.exitCode).toBe(0);
    const kinds = JSON.parse(String(events.stdout)).events.map((e: { kind: string }) => e.kind);
    expect(kinds).toContain("adopt");
    expect(kinds).toContain("deploy");
    const table = await H.mcp(["events", service, "--since", "1h"]);
    expect(table.stdout).toMatch(
      /^TIME\s+NODE\s+SERVICE\s+COMPONENT\s+KIND\s+FROM\s+TO\s+MESSAGE\n/,
    );
    expect(table.stdout).toContain(`adopted ${service}-`);

    const history = await H.mcp(["history", service]);
    expect(history.exitCode).toBe(0);
    expect(history.stdout).toMatch(/v1\.0\.0\s+succeeded/);

    const routes = await H.mcp(["route", "list"]);
    expect(routes.exitCode).toBe(0);
    expect(routes.stdout).toMatch(
      new RegExp(`^rift\\n\\s+:8080\\s+1 route\\n\\s+l4\\s+${service}\\.`),
    );

    const clean = await H.mcp(["diff", service, "--exit-code"]);
    expect(clean.exitCode, String(clean.stdout)).toBe(0);
  }, 300_000);
});
