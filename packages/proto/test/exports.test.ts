import { describe, expect, it } from "vitest";
import * as genAgent from "../gen/mcp/agent/v1/agent_pb.js";
import * as genProxy from "../gen/mcproxy/v1/admin_pb.js";
import * as agent from "../src/agent-v1.ts";
import * as root from "../src/index.ts";
import * as proxy from "../src/mcproxy-v1.ts";

describe("entry points", () => {
  it("re-export every generated value of mcp.agent.v1", () => {
    expect(Object.keys(agent).sort()).toEqual(Object.keys(genAgent).sort());
  });
  it("re-export every generated value of mcproxy.v1", () => {
    expect(Object.keys(proxy).sort()).toEqual(Object.keys(genProxy).sort());
  });
  it("root carries the agent API and the proxy service descriptor", () => {
    for (const k of Object.keys(genAgent)) expect(root).toHaveProperty(k);
    expect(root.ProxyAdminService.typeName).toBe("mcproxy.v1.ProxyAdminService");
    expect(root.AgentService.typeName).toBe("mcp.agent.v1.AgentService");
  });
});
