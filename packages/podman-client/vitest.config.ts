import { packageTestConfig } from "../../vitest.shared.ts";

// Integration tests drive real rootless Podman; a cold image build or registry push can
// take several seconds on a busy 2-core machine.
export default packageTestConfig({ testTimeout: 60_000 });
