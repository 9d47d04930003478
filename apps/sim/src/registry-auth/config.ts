// docker-registry (distribution 2.8) configuration for token auth against this service.
import { writeFile } from "node:fs/promises";

export interface RegistryConfigOptions {
  /** `host:port` the registry listens on, e.g. `127.0.0.1:5000`. */
  addr: string;
  /** Where the registry keeps blobs and manifests. */
  storageDir: string;
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the token signing certificate. */
  rootCertBundle: string;
  /** Serve HTTPS with these PEM files; default plain HTTP. */
  tls?: { certificate: string; key: string };
  /** Log level; default `warn`. */
  logLevel?: "error" | "warn" | "info" | "debug";
}

// Every scalar is written as a JSON string, which YAML reads as a double-quoted scalar,
// so paths or URLs with ':' or '#' cannot change the document's shape.
const q = (s: string) => JSON.stringify(s);

/** The config.yml text. */
export function registryTokenAuthConfig(o: RegistryConfigOptions): string {
  const lines = [
    "version: 0.1",
    "log:",
    `  level: ${o.logLevel ?? "warn"}`,
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${q(o.storageDir)}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: ${q(o.addr)}`,
    ...(o.tls
      ? ["  tls:", `    certificate: ${q(o.tls.certificate)}`, `    key: ${q(o.tls.key)}`]
      : []),
    "auth:",
    "  token:",
    `    realm: ${q(o.realm)}`,
    `    service: ${q(o.service)}`,
    `    issuer: ${q(o.issuer)}`,
    `    rootcertbundle: ${q(o.rootCertBundle)}`,
  ];
  return `${lines.join("\n")}\n`;
}

/** Writes the config to `path` (mode 0644: the registry may run as another user). */
export async function writeRegistryConfig(path: string, o: RegistryConfigOptions): Promise<void> {
  await writeFile(path, registryTokenAuthConfig(o), { mode: 0o644 });
}
