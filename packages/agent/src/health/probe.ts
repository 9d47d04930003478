import { request } from "node:http";
import { connect } from "node:net";
import { errorLine } from "../errors.ts";
import type { ContainerRuntime } from "../runtime/runtime.ts";
import type { PortAssignment } from "../store/store.ts";
import type { HealthPolicy } from "./decide.ts";

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in a few words; "" on success. */
  message: string;
}

const OK: ProbeResult = { ok: true, message: "" };
const fail = (message: string): ProbeResult => ({ ok: false, message });

/** GET http://host:port/path; ok when the answer has the expected status. */
export function httpProbe(
  host: string,
  port: number,
  path: string,
  status: number,
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    // No keep-alive agent: a pooled socket to the old container must not answer for the new.
    const req = request(
      { host, port, path, method: "GET", agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code === status ? OK : fail(`GET ${path} answered ${code}, expected ${status}`));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => resolve(fail(`GET ${host}:${port}${path}: ${errorLine(e)}`)));
    req.end();
  });
}

/**
 * A TCP connect to host:port that the far end keeps open for `holdMs` (or answers on).
 * Rootless Podman's port forwarder accepts every connection on the host and closes it
 * ~200 ms later when nothing listens in the container, so a bare connect proves nothing.
 */
export function tcpProbe(
  host: string,
  port: number,
  timeoutMs: number,
  holdMs = 500,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const finish = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish(fail(`connect ${host}:${port}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once("connect", () => {
      clearTimeout(timer);
      setTimeout(() => finish(OK), Math.min(holdMs, timeoutMs));
    });
    socket.once("data", () => finish(OK));
    socket.once("close", () =>
      finish(fail(`connect ${host}:${port}: closed at once (nothing listening behind the port?)`)),
    );
    socket.once("error", (e) => finish(fail(`connect ${host}:${port}: ${errorLine(e)}`)));
  });
}

/** The command inside the container (`podman exec`); ok on exit 0. */
export async function commandProbe(
  runtime: Pick<ContainerRuntime, "exec">,
  container: string,
  command: string[],
  timeoutMs: number,
): Promise<ProbeResult> {
  if (!runtime.exec) return fail("the container runtime cannot run commands in containers");
  try {
    const r = await runtime.exec(container, command, { timeoutMs });
    if (r.exitCode === 0) return OK;
    const why = (r.stderr || r.stdout).trim().split("\n").at(-1) ?? "";
    return fail(`${command.join(" ")} exited ${r.exitCode}${why ? `: ${why}` : ""}`);
  } catch (e) {
    return fail(errorLine(e));
  }
}

export interface ProbeTarget {
  /** Container to run a command check in. */
  container: string;
  /** The ports the container publishes (its own assignments, not the registry's). */
  ports: PortAssignment[];
  component: string;
  /** Host that reaches published ports; 127.0.0.1 on the node itself. */
  host: string;
}

/**
 * One probe of a component's container under its policy: the HTTP GET, every route's TCP
 * connect, or the command. Never throws.
 */
export async function probeOnce(
  policy: HealthPolicy,
  target: ProbeTarget,
  runtime: Pick<ContainerRuntime, "exec">,
): Promise<ProbeResult> {
  const { check } = policy;
  if (check.type === "command") {
    return commandProbe(runtime, target.container, check.command, policy.timeoutMs);
  }
  const ports = policy.routes.map((r) => {
    const p = target.ports.find(
      (x) => x.component === target.component && x.route === (r.name ?? ""),
    );
    return p?.hostPort;
  });
  if (ports.length === 0 || ports.some((p) => p === undefined)) {
    return fail("no host port for the checked route");
  }
  for (const port of ports as number[]) {
    const r =
      check.type === "http"
        ? await httpProbe(
            target.host,
            port,
            check.path ?? "/",
            check.status ?? 200,
            policy.timeoutMs,
          )
        : await tcpProbe(target.host, port, policy.timeoutMs);
    if (!r.ok) return r;
  }
  return OK;
}
