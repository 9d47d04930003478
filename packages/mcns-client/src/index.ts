export type {
  CallOptions,
  EnsureResult,
  McnsClient,
  McnsClientOptions,
  RecordFilter,
} from "./client.ts";
export { createMcnsClient, DEFAULT_TIMEOUT_MS } from "./client.ts";
export type { McnsErrorKind } from "./errors.ts";
export {
  isMcnsBadResponseError,
  isMcnsConflictError,
  isMcnsError,
  isMcnsNotFoundError,
  isMcnsRejectedError,
  isMcnsServerError,
  isMcnsTimeoutError,
  isMcnsUnauthorizedError,
  isMcnsUnreachableError,
  McnsBadResponseError,
  McnsConflictError,
  McnsError,
  McnsNotFoundError,
  McnsRejectedError,
  McnsServerError,
  McnsTimeoutError,
  McnsUnauthorizedError,
  McnsUnreachableError,
} from "./errors.ts";
export type { DnsRecord, NewRecord, RecordType } from "./records.ts";
export {
  checkNewRecord,
  DEFAULT_TTL,
  normaliseZone,
  parseRecord,
  parseRecordList,
  RECORD_TYPES,
  relativeName,
  sameRecord,
} from "./records.ts";
