import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { AgentService } from "@mcp/proto/agent/v1";

/** Who made the call, for handlers and logs. */
export interface Caller {
  username: string;
  roles: string[];
}

export const callerKey = createContextKey<Caller | undefined>(undefined, {
  description: "the authenticated MCIAS user",
});

type MethodName = keyof typeof AgentService.method;

/**
 * The roles each AgentService method requires. Typed against the service descriptor so a
 * new method fails to compile until it has an entry; and `authorize` denies any method not
 * found here at run time, so a method added to the service without an entry is denied by
 * construction either way. Every method needs `admin` today (MCIAS admin is the only role
 * that may operate the fleet); the map is where a read-only role would be granted.
 */
export const ALLOW: Readonly<Record<MethodName, readonly string[]>> = {
  deploy: ["admin"],
  undeploy: ["admin"],
  stop: ["admin"],
  start: ["admin"],
  restart: ["admin"],
  listServices: ["admin"],
  listContainers: ["admin"],
  serviceStatus: ["admin"],
  logs: ["admin"],
  pushDefinitions: ["admin"],
  exportService: ["admin"],
  adopt: ["admin"],
  nodeInfo: ["admin"],
  listRoutes: ["admin"],
  listEvents: ["admin"],
  plan: ["admin"],
  rollback: ["admin"],
  history: ["admin"],
  addEdgeRoute: ["admin"],
  removeEdgeRoute: ["admin"],
};

/**
 * Whether a caller with `roles` may call `method` (the method's local name). Pure. Unknown
 * methods are denied; a role must appear in the method's entry.
 */
export function authorize(
  method: string,
  roles: readonly string[],
  allow: Readonly<Record<string, readonly string[]>> = ALLOW,
): { ok: true } | { ok: false; reason: string } {
  const needed = Object.hasOwn(allow, method) ? allow[method] : undefined;
  if (!needed) return { ok: false, reason: `method ${method} is not allowed on this agent` };
  if (!needed.some((r) => roles.includes(r))) {
    return { ok: false, reason: `${method} requires the ${needed.join(" or ")} role` };
  }
  return { ok: true };
}

export type TokenCheck = { valid: true; username: string; roles: string[] } | { valid: false };

export type ValidateToken = (token: string, signal: AbortSignal) => Promise<TokenCheck>;

/** `Authorization: Bearer <token>` → the token, or undefined. */
export function bearerToken(header: string | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

/**
 * Authenticates every call: a Bearer token, validated by MCIAS (the validator caches for
 * 30 s keyed by the token's SHA-256), then the allow map. Errors thrown by `validate`
 * (MCIAS unreachable) are mapped by the error interceptor that runs outside this one.
 */
export function authInterceptor(
  validate: ValidateToken,
  allow: Readonly<Record<string, readonly string[]>> = ALLOW,
): Interceptor {
  return (next) => async (req) => {
    const token = bearerToken(req.header.get("authorization"));
    if (!token) {
      throw new ConnectError(
        "missing bearer token (Authorization: Bearer <token>)",
        Code.Unauthenticated,
      );
    }
    const check = await validate(token, req.signal);
    if (!check.valid) {
      throw new ConnectError(
        "token is not valid (expired, revoked or unknown)",
        Code.Unauthenticated,
      );
    }
    const verdict = authorize(req.method.localName, check.roles, allow);
    if (!verdict.ok) throw new ConnectError(verdict.reason, Code.PermissionDenied);
    req.contextValues.set(callerKey, { username: check.username, roles: check.roles });
    return next(req);
  };
}
