// The platform steps of a deploy go through these small ports. A later change implements
// them with the Metacrypt, mc-proxy and MCNS clients; when one is not configured the
// deploy reports its step as "skipped (not configured)".

export interface CertificateResult {
  certPath: string;
  keyPath: string;
  /** False when a valid certificate (> 30 days from expiry) was reused. */
  issued: boolean;
}

export interface CertificateProvider {
  ensure(service: string, hostnames: string[]): Promise<CertificateResult>;
  remove(service: string): Promise<void>;
}

export interface RouteRegistration {
  listener: string;
  hostname: string;
  /** `<node-address>:<host-port>`. */
  backend: string;
  mode: "l4" | "l7";
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

export interface RouteRegistrar {
  /** Adds or replaces the route for (listener, hostname); returns false when it was already so. */
  add(route: RouteRegistration): Promise<boolean>;
  remove(listener: string, hostname: string): Promise<void>;
}

export interface DnsRegistrar {
  /** Points `name` at the node; returns false when it already did. */
  register(name: string): Promise<boolean>;
  unregister(name: string): Promise<void>;
}

export interface Platform {
  certificates?: CertificateProvider | undefined;
  routes?: RouteRegistrar | undefined;
  dns?: DnsRegistrar | undefined;
}
