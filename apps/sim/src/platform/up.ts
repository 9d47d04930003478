/**
 * `mcp-sim up`: the whole local platform in the background — the sim services, a real
 * docker-registry with token auth through the sim's registry-auth, and an mcp-agent whose
 * Podman runs rootless as `mcp` — plus the operator's mcp.toml and token, so that
 * `MCP_CONFIG=DIR/mcp.toml mcp …` works. Parts already running are left alone.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { connect } from "node:http2";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PodmanClient } from "@mcp/podman-client";
import { ensureTestImage, podmanUser } from "@mcp/testkit";
import { mintSimToken } from "../mcias/index.ts";
import { readSimInfo } from "../runner.ts";
import { ensureLocalCa, issueServerCert, writeFileAtomic } from "../tls.ts";
import {
  agentConfig,
  mcpToml,
  type PartName,
  type PlatformLayout,
  type PlatformState,
  pickPortLow,
  platformLayout,
  registryConfig,
  type SimFacts,
  simFacts,
} from "./layout.ts";
import {
  type Detached,
  isStale,
  type PidFile,
  pickPort,
  runningPart,
  spawnDetached,
  stopPart,
  waitReady,
} from "./process.ts";

export interface UpOptions {
  dir: string;
  /** Root of the source trees for `mcp build`; default the repository's examples/. */
  workspace?: string;
  /** mcp-agent's bin.js; default packages/agent/dist/bin.js of this repository. */
  agentBin?: string;
  /** The unprivileged user the agent runs Podman as (default "mcp"). */
  podmanUser?: string;
  nodeName?: string;
  /** Progress lines (one per part). */
  log?: (line: string) => void;
}

export interface PartStatus {
  name: PartName;
  pid: number;
  /** false: it was running already and was left alone. */
  started: boolean;
  address: string;
}

export interface UpResult {
  layout: PlatformLayout;
  state: PlatformState;
  sim: SimFacts;
  parts: PartStatus[];
  registryHost: string;
  podmanUser: string;
}

/** The repository root: the nearest directory above this module with pnpm-workspace.yaml. */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let d = from;
  for (;;) {
    if (existsSync(join(d, "pnpm-workspace.yaml"))) return d;
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

async function readState(file: string): Promise<Partial<PlatformState>> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Partial<PlatformState>;
  } catch {
    return {};
  }
}

/**
 * The first directory above `dir` that other users cannot search, if any. Podman runs as
 * another user and reads the registry auth file the agent writes beside its database.
 */
async function blockedAncestor(dir: string): Promise<string | undefined> {
  for (let d = dirname(dir); ; d = dirname(d)) {
    // Directories still to be created get mkdir's default mode, searchable by others.
    const st = await stat(d).catch(() => undefined);
    if (st && (st.mode & 0o001) === 0) return d;
    if (dirname(d) === d) return undefined;
  }
}

function healthz(port: number, ca: string): Promise<boolean> {
  return new Promise((resolveP) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca });
    const timer = setTimeout(() => {
      session.destroy();
      resolveP(false);
    }, 2000);
    session.on("error", () => {
      clearTimeout(timer);
      resolveP(false);
    });
    const req = session.request({ ":path": "/healthz", ":method": "GET" });
    let status = 0;
    req.on("response", (h) => {
      status = Number(h[":status"]);
    });
    req.on("data", () => {});
    req.on("end", () => {
      clearTimeout(timer);
      session.close();
      resolveP(status === 200);
    });
    req.on("error", () => {
      clearTimeout(timer);
      session.destroy();
      resolveP(false);
    });
    req.end();
  });
}

/** The part's running process, after stopping it when its program was rebuilt since. */
async function current(
  runDir: string,
  part: PartName,
  log: (line: string) => void,
): Promise<PidFile | undefined> {
  const p = await runningPart(runDir, part);
  if (p && (await isStale(p))) {
    log(`${part.padEnd(9)} ${p.program} was rebuilt: restarting (pid ${p.pid})`);
    await stopPart(runDir, part);
    return undefined;
  }
  return p;
}

/** Where the agent's state goes when DIR is closed to other users: sticky and open. */
const tmpStateRoot = "/var/tmp";

export async function upPlatform(opts: UpOptions): Promise<UpResult> {
  const log = opts.log ?? (() => {});
  const layout = platformLayout(resolve(opts.dir));
  const root = repoRoot();
  const simBin = fileURLToPath(new URL("./bin.js", import.meta.url));
  const agentBin =
    opts.agentBin ?? (root ? join(root, "packages", "agent", "dist", "bin.js") : undefined);
  if (!agentBin || !existsSync(agentBin)) {
    throw new Error(
      `mcp-agent is not built (${agentBin ?? "packages/agent/dist/bin.js"} is missing): run pnpm build, or pass --agent-bin`,
    );
  }
  if (!existsSync(simBin)) {
    throw new Error(`mcp-sim is not built (${simBin} is missing): run pnpm build`);
  }
  const user = await podmanUser(opts.podmanUser ?? "mcp");

  const blocked = await blockedAncestor(layout.dir);
  if (blocked) {
    const id = createHash("sha256").update(layout.dir).digest("hex").slice(0, 12);
    layout.agentStateDir = join(tmpStateRoot, `mcp-sim-${id}`, "agent");
    log(
      `note      ${blocked} is closed to other users (Podman runs as one): the agent's database and registry auth file go to ${layout.agentStateDir}`,
    );
    await mkdir(layout.agentStateDir, { recursive: true });
    await chmod(dirname(layout.agentStateDir), 0o711);
    await chmod(layout.agentStateDir, 0o711);
  }
  for (const d of [layout.dir, layout.agentDir]) {
    await mkdir(d, { recursive: true });
    await chmod(d, 0o711);
  }
  for (const d of [layout.runDir, layout.logsDir, layout.servicesDir, layout.registryDir]) {
    await mkdir(d, { recursive: true });
  }

  const previous = await readState(layout.stateFile);
  const workspace =
    opts.workspace !== undefined
      ? resolve(opts.workspace)
      : (previous.workspace ?? (root ? join(root, "examples") : join(layout.dir, "src")));
  const parts: PartStatus[] = [];

  // 1. The sim services.
  let simPid = (await current(layout.runDir, "sim", log))?.pid;
  const simStarted = simPid === undefined;
  if (simPid === undefined) {
    const d = await spawnDetached({
      part: "sim",
      command: process.execPath,
      args: [simBin, "run", "--dir", layout.simDir],
      program: simBin,
      runDir: layout.runDir,
      logFile: join(layout.logsDir, "sim.log"),
      marker: layout.simDir,
    });
    await waitReady(
      d,
      "mcp-sim run",
      async () => {
        const info = await readSimInfo(layout.simDir);
        return info?.running === true && info.pid === d.pid;
      },
      30_000,
    );
    simPid = d.pid;
  }
  const info = await readSimInfo(layout.simDir);
  if (!info?.running) throw new Error(`${layout.simDir}/sim.json says the sim is not running`);
  const sim = simFacts(info);
  parts.push({
    name: "sim",
    pid: simPid,
    started: simStarted,
    address: `mcias ${sim.mcias.url}, metacrypt ${sim.metacrypt.url}, mcns ${sim.mcns.url} (DNS 127.0.0.1:${sim.mcns.dnsPort}), mcproxy ${Object.entries(
      sim.mcproxy.listeners,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}, registry-auth ${sim.registryAuth.realm}`,
  });
  log(`sim       ${simStarted ? "started" : "already running"} (pid ${simPid})`);

  // 2. Credentials for the operator and the agent, from the sim's MCIAS.
  const passwords = JSON.parse(
    await readFile(join(layout.simDir, "mcias", "initial-passwords.json"), "utf8"),
  ) as { admin?: string };
  if (!passwords.admin) throw new Error("the sim's MCIAS has no initial admin password");
  await writeFileAtomic(layout.registryPassword, `${passwords.admin}\n`, 0o600);
  const { token } = await mintSimToken(layout.simDir, "admin", "30d");
  await writeFileAtomic(layout.token, `${token}\n`, 0o600);

  // 3. The registry.
  const state: PlatformState = {
    version: 1,
    registryPort: previous.registryPort ?? 0,
    agentPort: previous.agentPort ?? 0,
    portLow: previous.portLow ?? pickPortLow(Math.random()),
    nodeName: opts.nodeName ?? previous.nodeName ?? "local",
    workspace,
  };
  const reg = await runningPart(layout.runDir, "registry");
  let regPid = reg?.pid;
  if (regPid === undefined) {
    state.registryPort = await pickPort(previous.registryPort);
    await writeFile(
      layout.registryConfig,
      registryConfig(layout, state.registryPort, sim.registryAuth),
    );
    const d: Detached = await spawnDetached({
      part: "registry",
      command: "/usr/bin/docker-registry",
      args: ["serve", layout.registryConfig],
      runDir: layout.runDir,
      logFile: join(layout.logsDir, "registry.log"),
      marker: layout.registryConfig,
    });
    await waitReady(
      d,
      "docker-registry",
      async () => {
        const res = await fetch(`http://127.0.0.1:${state.registryPort}/v2/`, {
          signal: AbortSignal.timeout(1000),
        });
        return res.status === 401;
      },
      15_000,
    );
    regPid = d.pid;
  }
  const registryHost = `127.0.0.1:${state.registryPort}`;
  parts.push({
    name: "registry",
    pid: regPid,
    started: reg === undefined,
    address: `http://${registryHost} (token auth: ${sim.registryAuth.realm})`,
  });
  log(`registry  ${reg === undefined ? "started" : "already running"} (pid ${regPid})`);

  // 4. The base image the demo and workspace builds start FROM, in the operator's storage.
  await ensureTestImage(new PodmanClient());

  // 5. The agent.
  const ca = await ensureLocalCa(layout.simDir);
  if (!existsSync(layout.agentCert) || !existsSync(layout.agentKey)) {
    const leaf = await issueServerCert(ca, { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
    await writeFileAtomic(layout.agentCert, leaf.cert, 0o600);
    await writeFileAtomic(layout.agentKey, leaf.key, 0o600);
  }
  const ag = await current(layout.runDir, "agent", log);
  let agentPid = ag?.pid;
  if (agentPid === undefined) {
    state.agentPort = await pickPort(previous.agentPort);
    await writeFile(layout.agentConfig, agentConfig(layout, state, sim, user.name));
    const d = await spawnDetached({
      part: "agent",
      command: process.execPath,
      args: [agentBin, "server", "--config", layout.agentConfig],
      program: agentBin,
      runDir: layout.runDir,
      logFile: join(layout.logsDir, "agent.log"),
      marker: layout.agentConfig,
    });
    await waitReady(d, "mcp-agent", () => healthz(state.agentPort, ca.cert), 30_000);
    agentPid = d.pid;
  }
  parts.push({
    name: "agent",
    pid: agentPid,
    started: ag === undefined,
    address: `https://127.0.0.1:${state.agentPort} (node ${state.nodeName}; runs as ${process.getuid?.() === 0 ? "root" : "this user"}, Podman rootless as ${user.name})`,
  });
  log(`agent     ${ag === undefined ? "started" : "already running"} (pid ${agentPid})`);

  await writeFile(layout.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  await writeFile(layout.mcpToml, mcpToml(layout, state, sim));
  return { layout, state, sim, parts, registryHost, podmanUser: user.name };
}
