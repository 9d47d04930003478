export { RULES, type RuleInfo, type RuleName, ruleList } from "./codes.ts";
export { formatDiagnostic } from "./diagnostic-format.ts";
export { format, tomlString } from "./format.ts";
export {
  type ContainerNameSplit,
  DEFAULT_DRAIN,
  DEFAULT_ZONE,
  DNS_LABEL,
  defaultHostname,
  type EffectiveHealthCheck,
  effectiveHealthCheck,
  HEALTH_DEFAULTS,
  parseDuration,
  portEnvName,
  type SplitResult,
  splitContainerName,
} from "./helpers.ts";
export {
  type ImageRef,
  imageRepository,
  imageVersion,
  parseImageRef,
  SEMVER_TAG,
} from "./image.ts";
export { isLoadError, LoadError, loadFile } from "./load.ts";
export { MAX_SOURCE_BYTES, parse, parseBytes, validate } from "./parse.ts";
export type {
  CommandHealthCheck,
  Component,
  Diagnostic,
  Duration,
  HealthCheck,
  HttpHealthCheck,
  ParseOptions,
  ParseResult,
  Route,
  ServiceDef,
  Severity,
  TcpHealthCheck,
} from "./types.ts";
