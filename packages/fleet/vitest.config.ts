import { packageTestConfig } from "../../vitest.shared.ts";

// The integration suites start sshd and real agents; each test gets more room than a unit test.
export default packageTestConfig({ testTimeout: 60_000 });
