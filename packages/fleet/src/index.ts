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
export type { ExecOptions, ExecResult, Ssh, SshTarget, SystemSshOptions } from "./ssh.ts";
export { describeTarget, SystemSsh, shellQuote } from "./ssh.ts";
