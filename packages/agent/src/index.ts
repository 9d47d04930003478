export { Agent, type AgentInfo, diffDefs } from "./agent.ts";
export {
  type AgentConfig,
  ConfigError,
  configKeys,
  durationMs,
  isConfigError,
  parseConfig,
} from "./config.ts";
export { type ComponentDrift, compareService } from "./deploy/drift.ts";
export {
  Engine,
  type EngineDeps,
  type EngineOptions,
  nextName,
  type OperationResult,
} from "./deploy/engine.ts";
export {
  type ContainerAction,
  containerSpecFor,
  LABEL_COMPONENT,
  LABEL_SERVICE,
  LABEL_SPEC_HASH,
  LABEL_VERSION,
  planContainers,
} from "./deploy/plan.ts";
export { allocatePorts, candidatePorts, diffPorts, probeHostPort } from "./deploy/ports.ts";
export {
  ImageRetention,
  type ImageRetentionDeps,
  imagesToPrune,
  normalizeImageRef,
  type PruneResult,
  trackPulls,
} from "./deploy/retention.ts";
export { runSteps, type Step, type StepEvent, type StepOutcome } from "./deploy/steps.ts";
export {
  AgentError,
  InvalidArgumentError,
  InvalidSpecError,
  isAgentError,
  NotFoundError,
  PreconditionError,
  StepFailedError,
  UnavailableError,
} from "./errors.ts";
export {
  type ContainerHealth,
  HealthChecker,
  type HealthCheckerOptions,
  type Prober,
} from "./health/checker.ts";
export {
  type HealthPolicy,
  type HealthRecord,
  type HealthStatus,
  healthDeadlineMs,
  healthPolicy,
  initialHealth,
  probeDue,
  recordProbe,
} from "./health/decide.ts";
export {
  commandProbe,
  httpProbe,
  type ProbeResult,
  type ProbeTarget,
  probeOnce,
  tcpProbe,
} from "./health/probe.ts";
export { type Clock, systemClock, type WaitResult, waitHealthy } from "./health/wait.ts";
export {
  AGENT_VERSION,
  isStartupError,
  recoverInterrupted,
  runAgent,
  StartupError,
} from "./main.ts";
export { AlertRunner, type AlertRunnerOptions, alertEnv } from "./monitor/alert.ts";
export {
  type Alert,
  type AlertKind,
  type ComponentState,
  type EvaluateConfig,
  type Evaluation,
  evaluate,
  type MonitoredService,
  normalizeImage,
  observeAll,
  pruneDue,
  splitContainerName,
  type Transition,
} from "./monitor/evaluate.ts";
export {
  type CycleReport,
  Monitor,
  type MonitorDeps,
  type MonitorSettings,
} from "./monitor/monitor.ts";
export { type EventPruner, openEventPruner } from "./monitor/prune.ts";
export { createMonitor, podmanEvents } from "./monitor/start.ts";
export { ObservedState } from "./observed.ts";
export type {
  CertificateProvider,
  CertificateResult,
  DnsRegistrar,
  Platform,
  RouteRegistrar,
  RouteRegistration,
} from "./platform.ts";
export { adaptRuntime } from "./runtime/podman.ts";
export type { ContainerInfo, ContainerRuntime, CreateContainerSpec } from "./runtime/runtime.ts";
export { ALLOW, authInterceptor, authorize, bearerToken } from "./server/auth.ts";
export { toConnectError } from "./server/error-map.ts";
export { startServer } from "./server/server.ts";
export { openStore } from "./store/sqlite.ts";
export type { Store } from "./store/store.ts";
export { checkServiceName, serviceDataDir, validateWireSpec } from "./validate.ts";
