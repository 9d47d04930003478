import { Code, ConnectError } from "@connectrpc/connect";
import { MciasUnavailableError } from "@mcp/mcias-client";
import { NameInUseError, PodmanMissingError } from "@mcp/podman-client";
import { describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  NotFoundError,
  PreconditionError,
  StepFailedError,
} from "../src/errors.ts";
import { toConnectError } from "../src/server/error-map.ts";
import { clientFor, makeAgent } from "./helpers/agent.ts";
import { FakeRuntime } from "./helpers/fake-runtime.ts";

describe("toConnectError", () => {
  it("maps domain errors to their codes", () => {
    expect(toConnectError(new InvalidArgumentError("x")).code).toBe(Code.InvalidArgument);
    expect(toConnectError(new NotFoundError("x")).code).toBe(Code.NotFound);
    expect(toConnectError(new PreconditionError("x")).code).toBe(Code.FailedPrecondition);
  });

  it("recognises the clients' errors by their brands", () => {
    expect(toConnectError(new MciasUnavailableError("down")).code).toBe(Code.Unavailable);
    expect(toConnectError(new PodmanMissingError("no podman")).code).toBe(Code.Unavailable);
    expect(toConnectError(new NameInUseError("in use")).code).toBe(Code.FailedPrecondition);
    const step = new StepFailedError("pull", "api", "pull (api) failed: no podman", {
      cause: new PodmanMissingError("no podman"),
    });
    expect(toConnectError(step)).toMatchObject({
      code: Code.Unavailable,
      rawMessage: step.message,
    });
  });

  it("hides unexpected errors behind Internal", () => {
    const e = toConnectError(new TypeError("secret detail"));
    expect(e.code).toBe(Code.Internal);
    expect(e.rawMessage).not.toContain("secret");
  });

  it("answers Unavailable when MCIAS cannot be reached, and runs nothing", async () => {
    const runtime = new FakeRuntime();
    const { agent } = makeAgent({ runtime });
    const client = clientFor(agent, "any", undefined, async () => {
      throw new MciasUnavailableError("connect ECONNREFUSED");
    });
    const err = await client.listServices({}).catch((e) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect(runtime.calls).toEqual([]);
  });
});
