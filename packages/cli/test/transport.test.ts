import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { DeployResponseSchema, NodeRole } from "@mcp/proto/agent/v1";
import { ensureLocalCa } from "@mcp/sim";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/cli.ts";
import { ExitCode } from "../src/errors.ts";
import { container, StepStatus, step } from "./helpers/fake-agent.ts";
import { Sink } from "./helpers/io.ts";
import { startTlsAgent, type TlsAgent } from "./helpers/tls-agent.ts";

const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

let dir: string;
let agent: TlsAgent;
let deployStarted: () => void = () => {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mcp-cli-tls-"));
  agent = await startTlsAgent(join(dir, "agent"), {
    nodeInfo: () => ({ name: "rift", agentVersion: "9.9.9", role: NodeRole.COMPUTE }),
    listContainers: () => ({ containers: [container({ service: "mcq", component: "api" })] }),
    async *deploy() {
      yield create(DeployResponseSchema, {
        event: { case: "step", value: step("pull", StepStatus.STARTED, { component: "api" }) },
      });
      // Give the step time to reach the CLI before the "restart".
      await new Promise((r) => setTimeout(r, 300));
      deployStarted();
      // Never finishes on its own: the test restarts the "agent" under it.
      await new Promise(() => {});
    },
    async *logs(_req, hctx) {
      yield { component: "api", line: "first line" };
      // Follows until the client goes away.
      await new Promise((resolve) => hctx.signal.addEventListener("abort", resolve));
    },
  });
  await mkdir(join(dir, "services"));
  await writeFile(
    join(dir, "services", "mcq.toml"),
    'name = "mcq"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "mcr.example/mcq:v0.4.0"\n',
  );
  // The trailing newline and spaces are the first deployment's lesson: they must not reach the header.
  await writeFile(join(dir, "token"), "  test-token-123  \n\n", { mode: 0o600 });
  await writeConfig("mcp.toml", agent.caFile);
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await rm(dir, { recursive: true, force: true });
});

async function writeConfig(name: string, caFile: string, address = agent.address) {
  await writeFile(
    join(dir, name),
    `[[nodes]]\nname = "rift"\naddress = "${address}"\n\n[tls]\nca_cert = "${caFile}"\n`,
  );
  return join(dir, name);
}

async function mcp(args: string[], env: Record<string, string> = {}) {
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await run(args, {
    stdout: stdout as never,
    stderr: stderr as never,
    stdin: process.stdin,
    env: { MCP_CONFIG: join(dir, "mcp.toml"), ...env },
    cwd: dir,
    home: "/nonexistent",
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe("over real HTTP/2 + TLS", () => {
  it("talks to the agent trusting the configured CA, with the token trimmed into a Bearer header", async () => {
    const r = await mcp(["node", "list"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rift\s+127\.0\.0\.1:\d+\s+9\.9\.9\s+compute/m);
    expect(agent.authorizations.at(-1)).toBe("Bearer test-token-123");
  });

  it("refuses an agent whose certificate the configured CA did not sign (exit 3, names [tls] ca_cert)", async () => {
    const other = await ensureLocalCa(join(dir, "other"));
    const config = await writeConfig("other.toml", other.caFile);
    const r = await mcp(["ps"], { MCP_CONFIG: config });
    expect(r.code).toBe(ExitCode.Unavailable);
    expect(r.stderr).toMatch(
      /^error: TLS handshake with node rift \(127\.0\.0\.1:\d+\) failed: [A-Z_]+\n/,
    );
    expect(r.stderr).toContain("hint: check [tls] ca_cert in mcp.toml");
  });

  it("names the node and address of an agent that is not listening", async () => {
    const config = await writeConfig("down.toml", agent.caFile, "127.0.0.1:1");
    const r = await mcp(["ps"], { MCP_CONFIG: config });
    expect(r.code).toBe(ExitCode.Unavailable);
    expect(r.stderr).toBe(
      "error: node rift (127.0.0.1:1) did not answer: ECONNREFUSED\n" +
        "hint: is mcp-agent running there, and is the address in mcp.toml [[nodes]] right?\n",
    );
  });

  it("reports a deploy whose agent restarts mid-stream as broken, and exits 3", async () => {
    const started = new Promise<void>((resolve) => {
      deployStarted = resolve;
    });
    const pending = mcp(["deploy", "mcq"]);
    await started;
    agent.dropConnections();
    const r = await pending;
    expect(r.code).toBe(ExitCode.Unavailable);
    expect(r.stdout).toContain("… pull api");
    expect(r.stderr).toMatch(
      /^error: the connection to node rift \(127\.0\.0\.1:\d+\) broke during the deploy of mcq\n/,
    );
    expect(r.stderr).toContain("hint: the agent may have restarted");
  });

  it("works as the bundled binary, in a subprocess that exits on its own", async () => {
    const r = await execa(process.execPath, [bin, "ps"], {
      env: { MCP_CONFIG: join(dir, "mcp.toml"), NO_COLOR: "1", PATH: process.env.PATH ?? "" },
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /^NODE\s+SERVICE\s+COMPONENT\s+STATE\s+IMAGE\/VERSION\s+PORTS\s+UPTIME\nrift\s+mcq\s+api\s+running\s+v1\.0\.0/,
    );
  });

  it("colours a table only when asked: FORCE_COLOR on, NO_COLOR off even then", async () => {
    const ps = (env: Record<string, string>) =>
      execa(process.execPath, [bin, "ps"], {
        env: { MCP_CONFIG: join(dir, "mcp.toml"), PATH: process.env.PATH ?? "", ...env },
        extendEnv: false,
      });
    expect((await ps({ FORCE_COLOR: "1" })).stdout).toContain("\u001b[");
    expect((await ps({ FORCE_COLOR: "1", NO_COLOR: "1" })).stdout).not.toContain("\u001b[");
    expect((await ps({})).stdout).not.toContain("\u001b[");
    const json = await ps({ FORCE_COLOR: "1", MCP_TOKEN: "test-token-123" });
    expect(json.exitCode).toBe(0);
  });

  it("completes commands, and service names from the services directory", async () => {
    const env = { MCP_CONFIG: join(dir, "mcp.toml"), PATH: process.env.PATH ?? "" };
    const complete = (...words: string[]) =>
      execa(process.execPath, [bin, "--get-yargs-completions", "mcp", ...words], {
        env,
        extendEnv: false,
      });
    expect((await complete("deploy", "m")).stdout).toBe("mcq");
    expect((await complete("de")).stdout.split("\n")).toContain("deploy");
    expect((await complete("node", "")).stdout.split("\n")).toEqual(["list", "add", "provision"]);
    const script = await execa(process.execPath, [bin, "completion"], {
      env: { ...env, SHELL: "/bin/bash" },
      extendEnv: false,
    });
    expect(script.stdout).toContain("###-begin-mcp-completions-###");
  });

  it("Ctrl-C ends `logs -f` with exit 0, and interrupts a deploy with exit 130", async () => {
    const env = { MCP_CONFIG: join(dir, "mcp.toml"), PATH: process.env.PATH ?? "" };
    const interruptAfter = async (args: string[], marker: string) => {
      const proc = execa(process.execPath, [bin, ...args], {
        env,
        extendEnv: false,
        reject: false,
        timeout: 15_000,
      });
      let out = "";
      await new Promise<void>((resolve) => {
        proc.stdout?.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes(marker)) resolve();
        });
      });
      const t0 = performance.now();
      proc.kill("SIGINT");
      const r = await proc;
      return { ...r, afterSigint: performance.now() - t0, out };
    };
    const logs = await interruptAfter(["logs", "mcq", "-f"], "first line");
    expect(logs.exitCode).toBe(0);
    expect(logs.out).toBe("api | first line\n");
    expect(logs.afterSigint).toBeLessThan(3000);

    const deploy = await interruptAfter(["deploy", "mcq"], "pull api");
    expect(deploy.exitCode).toBe(130);
    expect(deploy.stderr).toBe(
      "error: interrupted during the deploy of mcq\nhint: the agent goes on with what it started (or undoes it); check `mcp status`",
    );
  });
});
