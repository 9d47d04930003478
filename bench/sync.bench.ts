// `mcp sync` with 30 definitions and nothing to do, beside `podman-compose up -d` and an
// Ansible playbook (containers.podman.podman_container) doing the same no-op on the same 30
// services (same images, `--network none`, rootless Podman as user mcp for all three).
//
//   mcp:     the bundled CLI (packages/cli/dist/bin.js) in a subprocess, as an operator runs
//            it: reads 30 definitions, checks 30 image tags in a real docker-registry
//            (mcr-client checkTags), pushes the definitions to a real mcp-agent over TLS,
//            which compares them with its store and `podman ps`. Target < 2 s.
//   compose: `podman-compose -p P -f compose.yml up -d` (Debian's podman-compose).
//   ansible: `ansible-playbook` with one podman_container task looping over 30 items, state
//            started (Debian's ansible, which ships the containers.podman collection).
// Medians over BENCH_ROUNDS (default 7) for mcp and BENCH_PEER_ROUNDS (default 3) for the
// peers, after a first run that creates everything. podman-compose 1.0.3 (Debian 12) has no
// change detection: `up -d` runs `podman run` for every service (name in use → `podman
// start`) and sleeps 1 s after each Podman call, so its no-op costs about 2 s per service.
// Needs: podman, docker-registry, podman-compose, ansible (Debian packages), user mcp
// (scripts/setup-system.sh), and built packages: pnpm turbo run build --filter @mcp/cli...
// Run as root: . ./env.sh && node bench/sync.bench.ts

import { execFile, spawnSync } from "node:child_process";
import { chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger, startSim } from "@mcp/sim";
import { setupPodman, startRegistry } from "@mcp/testkit";
import { agentConfig, agentCredentials, spawnAgent, waitHealthy } from "./lib/agent.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, "../packages/cli/dist/bin.js");
// mcp sync rounds are cheap; each podman-compose no-op takes about a minute (below).
const MCP_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUNDS = Number(process.env.BENCH_PEER_ROUNDS ?? 3);
const N = Number(process.env.BENCH_SERVICES ?? 30);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const round = (n: number) => Math.round(n * 100) / 100;
const which = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

const dir = await mkdtemp(path.join(tmpdir(), "mcp-bench-sync-"));
const simDir = path.join(dir, "sim");
const sim = await startSim({ dir: simDir, only: ["mcias"], log: silentLogger });
const podman = await setupPodman();
const registry = await startRegistry();
let agentProc: import("node:child_process").ChildProcess | undefined;
const figures: Record<string, unknown>[] = [];
const log = (msg: string) => process.stderr.write(`[sync.bench] ${msg}\n`);
const notes: string[] = [];

/** Runs a command as the Podman user with its rootless environment; returns ms and status. */
function asMcp(args: string[], cwd: string): { ms: number; status: number | null; out: string } {
  const env = {
    ...podman.env,
    ANSIBLE_LOCAL_TEMP: path.join(cwd, ".ansible-tmp"),
    ANSIBLE_REMOTE_TEMP: path.join(cwd, ".ansible-tmp"),
    ANSIBLE_NOCOLOR: "1",
  } as Record<string, string>;
  const t = performance.now();
  const r = spawnSync(args[0] as string, args.slice(1), {
    cwd,
    env,
    uid: podman.user.uid,
    gid: podman.user.gid,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  return { ms: performance.now() - t, status: r.status, out: `${r.stdout}${r.stderr}` };
}

try {
  // 30 repositories in the registry (one image, 30 tags of it), so the check is 30 tags.
  const images: string[] = [];
  for (let i = 0; i < N; i++) {
    const ref = `${registry.host}/${podman.prefix}svc${i}:v1.0.0`;
    await podman.client.tagImage(podman.image, ref);
    await podman.client.pushImage(ref, { tlsVerify: false });
    images.push(ref);
  }
  const names = (tool: string) => Array.from({ length: N }, (_, i) => podman.name(`${tool}${i}`));

  // --- mcp: a real agent and the bundled CLI ---
  const { ca, token, port } = await agentCredentials(dir, simDir);
  const configFile = path.join(dir, "mcp-agent.toml");
  await writeFile(
    configFile,
    agentConfig({
      dir,
      port,
      sim,
      dbPath: `${dir}/state/mcp.db`,
      extra: "[registry]\ntls_verify = false\n",
    }),
  );
  agentProc = spawnAgent(configFile);
  await waitHealthy(port, ca.cert);
  const op = path.join(dir, "op");
  await mkdir(path.join(op, "services"), { recursive: true });
  await writeFile(
    path.join(op, "mcp.toml"),
    `[[nodes]]\nname = "bench"\naddress = "127.0.0.1:${port}"\n[tls]\nca_cert = "${ca.caFile}"\n[registry]\ntls_verify = false\n`,
  );
  await writeFile(path.join(op, "token"), `${token}\n`, { mode: 0o600 });
  const mcpNames = names("m");
  for (let i = 0; i < N; i++) {
    await writeFile(
      path.join(op, "services", `${mcpNames[i]}.toml`),
      `name = "${mcpNames[i]}"\nnode = "bench"\n\n[[components]]\nname = "app"\nimage = "${images[i]}"\nnetwork = "none"\n`,
    );
  }
  // Asynchronous on purpose: the sim's MCIAS, which the agent asks about the token, runs in
  // this process.
  const sync = () =>
    new Promise<{ ms: number; status: number | null; out: string }>((resolve) => {
      const t = performance.now();
      execFile(
        process.execPath,
        [CLI, "sync"],
        {
          env: {
            MCP_CONFIG: path.join(op, "mcp.toml"),
            NO_COLOR: "1",
            PATH: process.env.PATH ?? "",
          },
          timeout: 600_000,
          maxBuffer: 16 << 20,
        },
        (err, stdout, stderr) =>
          resolve({
            ms: performance.now() - t,
            status: err ? ((err as { code?: number }).code ?? 1) : 0,
            out: `${stdout}${stderr}`,
          }),
      );
    });
  log(`first mcp sync (deploys ${N})`);
  const first = await sync();
  if (first.status !== 0) throw new Error(`first mcp sync failed:\n${first.out}`);
  figures.push({ metric: `mcp sync, first (deploys ${N})`, value: round(first.ms), unit: "ms" });
  const mcpRuns: number[] = [];
  for (let i = 0; i < MCP_ROUNDS; i++) {
    const r = await sync();
    if (r.status !== 0 || !r.out.includes("nothing to do")) {
      throw new Error(`no-op mcp sync did something:\n${r.out}`);
    }
    mcpRuns.push(r.ms);
  }
  const mcpMs = median(mcpRuns);
  log(`mcp sync no-op: median ${round(mcpMs)} ms (${mcpRuns.map(round).join(", ")})`);
  figures.push({
    metric: `mcp sync, ${N} definitions, nothing to do: median wall time (CLI process)`,
    value: round(mcpMs),
    unit: "ms",
    target: "< 2000 ms",
  });
  agentProc.kill("SIGTERM");
  agentProc = undefined;
  // Keep the container count down (rootless keyring limit): mcp's set goes before the next.
  for (const n of mcpNames)
    await podman.client
      .removeContainer(`${n}-app`, { force: true, timeoutSeconds: 0 })
      .catch(() => {});

  const work = await podman.tempDir();
  const peer = async (
    label: string,
    tool: string,
    run: () => { ms: number; status: number | null; out: string },
    rounds: number,
    teardown: string[],
  ) => {
    log(`${label}: first run`);
    const setup = run();
    if (setup.status !== 0) {
      notes.push(`${label}: first run failed (${setup.status}): ${setup.out.slice(-400)}`);
      return;
    }
    figures.push({ metric: `${label}, first (creates ${N})`, value: round(setup.ms), unit: "ms" });
    const runs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      log(`${label}: no-op run ${i + 1}/${rounds}`);
      const r = run();
      if (r.status !== 0) {
        notes.push(`${label}: no-op run failed: ${r.out.slice(-400)}`);
        return;
      }
      runs.push(r.ms);
    }
    const ms = median(runs);
    figures.push({
      metric: `${label}, ${N} services, nothing to do: median wall time`,
      value: round(ms),
      unit: "ms",
    });
    figures.push({
      metric: `mcp sync vs ${tool}, ${N} services, nothing to do`,
      value: round(mcpMs),
      unit: "ms",
      baseline: round(ms),
      ratio: Math.round((mcpMs / ms) * 1000) / 1000,
      target: `ratio < 1 (baseline: ${label})`,
    });
    log(`${label}: median ${round(ms)} ms`);
    for (const n of teardown)
      await podman.client.removeContainer(n, { force: true, timeoutSeconds: 0 }).catch(() => {});
  };

  // --- podman-compose ---
  if (which("podman-compose")) {
    const cNames = names("c");
    const compose = `version: "3"\nservices:\n${cNames
      .map(
        (n, i) =>
          `  s${i}:\n    image: ${images[i]}\n    container_name: ${n}\n    network_mode: none\n    labels:\n      mcp-testkit.run: "${podman.runId}"\n`,
      )
      .join("")}`;
    await writeFile(path.join(work, "compose.yml"), compose);
    await chown(path.join(work, "compose.yml"), podman.user.uid, podman.user.gid);
    await peer(
      "podman-compose up -d",
      "podman-compose",
      () =>
        asMcp(
          ["podman-compose", "-p", `${podman.prefix}compose`, "-f", "compose.yml", "up", "-d"],
          work,
        ),
      ROUNDS,
      cNames,
    );
  } else notes.push("podman-compose not installed (apt-get install -y podman-compose)");

  // --- Ansible ---
  const collection = "/usr/lib/python3/dist-packages/ansible_collections/containers/podman";
  if (which("ansible-playbook") && spawnSync("test", ["-d", collection]).status === 0) {
    const aNames = names("a");
    const items = aNames
      .map((n, i) => `      - { name: "${n}", image: "${images[i]}" }`)
      .join("\n");
    await writeFile(
      path.join(work, "playbook.yml"),
      `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: services
      containers.podman.podman_container:
        name: "{{ item.name }}"
        image: "{{ item.image }}"
        state: started
        network: none
        label:
          mcp-testkit.run: "${podman.runId}"
      loop:
${items}
`,
    );
    await chown(path.join(work, "playbook.yml"), podman.user.uid, podman.user.gid);
    await mkdir(path.join(work, ".ansible-tmp"), { recursive: true });
    await chown(path.join(work, ".ansible-tmp"), podman.user.uid, podman.user.gid);
    await peer(
      "ansible-playbook (containers.podman.podman_container)",
      "ansible",
      () => asMcp(["ansible-playbook", "-i", "localhost,", "playbook.yml"], work),
      ROUNDS,
      aNames,
    );
  } else
    notes.push(
      "ansible or its containers.podman collection not installed (apt-get install -y ansible)",
    );

  const result = { name: "sync", figures, ...(notes.length ? { notes } : {}) };
  await writeFile(path.join(here, "results", "sync.json"), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
} finally {
  agentProc?.kill("SIGTERM");
  await podman.cleanup();
  await registry.stop();
  await sim.stop();
  await rm(dir, { recursive: true, force: true });
}
