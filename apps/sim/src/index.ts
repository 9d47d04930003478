export { parseDuration } from "./duration.ts";
export type {
  SimContext,
  SimEndpoint,
  SimHandle,
  SimLogger,
  SimModule,
  SimTls,
} from "./framework.ts";
export { closeServer, hostPort, listenPreferred } from "./framework.ts";
export { DEFAULT_TOKEN_TTL, MciasStore, mciasModule, mintSimToken } from "./mcias/index.ts";
export type { McnsSim, McnsSimOptions } from "./mcns/index.ts";
export { answerQuery, DEFAULT_ZONES, mcnsModule, RecordStore, startMcnsSim } from "./mcns/index.ts";
export { DEFAULT_LISTENERS, mcproxyModule, startMcProxySim } from "./mcproxy/index.ts";
export type { MetacryptSim, MetacryptSimOptions } from "./metacrypt/index.ts";
export { metacryptModule, parseGoDuration, SimCa, startMetacryptSim } from "./metacrypt/index.ts";
export { simModules } from "./modules.ts";
export type { RegistryAuthSim, RegistryConfigOptions } from "./registry-auth/index.ts";
export {
  registryAuthModule,
  registryTokenAuthConfig,
  startRegistryAuthSim,
  writeRegistryConfig,
} from "./registry-auth/index.ts";
export type { SimInfo, SimInstance, StartSimOptions } from "./runner.ts";
export { planModules, readSimInfo, silentLogger, startSim } from "./runner.ts";
export { ensureLocalCa, issueServerCert } from "./tls.ts";
