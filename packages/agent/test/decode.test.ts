import { create, type DescMethod, toBinary } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { AgentService, ServiceStatusRequestSchema } from "@mcp/proto/agent/v1";
import { describe, expect, it } from "vitest";
import {
  checkUnaryDecoding,
  decodeError,
  decodeErrorKey,
  unaryBody,
} from "../src/server/decode.ts";

const frame = (payload: Uint8Array, flags = 0, length = payload.byteLength) => {
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length);
  out.set(payload, 5);
  return out;
};
const good = toBinary(
  ServiceStatusRequestSchema,
  create(ServiceStatusRequestSchema, { service: "web" }),
);
const garbage = new Uint8Array([0x0f, 0x01]);

describe("unaryBody", () => {
  it("finds the message in Connect, gRPC and gRPC-web bodies", () => {
    expect(unaryBody("application/proto", null, good)).toEqual({
      check: good,
      empty: new Uint8Array(0),
    });
    for (const t of ["application/grpc", "application/grpc+proto", "application/grpc-web+proto"]) {
      const r = unaryBody(t, null, frame(good));
      expect(r.check).toEqual(good);
    }
  });

  it("leaves JSON, compressed bodies and malformed frames to the library", () => {
    expect(unaryBody("application/json", null, good).check).toBeUndefined();
    expect(unaryBody("application/proto", "gzip", good).check).toBeUndefined();
    expect(unaryBody("application/grpc", null, frame(good, 1)).check).toBeUndefined();
    expect(unaryBody("application/grpc", null, frame(good, 0, 99)).check).toBeUndefined();
    expect(unaryBody("application/grpc", null, new Uint8Array([0, 0])).check).toBeUndefined();
  });
});

describe("decodeError", () => {
  it("is undefined for a valid message and names the type otherwise", () => {
    expect(decodeError(ServiceStatusRequestSchema, good)).toBeUndefined();
    expect(decodeError(ServiceStatusRequestSchema, garbage)).toMatch(
      /^invalid request: cannot decode mcp\.agent\.v1\.ServiceStatusRequest: /,
    );
  });
});

describe("checkUnaryDecoding", () => {
  async function collect(body: UniversalServerRequest["body"]) {
    const chunks: number[] = [];
    for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(...c);
    return new Uint8Array(chunks);
  }
  function recorder(method: DescMethod = AgentService.method.serviceStatus) {
    const seen: { body: Uint8Array; error: string | undefined }[] = [];
    const inner = Object.assign(
      async (req: UniversalServerRequest) => {
        seen.push({ body: await collect(req.body), error: req.contextValues?.get(decodeErrorKey) });
        return { status: 200 };
      },
      {
        protocolNames: ["grpc"],
        service: AgentService,
        method,
        requestPath: `/${AgentService.typeName}/${method.name}`,
        allowedMethods: ["POST"],
        supportedContentType: () => true,
      },
    ) as unknown as UniversalHandler;
    return { inner, seen };
  }
  const request = (body: Uint8Array[], type = "application/grpc"): UniversalServerRequest => ({
    httpVersion: "2.0",
    url: "/",
    method: "POST",
    header: new Headers({ "content-type": type }),
    body: (async function* () {
      yield* body;
    })(),
    signal: new AbortController().signal,
    contextValues: createContextValues(),
  });

  it("hands a decodable request on unchanged", async () => {
    const { inner, seen } = recorder();
    const f = frame(good);
    await checkUnaryDecoding(inner, 1024)(request([f.subarray(0, 3), f.subarray(3)]));
    expect(seen).toEqual([{ body: f, error: undefined }]);
  });

  it("hands an undecodable one on as an empty message, with the reason in the context", async () => {
    const { inner, seen } = recorder();
    await checkUnaryDecoding(inner, 1024)(request([frame(garbage)]));
    expect(seen[0]?.body).toEqual(new Uint8Array(5));
    expect(seen[0]?.error).toMatch(/cannot decode/);
  });

  it("passes a body over the limit through whole, for the library to refuse", async () => {
    const { inner, seen } = recorder();
    const big = [new Uint8Array(600).fill(7), new Uint8Array(600).fill(8), new Uint8Array(10)];
    await checkUnaryDecoding(inner, 1000)(request(big));
    expect(seen[0]?.body.byteLength).toBe(1210);
    expect(seen[0]?.error).toBeUndefined();
  });

  it("leaves streaming methods alone", () => {
    const { inner } = recorder(AgentService.method.deploy);
    expect(checkUnaryDecoding(inner, 1000)).toBe(inner);
  });
});
