export type { Arch, Artifact } from "./artifact.ts";
export {
  ARCHES,
  artifactFileName,
  findArtifact,
  isArch,
  nodeArch,
  sha256File,
  verifyLocalArtifact,
} from "./artifact.ts";
export type { BuildArtifactOptions, BuiltArtifact } from "./build-artifact.ts";
export { buildAgentArtifact, stampVersion } from "./build-artifact.ts";
export {
  ArtifactError,
  ChecksumMismatchError,
  errorLine,
  FleetInputError,
  isArtifactError,
  isChecksumMismatchError,
  isFleetInputError,
  isRemoteCommandError,
  isSshAuthError,
  isSshError,
  isSshHostKeyError,
  isSshTimeoutError,
  isSshUnreachableError,
  RemoteCommandError,
  SshAuthError,
  SshHostKeyError,
  SshTimeoutError,
  SshUnreachableError,
} from "./errors.ts";
export type { FleetNode, NodeEntry, NodeEntryInput, ServiceManager } from "./node.ts";
export { checkNodeEntry, DEFAULT_AGENT_DIR } from "./node.ts";
export type { ProvisionOptions, ProvisionResult, ProvisionStep, StepStatus } from "./provision.ts";
export { PODMAN_PACKAGES, parseSteps, provisionNode } from "./provision.ts";
export type { NodeOps, SshNodeOpsOptions } from "./remote.ts";
export { SshNodeOps } from "./remote.ts";
export type { PidfileServiceManagerOptions } from "./service.ts";
export { PidfileServiceManager, SystemdServiceManager } from "./service.ts";
export type { ExecOptions, ExecResult, Ssh, SshTarget, SystemSshOptions } from "./ssh.ts";
export { describeTarget, runScript, SystemSsh, shellQuote } from "./ssh.ts";
export type { AgentConfigInput } from "./templates.ts";
export { renderAgentConfig, renderContainersConf, renderUnit, SYSTEMD_UNIT } from "./templates.ts";
export type {
  AgentStatusRow,
  NodeUpgradeResult,
  UpgradeOptions,
  UpgradePhase,
  UpgradeProgress,
  UpgradeSummary,
} from "./upgrade.ts";
export {
  agentStatus,
  checkNodes,
  selectNodes,
  upgradeAgents,
  upgradeNode,
  waitForVersion,
} from "./upgrade.ts";
