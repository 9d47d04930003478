import { packageTestConfig } from "../../vitest.shared.ts";

// Integration tests spawn the agent and drive real rootless Podman: allow for that.
export default packageTestConfig({ testTimeout: 60_000 });
