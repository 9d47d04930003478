export type { AuthChallenge } from "./challenge.ts";
export { parseLinkNext, parseWwwAuthenticate, repositoryScope } from "./challenge.ts";
export type {
  CallOptions,
  CheckTagsOptions,
  ManifestInfo,
  McrClient,
  McrClientOptions,
  McrCredentials,
  TagCheck,
  TagRef,
} from "./client.ts";
export {
  createMcrClient,
  DEFAULT_CONCURRENCY,
  DEFAULT_MCIAS_TOKEN_USERNAME,
  DEFAULT_PAGE_SIZE,
  DEFAULT_TIMEOUT_MS,
  HttpMcrClient,
  isLoopbackHost,
  MANIFEST_MEDIA_TYPES,
} from "./client.ts";
export type { McrErrorCode } from "./errors.ts";
export {
  isMcrBadResponse,
  isMcrError,
  isMcrInvalidArgument,
  isMcrNotFound,
  isMcrTimeout,
  isMcrUnauthorized,
  isMcrUnreachable,
  McrBadResponseError,
  McrError,
  McrInvalidArgumentError,
  McrNotFoundError,
  McrTimeoutError,
  McrUnauthorizedError,
  McrUnreachableError,
} from "./errors.ts";
export { mapLimit } from "./limit.ts";
export type { ImageReference } from "./reference.ts";
export { formatImageReference, parseImageReference } from "./reference.ts";
export { DEFAULT_TOKEN_LIFETIME_S, TokenCache } from "./token-cache.ts";
