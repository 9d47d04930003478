export { mcproxyModule } from "./module.ts";
export type { RouteMode, RouteSpec } from "./routes.ts";
export type {
  McProxyListenerConfig,
  McProxySim,
  McProxySimListener,
  McProxySimOptions,
} from "./sim.ts";
export { DEFAULT_LISTENERS, MCPROXY_SIM_VERSION, startMcProxySim } from "./sim.ts";
