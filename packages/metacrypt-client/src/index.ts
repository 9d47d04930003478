export {
  certificateExpiry,
  DEFAULT_MIN_VALIDITY_MS,
  needsRenewal,
  readCertificateExpiry,
} from "./cert.ts";
export type {
  CallOptions,
  IssueCertificateRequest,
  IssuedCertificate,
  MetacryptClient,
  MetacryptClientOptions,
} from "./client.ts";
export { createMetacryptClient, DEFAULT_TIMEOUT_MS } from "./client.ts";
export type { MetacryptErrorKind } from "./errors.ts";
export {
  InvalidCertificateError,
  isInvalidCertificateError,
  isMetacryptBadResponseError,
  isMetacryptError,
  isMetacryptNotFoundError,
  isMetacryptRejectedError,
  isMetacryptServerError,
  isMetacryptTimeoutError,
  isMetacryptUnauthorizedError,
  isMetacryptUnreachableError,
  MetacryptBadResponseError,
  MetacryptError,
  MetacryptNotFoundError,
  MetacryptRejectedError,
  MetacryptServerError,
  MetacryptTimeoutError,
  MetacryptUnauthorizedError,
  MetacryptUnreachableError,
} from "./errors.ts";
export { parseIssueResponse } from "./response.ts";
