export type { CachedValidatorOptions } from "./cache.ts";
export { CachedValidator } from "./cache.ts";
export type {
  CallOptions,
  LoginRequest,
  LoginResult,
  MciasClient,
  MciasClientOptions,
  TokenValidation,
} from "./client.ts";
export { createMciasClient, DEFAULT_TIMEOUT_MS, HttpMciasClient, isAdmin } from "./client.ts";
export type { MciasErrorCode } from "./errors.ts";
export {
  isMciasError,
  isMciasUnauthorized,
  isMciasUnavailable,
  MciasBadResponseError,
  MciasError,
  MciasUnauthorizedError,
  MciasUnavailableError,
} from "./errors.ts";
