import type { SimModule } from "../framework.ts";
import { DEFAULT_LISTENERS, startMcProxySim } from "./sim.ts";

/**
 * mc-proxy as a sim module. Options: `listeners` — comma-separated public addresses to
 * serve (default ":443,:8443,:9443"); `socket` — admin socket path (default
 * `DIR/mcproxy/mc-proxy.sock`); `socketMode` — octal file mode of the socket (e.g. "666" when
 * the agent runs as another user). The endpoint's `socket` is the admin API; `extra` maps each
 * listener address to the loopback `host:port` that serves it.
 */
export const mcproxyModule: SimModule = {
  name: "mcproxy",
  description:
    "mc-proxy: SNI routing (L4 passthrough, L7 TLS 1.3 termination), admin gRPC on a unix socket",
  async start(ctx) {
    const listenerOption = ctx.options.listeners;
    const listeners =
      typeof listenerOption === "string" && listenerOption.trim() !== ""
        ? listenerOption.split(",").map((address) => ({ address: address.trim() }))
        : DEFAULT_LISTENERS;
    const socketOption = ctx.options.socket;
    const modeOption = ctx.options.socketMode;
    let socketMode: number | undefined;
    if (modeOption !== undefined && modeOption !== "") {
      socketMode = Number.parseInt(String(modeOption), 8);
      if (!/^[0-7]{3,4}$/.test(String(modeOption))) {
        throw new Error(`mcproxy: socketMode "${modeOption}" is not an octal file mode like 660`);
      }
    }
    const sim = await startMcProxySim({
      dir: ctx.dir,
      host: ctx.host,
      listeners,
      ...(typeof socketOption === "string" && socketOption !== ""
        ? { socketPath: socketOption }
        : {}),
      ...(socketMode !== undefined ? { socketMode } : {}),
      log: (event, fields) => ctx.log.info(event, fields),
    });
    const extra: Record<string, string> = {};
    for (const l of sim.listeners) {
      extra[l.address] = l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;
    }
    return {
      endpoint: { name: "mcproxy", socket: sim.socketPath, host: ctx.host, extra },
      stop: () => sim.stop(),
    };
  },
};
