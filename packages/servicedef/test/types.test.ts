import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type {
  ComponentSchema,
  HealthCheckSchema,
  RouteSchema,
  ServiceDefSchema,
} from "../src/schema/source.ts";
import type { Component, HealthCheck, Route, ServiceDef } from "../src/types.ts";

// The hand-written public types and the zod schema that generates the JSON Schema are one
// source of truth: this file fails to typecheck when they drift apart. (`path` is the one
// default zod cannot express: it defaults to another key, `name`.)
describe("types equal the schema", () => {
  test("ServiceDef", () => {
    expectTypeOf<Omit<ServiceDef, "path">>().toEqualTypeOf<
      Omit<z.output<typeof ServiceDefSchema>, "path">
    >();
    expectTypeOf<ServiceDef["path"]>().toEqualTypeOf<
      NonNullable<z.output<typeof ServiceDefSchema>["path"]>
    >();
  });
  test("Component, Route, HealthCheck", () => {
    expectTypeOf<Component>().toEqualTypeOf<z.output<typeof ComponentSchema>>();
    expectTypeOf<Route>().toEqualTypeOf<z.output<typeof RouteSchema>>();
    expectTypeOf<HealthCheck>().toEqualTypeOf<z.output<typeof HealthCheckSchema>>();
  });
});
