// @mcp/fleet: `mcp agent upgrade` against nodes reached over real SSH, running the real agent.
//
//   1. Upgrading two nodes concurrently against one: two OpenSSH servers on 127.0.0.2 and
//      127.0.0.3 stand in for two nodes (each with its own agent dir, agent and port); every
//      round upgrades to the other of two real artifacts. Ratio of medians; target < 1.5×.
//   2. The agent's downtime during an upgrade, seen from the node side: /healthz polled
//      every 50 ms during the whole upgrade; downtime = the longest run of failed polls
//      (first failure to next success). Target < 2 s.
// The agents run under the pidfile service manager (systemd is not PID 1 here).
// Run: . ./env.sh && pnpm --filter @mcp/fleet... build && node bench/fleet.bench.ts

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:http2";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  buildAgentArtifact,
  type FleetNode,
  PidfileServiceManager,
  SshNodeOps,
  SystemSsh,
  upgradeAgents,
} from "@mcp/fleet";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const TRACE = process.env.BENCH_TRACE === "1";
const T0 = performance.now();
const AGENT_DIR = path.join(here, "..", "packages", "agent");

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

const work = await mkdtemp(path.join(tmpdir(), "mcp-fleet-bench-"));
const sshds: { pid: number; dir: string }[] = [];
const nodes: (FleetNode & { port: number; ca: string })[] = [];
const ssh = new SystemSsh({ connectTimeoutSeconds: 10 });
const service = new PidfileServiceManager({ ssh, env: { MCP_AGENT_NODE: process.execPath } });
const ops = new SshNodeOps({ ssh, service });

async function startSshd(host: string) {
  const dir = path.join(work, `sshd-${host}`);
  await mkdir(dir, { recursive: true });
  await mkdir("/run/sshd", { recursive: true });
  for (const k of ["host_key", "client_key"]) {
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, k)]);
  }
  await writeFile(
    path.join(dir, "authorized_keys"),
    await readFile(path.join(dir, "client_key.pub")),
  );
  const port = await freePort(host);
  await writeFile(
    path.join(dir, "sshd_config"),
    `Port ${port}\nListenAddress ${host}\nHostKey ${dir}/host_key\nPidFile ${dir}/sshd.pid\nAuthorizedKeysFile ${dir}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n`,
  );
  const key = (await readFile(path.join(dir, "host_key.pub"), "utf8"))
    .split(" ")
    .slice(0, 2)
    .join(" ");
  await writeFile(path.join(dir, "known_hosts"), `[${host}]:${port} ${key}\n`);
  const { spawn } = await import("node:child_process");
  const p = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(dir, "sshd_config")], {
    stdio: "ignore",
  });
  sshds.push({ pid: p.pid as number, dir });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = createConnection({ host, port }, () => {
        c.destroy();
        r(true);
      });
      c.on("error", () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host,
    port,
    user: "root",
    identityFile: path.join(dir, "client_key"),
    knownHostsFile: path.join(dir, "known_hosts"),
  };
}

function health(port: number, ca: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://127.0.0.1:${port}`, { ca });
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error("timeout"));
    }, timeoutMs);
    session.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const req = session.request({ ":path": "/healthz" });
    let body = "";
    req.on("data", (d: Buffer) => {
      body += d.toString();
    });
    req.on("end", () => {
      clearTimeout(timer);
      session.close();
      try {
        resolve((JSON.parse(body) as { version: string }).version);
      } catch (e) {
        reject(e);
      }
    });
    req.on("error", (e) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    });
    req.end();
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

try {
  const artifacts = path.join(work, "artifacts");
  const versions = ["bench-a", "bench-b"];
  for (const version of versions) {
    await buildAgentArtifact({
      agentDir: AGENT_DIR,
      arch: "amd64",
      version,
      outDir: artifacts,
      smokeTestNode: false,
    });
  }
  for (const [i, host] of ["127.0.0.2", "127.0.0.3"].entries()) {
    const target = await startSshd(host);
    const dir = path.join(work, `node${i + 1}`, "srv", "mcp");
    await mkdir(path.join(dir, "certs"), { recursive: true });
    const cert = path.join(dir, "certs", "cert.pem");
    const key = path.join(dir, "certs", "key.pem");
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    const port = await freePort("127.0.0.1");
    await writeFile(
      path.join(dir, "mcp-agent.toml"),
      `[server]\ngrpc_addr = "127.0.0.1:${port}"\ntls_cert = "${cert}"\ntls_key = "${key}"\n[database]\npath = "${dir}/mcp.db"\n[mcias]\nserver_url = "https://127.0.0.1:9/"\n[agent]\nnode_name = "node${i + 1}"\n[podman]\nrun_as = "mcp"\n[log]\nlevel = "warn"\n`,
    );
    nodes.push({
      name: `node${i + 1}`,
      arch: "amd64",
      ssh: target,
      dir,
      port,
      ca: await readFile(cert, "utf8"),
    });
  }
  const verify = (n: FleetNode) => {
    const x = nodes.find((m) => m.name === n.name) as (typeof nodes)[number];
    return health(x.port, x.ca);
  };
  const upgrade = async (ns: FleetNode[], version: string) => {
    const t0 = performance.now();
    const s = await upgradeAgents(
      { nodes: ns, artifactsDir: artifacts, version, ops, verify, pollMs: 50 },
      (p) => {
        if (TRACE)
          console.log(`${(performance.now() - T0).toFixed(0)} ${p.node} ${p.phase} ${p.state}`);
      },
    );
    const ms = performance.now() - t0;
    if (!s.ok) throw new Error(`upgrade failed: ${s.results.map((r) => r.error).join("; ")}`);
    return ms;
  };
  // Both nodes start on bench-a (not timed).
  await upgrade(nodes, "bench-a");

  const one: number[] = [];
  const two: number[] = [];
  const downtimes: number[] = [];
  let next = 1;
  for (let r = 0; r < ROUNDS; r++) {
    const version = versions[next] as string;
    next = 1 - next;
    // One node, with the health poller running against it.
    const n1 = nodes[0] as (typeof nodes)[number];
    let polling = true;
    let downSince: number | undefined;
    let longest = 0;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        const ok = await health(n1.port, n1.ca, 500).then(
          () => true,
          () => false,
        );
        if (TRACE && ok !== (downSince === undefined))
          console.log(`${(t - T0).toFixed(0)} health ${ok ? "up" : "down"}`);
        if (!ok && downSince === undefined) downSince = t;
        if (ok && downSince !== undefined) {
          longest = Math.max(longest, performance.now() - downSince);
          downSince = undefined;
        }
        await new Promise((res) => setTimeout(res, Math.max(0, 50 - (performance.now() - t))));
      }
    })();
    one.push(await upgrade([n1, nodes[1] as FleetNode].slice(0, 1), version));
    polling = false;
    await poller;
    downtimes.push(longest);
    // Bring node2 to the same version so the next two-node round upgrades both.
    await upgrade([nodes[1] as FleetNode], version);
    const other = versions[next] as string;
    two.push(await upgrade(nodes, other));
    // Undo so the next one-node round has work to do.
    await upgrade(nodes, version);
    console.log(
      `round ${r + 1}: one ${one.at(-1)?.toFixed(0)} ms, two ${two.at(-1)?.toFixed(0)} ms, downtime ${longest.toFixed(0)} ms`,
    );
  }
  const m1 = median(one);
  const m2 = median(two);
  const figures = [
    {
      metric: `upgrade one node (real SSH, real agent), median of ${ROUNDS}`,
      value: Number((m1 / 1000).toFixed(2)),
      unit: "s",
    },
    {
      metric: `upgrade two nodes concurrently, median of ${ROUNDS}`,
      value: Number((m2 / 1000).toFixed(2)),
      unit: "s",
      baseline: Number((m1 / 1000).toFixed(2)),
      ratio: Number((m2 / m1).toFixed(2)),
      target: "ratio < 1.5",
    },
    {
      metric: `agent downtime during an upgrade (healthz every 50 ms), median of ${ROUNDS}`,
      value: Number((median(downtimes) / 1000).toFixed(2)),
      unit: "s",
      target: "< 2 s",
    },
    {
      metric: "agent downtime during an upgrade, worst",
      value: Number((Math.max(...downtimes) / 1000).toFixed(2)),
      unit: "s",
    },
  ];
  for (const f of figures) {
    console.log(
      `${f.metric}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` ratio ${f.ratio}` : ""}`,
    );
  }
  await writeFile(
    path.join(here, "results", "fleet.json"),
    `${JSON.stringify({ name: "fleet", figures }, null, 2)}\n`,
  );
} finally {
  for (const n of nodes) await service.stop(n).catch(() => {});
  for (const s of sshds) {
    try {
      process.kill(s.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
  await rm(work, { recursive: true, force: true });
}
