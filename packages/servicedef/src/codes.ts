import type { Severity } from "./types.ts";

export interface RuleInfo {
  code: string;
  rule: string;
  severity: Severity;
  description: string;
}

// The closed set of diagnostics. Codes are stable: a rule may change its message, never
// its code. README.md's table is checked against this list by test/readme.test.ts.
export const RULES = {
  syntax: { code: "SD001", severity: "error", description: "The file is not valid TOML" },
  encoding: { code: "SD002", severity: "error", description: "The file is not valid UTF-8" },
  "file-too-large": {
    code: "SD003",
    severity: "error",
    description: "The file is larger than 1 MiB (no service definition is)",
  },
  "unknown-key": {
    code: "SD004",
    severity: "error",
    description: "A key the format does not know; the nearest known key is suggested",
  },
  "wrong-type": {
    code: "SD005",
    severity: "error",
    description: "A value of the wrong type (e.g. a string where a list is expected)",
  },
  "missing-field": { code: "SD006", severity: "error", description: "A required key is absent" },
  "invalid-name": {
    code: "SD007",
    severity: "error",
    description:
      "A service, node, component or route name is not a DNS label ^[a-z][a-z0-9-]{0,62}$",
  },
  "duplicate-component": {
    code: "SD008",
    severity: "error",
    description: "Two components have the same name",
  },
  "duplicate-route": {
    code: "SD009",
    severity: "error",
    description: "Two routes of one component have the same name",
  },
  "unnamed-route": {
    code: "SD010",
    severity: "error",
    description: "A component with more than one route must name every route",
  },
  "invalid-mode": { code: "SD011", severity: "error", description: "A route mode is not l4 or l7" },
  "invalid-port": {
    code: "SD012",
    severity: "error",
    description: "A route port is not an integer from 1 to 65535",
  },
  "invalid-image": {
    code: "SD013",
    severity: "error",
    description: "An image reference cannot be parsed",
  },
  "unpinned-image": {
    code: "SD014",
    severity: "error",
    description: "An image has no tag, `:latest`, or a tag that is not semver (v1.2.3[-pre])",
  },
  "unmatched-build-image": {
    code: "SD015",
    severity: "error",
    description: "A [build.images] key is not the repository name of any component's image",
  },
  "invalid-path": {
    code: "SD016",
    severity: "error",
    description: "`path` is absolute, empty, or leaves the workspace (`..`)",
  },
  "invalid-volume": {
    code: "SD017",
    severity: "error",
    description: "A volume is not host:container[:options] with an absolute container path",
  },
  "invalid-env": {
    code: "SD018",
    severity: "error",
    description: "An env entry is not KEY=VALUE with KEY matching ^[A-Za-z_][A-Za-z0-9_]*$",
  },
  "invalid-restart": {
    code: "SD019",
    severity: "error",
    description: "`restart` is not a Podman policy: no, always, on-failure[:N], unless-stopped",
  },
  "invalid-hostname": {
    code: "SD020",
    severity: "error",
    description: "A route hostname is not a valid DNS name",
  },
  "invalid-duration": {
    code: "SD021",
    severity: "error",
    description: 'A duration is not like "500ms", "10s", "1m30s" (units ms, s, m, h)',
  },
  "invalid-health": {
    code: "SD022",
    severity: "error",
    description:
      "A health check is inconsistent: unknown type, unknown or ambiguous route, no port to probe, bad status, retries or command",
  },
  "route-conflict": {
    code: "SD023",
    severity: "error",
    description: "Two routes of the service claim the same hostname and port on mc-proxy",
  },
  "invalid-value": {
    code: "SD024",
    severity: "error",
    description:
      "An empty or malformed scalar: empty cmd entry, bad user, network or Dockerfile path",
  },
  "env-port-override": {
    code: "SD101",
    severity: "warning",
    description: "env sets PORT or PORT_<NAME>, which the agent overrides at deploy time",
  },
  "duplicate-env": {
    code: "SD102",
    severity: "warning",
    description: "env sets the same variable twice; the last one wins",
  },
  "duplicate-mount": {
    code: "SD103",
    severity: "warning",
    description: "Two volumes mount at the same container path",
  },
  "no-components": {
    code: "SD104",
    severity: "warning",
    description: "The service has no components, so a deploy runs nothing",
  },
  "unbuilt-image": {
    code: "SD105",
    severity: "warning",
    description: "[build.images] exists but does not build this component's image",
  },
  "health-timeout": {
    code: "SD106",
    severity: "warning",
    description: "A health check's timeout is not shorter than its interval",
  },
  "mixed-versions": {
    code: "SD107",
    severity: "warning",
    description: "Components pin different versions, so `mcp status` has no single version",
  },
  "nonroot-user": {
    code: "SD108",
    severity: "warning",
    description:
      "A non-root user with host volumes: under rootless Podman it cannot write them (use 0:0)",
  },
} as const satisfies Record<string, Omit<RuleInfo, "rule">>;

export type RuleName = keyof typeof RULES;

export function ruleList(): RuleInfo[] {
  return Object.entries(RULES).map(([rule, info]) => ({ rule, ...info }));
}
