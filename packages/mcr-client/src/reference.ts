// Image references as the OCI distribution spec and Docker's reference grammar define
// them, restricted to what MCP uses: the registry host is always explicit, because an
// MCP image lives in MCR and a bare `name:tag` silently meaning Docker Hub is a trap.
import { McrInvalidArgumentError } from "./errors.ts";

export interface ImageReference {
  /** `host[:port]` as written, e.g. `mcr.svc.mcp.metacircular.net:8443` or `[::1]:5000`. */
  registry: string;
  /** Repository path, e.g. `myservice` or `team/myservice`. */
  repository: string;
  tag?: string;
  /** `algorithm:hex`, e.g. `sha256:…`. */
  digest?: string;
}

// From distribution's reference/regexp.go.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;
const HOSTNAME =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/;
const IPV6 = /^\[[0-9a-fA-F:.]+\]$/;

function bad(input: string, why: string): McrInvalidArgumentError {
  return new McrInvalidArgumentError(`image reference "${input}": ${why}`);
}

/** Checks `host[:port]`; returns an error message or undefined. */
export function registryHostProblem(host: string): string | undefined {
  let name = host;
  let port: string | undefined;
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end < 0) return "unclosed [ in the registry host";
    name = host.slice(0, end + 1);
    const rest = host.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return "unexpected text after the IPv6 address";
      port = rest.slice(1);
    }
    if (!IPV6.test(name)) return `"${name}" is not an IPv6 address`;
  } else {
    const i = host.lastIndexOf(":");
    if (i >= 0) {
      name = host.slice(0, i);
      port = host.slice(i + 1);
    }
    if (!HOSTNAME.test(name)) return `"${name}" is not a host name`;
  }
  if (port !== undefined) {
    const n = Number(port);
    if (!/^\d{1,5}$/.test(port) || n < 1 || n > 65535) return `"${port}" is not a port number`;
  }
  return undefined;
}

/**
 * Parses `registry[:port]/repository[:tag][@digest]`. The first path component is the
 * registry host; it must look like one (contain a dot or a port, be `localhost`, or be an
 * IPv6 address in brackets) so that `team/app:v1` is not mistaken for a host called team.
 */
export function parseImageReference(input: string): ImageReference {
  if (input === "" || input.trim() !== input) throw bad(input, "empty or padded with spaces");
  if (input.length > 1024) throw bad(input.slice(0, 40), "longer than 1024 characters");
  const slash = input.indexOf("/");
  if (slash < 0) throw bad(input, "no registry host (expected host[:port]/name:tag)");
  const registry = input.slice(0, slash);
  const looksLikeHost =
    registry.includes(".") ||
    registry.includes(":") ||
    registry === "localhost" ||
    registry.startsWith("[");
  if (!looksLikeHost)
    throw bad(input, `"${registry}" is not a registry host (expected host[:port]/name:tag)`);
  const hostProblem = registryHostProblem(registry);
  if (hostProblem) throw bad(input, hostProblem);

  let rest = input.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(input, `"${digest}" is not a digest (algorithm:hex)`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(input, `"${tag}" is not a valid tag`);
  }
  if (rest === "") throw bad(input, "no repository name");
  if (rest.length > 255) throw bad(input, "repository name longer than 255 characters");
  for (const c of rest.split("/")) {
    if (!COMPONENT.test(c))
      throw bad(
        input,
        `repository component "${c}" must be lower-case letters, digits and separators (. _ __ -)`,
      );
  }
  return {
    registry,
    repository: rest,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** The reference back as text: `registry/repository[:tag][@digest]`. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${
    ref.digest !== undefined ? `@${ref.digest}` : ""
  }`;
}

/** Checks a repository path on its own (for `listTags`). */
export function checkRepository(repository: string): void {
  if (repository === "" || repository.length > 255)
    throw new McrInvalidArgumentError(`repository "${repository}": empty or too long`);
  for (const c of repository.split("/")) {
    if (!COMPONENT.test(c))
      throw new McrInvalidArgumentError(
        `repository "${repository}": component "${c}" must be lower-case letters, digits and separators`,
      );
  }
}

/** Checks a tag on its own. */
export function checkTag(tag: string): void {
  if (!TAG.test(tag)) throw new McrInvalidArgumentError(`tag "${tag}" is not a valid tag`);
}
