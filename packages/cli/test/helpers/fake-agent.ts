import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl, Transport } from "@connectrpc/connect";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import {
  AgentService,
  type Container,
  ContainerSchema,
  StepSchema,
  StepStatus,
} from "@mcp/proto/agent/v1";

export type AgentImpl = Partial<ServiceImpl<typeof AgentService>>;

/**
 * An in-memory agent: the real Connect router and codecs with handlers the test writes.
 * Whatever a test leaves out answers Unimplemented, as an old agent would.
 */
export function fakeAgent(impl: AgentImpl): Transport {
  return createRouterTransport(({ service }) => {
    service(AgentService, impl);
  });
}

/** A transport whose every call fails the way an unreachable agent does. */
export function downAgent(message = "connect ECONNREFUSED 127.0.0.1:9444"): Transport {
  return createRouterTransport(({ service }) => {
    const fail = () => {
      throw new ConnectError(message, Code.Unavailable);
    };
    service(AgentService, {
      listContainers: fail,
      listServices: fail,
      nodeInfo: fail,
      serviceStatus: fail,
    });
  });
}

type ContainerInit = Exclude<MessageInitShape<typeof ContainerSchema>, Container>;

export function container(over: ContainerInit & { service: string; component: string }): Container {
  const init: ContainerInit = {
    id: "0123456789ab",
    name: `${over.service}-${over.component}`,
    managed: true,
    state: "running",
    image: `mcr.example/${over.service}:v1.0.0`,
    version: "v1.0.0",
    startedAt: timestampFromMs(Date.now() - 3_600_000 - 60_000),
    ...over,
  };
  return create(ContainerSchema, init);
}

export function step(
  name: string,
  status: StepStatus,
  over: { component?: string; message?: string; service?: string } = {},
) {
  return create(StepSchema, {
    name,
    status,
    component: over.component ?? "",
    message: over.message ?? "",
    service: over.service ?? "",
  });
}

export { StepStatus };
