import fc from "fast-check";
import type { Component, HealthCheck, Route, ServiceDef } from "../src/types.ts";

export const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
/** Any text, including quotes, backslashes, control characters and non-ASCII. */
export const text = fc.string({ unit: "grapheme", maxLength: 20 });
const duration = fc.oneof(
  fc.constantFrom("10s", "2s", "0s", "5s"),
  fc.tuple(fc.nat(999), fc.constantFrom("ms", "s", "m", "h")).map(([n, u]) => `${n}${u}`),
);

const image = fc
  .tuple(
    fc.constantFrom("", "mcr.svc.mcp.metacircular.net:8443/", "localhost:5000/team/"),
    label,
    fc.nat(20),
    fc.nat(20),
    fc.nat(20),
  )
  .map(([reg, repo, a, b, c]) => `${reg}${repo}:v${a}.${b}.${c}`);

const common = {
  interval: duration,
  timeout: duration,
  retries: fc.integer({ min: 1, max: 100 }),
  start_period: duration,
};

const health: fc.Arbitrary<HealthCheck> = fc.oneof(
  fc.record(
    {
      type: fc.constant("http" as const),
      path: text.map((t) => `/${t}`),
      status: fc.integer({ min: 100, max: 599 }),
      route: fc.option(label, { nil: undefined }),
      ...common,
    },
    { requiredKeys: ["type", "path", "status", "interval", "timeout", "retries", "start_period"] },
  ),
  fc.record(
    { type: fc.constant("tcp" as const), route: fc.option(label, { nil: undefined }), ...common },
    { requiredKeys: ["type", "interval", "timeout", "retries", "start_period"] },
  ),
  fc.record({
    type: fc.constant("command" as const),
    command: fc.array(text, { minLength: 1, maxLength: 3 }),
    ...common,
  }),
) as fc.Arbitrary<HealthCheck>;

const route: fc.Arbitrary<Route> = fc.record(
  {
    name: label,
    port: fc.integer({ min: 1, max: 65535 }),
    mode: fc.constantFrom("l4" as const, "l7" as const),
    hostname: fc.array(label, { minLength: 2, maxLength: 3 }).map((l) => l.join(".")),
  },
  { requiredKeys: ["port", "mode"] },
);

const component: fc.Arbitrary<Component> = fc.record(
  {
    name: label,
    image,
    volumes: fc.array(
      fc.tuple(label, label).map(([a, b]) => `/srv/${a}:/srv/${b}`),
      { maxLength: 2 },
    ),
    cmd: fc.array(text, { maxLength: 3 }),
    env: fc.array(
      fc.tuple(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/), text).map(([k, v]) => `${k}=${v}`),
      { maxLength: 3 },
    ),
    network: label,
    user: fc.constantFrom("0:0", "root"),
    restart: fc.constantFrom("no", "always", "on-failure", "on-failure:3", "unless-stopped"),
    drain: duration,
    health,
    routes: fc.array(route, { maxLength: 3 }),
  },
  { requiredKeys: ["name", "image", "drain"] },
);

/** Definitions of the right shape; not all are valid (route conflicts, duplicate names...). */
export const serviceDef: fc.Arbitrary<ServiceDef> = fc
  .record(
    {
      name: label,
      node: label,
      active: fc.boolean(),
      path: fc.option(
        fc.array(label, { minLength: 1, maxLength: 3 }).map((p) => p.join("/")),
        { nil: undefined },
      ),
      build: fc.record({
        images: fc.dictionary(label, fc.constantFrom("Dockerfile", "Dockerfile.api"), {
          maxKeys: 2,
        }),
      }),
      components: fc.array(component, { maxLength: 3 }),
    },
    { requiredKeys: ["name", "node", "active"] },
  )
  .map((d) => ({ ...d, path: d.path ?? d.name }));
