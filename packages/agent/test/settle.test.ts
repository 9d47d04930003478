import { describe, expect, it } from "vitest";
import { operationKind, parseOperationKind } from "../src/deploy/journal.ts";
import { settlements } from "../src/settle.ts";
import type { Operation } from "../src/store/store.ts";

const op = (service: string, kind: string, step = ""): Operation => ({
  id: `${service}-${kind}`,
  service,
  kind,
  step,
  status: "running",
  error: "",
  startedAt: "",
  updatedAt: "",
});

describe("operationKind", () => {
  it("names the component of a component-scoped operation and parses back", () => {
    expect(operationKind("stop")).toBe("stop");
    expect(operationKind("stop", "")).toBe("stop");
    expect(operationKind("stop", "web")).toBe("stop:web");
    expect(parseOperationKind("stop:web")).toEqual({ kind: "stop", component: "web" });
    expect(parseOperationKind("undeploy")).toEqual({ kind: "undeploy" });
  });
});

describe("settlements after a crash", () => {
  const stored = (names: string[]) => (s: string) => names.includes(s);

  it("completes stop, start and undeploy, keeping the component scope", () => {
    const plan = settlements(
      [
        op("a", "stop", "remove-dns"),
        op("b", "stop:web", "stop"),
        op("c", "undeploy"),
        op("d", "start:db"),
      ],
      stored(["a", "b", "c", "d"]),
    );
    expect(plan).toEqual([
      { action: "stop", service: "a" },
      { action: "stop", service: "b", component: "web" },
      { action: "undeploy", service: "c" },
      { action: "start", service: "d", component: "db" },
    ]);
  });

  it("redeploys a stored definition and releases the ports of one never stored", () => {
    expect(settlements([op("a", "deploy"), op("b", "deploy")], stored(["a"]))).toEqual([
      { action: "deploy", service: "a" },
      { action: "release-ports", service: "b" },
    ]);
  });

  it("runs an undeploy again even when the definition is gone (its containers may remain)", () => {
    expect(settlements([op("a", "undeploy", "release-ports")], stored([]))).toEqual([
      { action: "undeploy", service: "a" },
    ]);
  });

  it("leaves a restart, and a stop of a service no longer defined, alone", () => {
    const plan = settlements([op("a", "restart"), op("b", "stop")], stored(["a"]));
    expect(plan.map((s) => s.action)).toEqual(["none", "none"]);
  });

  it("settles only the newest operation of a service", () => {
    expect(settlements([op("a", "deploy"), op("a", "undeploy")], stored(["a"]))).toEqual([
      { action: "undeploy", service: "a" },
    ]);
  });
});
