// Image references: [registry[:port]/]path[:tag][@digest]. Only the first path component
// can be a registry, and only when it looks like a host (has a dot or a port, or is
// `localhost`); that is what tells `mcr.svc.mcp.metacircular.net:8443/myservice:v1.0.0`
// (registry with a port) from `myservice:v1.0.0` (tag).

export interface ImageRef {
  /** Registry host with optional port, e.g. `mcr.svc.mcp.metacircular.net:8443`. */
  registry: string | undefined;
  /** Repository path after the registry, e.g. `myservice` or `team/myservice`. */
  path: string;
  /** Repository name: the last path segment, e.g. `myservice`. */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;
const REGISTRY =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$/;

/** SemVer 2.0.0 without build metadata (`+` is not allowed in an OCI tag), optional `v`. */
export const SEMVER_TAG =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$/;

/** Parses an image reference; returns a reason string when it is malformed. */
export function parseImageRef(image: string): ImageRef | string {
  if (image === "") return "the image reference is empty";
  if (/\s/.test(image)) return "an image reference cannot contain whitespace";
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return `"${digest}" is not a digest like sha256:<64 hex digits>`;
  }
  let registry: string | undefined;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      registry = first;
      rest = rest.slice(slash + 1);
      if (!REGISTRY.test(registry)) return `"${registry}" is not a registry host[:port]`;
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0 && !rest.slice(colon).includes("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return `"${tag}" is not a valid tag`;
  }
  if (rest === "") return "the image reference has no repository";
  for (const part of rest.split("/")) {
    if (!PATH_COMPONENT.test(part)) {
      return `"${part}" is not a valid repository path component (lowercase letters, digits, . _ -)`;
    }
  }
  const repository = rest.slice(rest.lastIndexOf("/") + 1);
  return { registry, path: rest, repository, tag, digest };
}

/** Repository name of an image (the part after the last `/`, before the tag), or undefined. */
export function imageRepository(image: string): string | undefined {
  const ref = parseImageRef(image);
  return typeof ref === "string" ? undefined : ref.repository;
}

/** The version of an image: its tag when that is a semver tag, else undefined. */
export function imageVersion(image: string): string | undefined {
  const ref = parseImageRef(image);
  if (typeof ref === "string" || ref.tag === undefined) return undefined;
  return SEMVER_TAG.test(ref.tag) ? ref.tag : undefined;
}
