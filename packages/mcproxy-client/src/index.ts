export type {
  AddRouteInput,
  McProxyClient,
  McProxyClientOptions,
  McProxyListener,
  McProxyRoute,
  McProxyRouteMode,
  McProxyStatus,
} from "./client.ts";
export { createMcProxyClient, DEFAULT_TIMEOUT_MS } from "./client.ts";
export type { McProxyErrorKind } from "./errors.ts";
export {
  isMcProxyError,
  McProxyBadResponseError,
  McProxyConflictError,
  McProxyError,
  McProxyNotFoundError,
  McProxyRejectedError,
  McProxyTimeoutError,
  McProxyUnauthorizedError,
  McProxyUnreachableError,
} from "./errors.ts";
