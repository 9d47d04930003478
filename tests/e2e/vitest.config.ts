import { packageTestConfig } from "../../vitest.shared.ts";

// Every step drives real processes (the bundled mcp, mcp-agent, rootless Podman, a registry).
export default packageTestConfig({ testTimeout: 120_000 });
