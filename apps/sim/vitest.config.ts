import { packageTestConfig } from "../../vitest.shared.ts";

export default packageTestConfig({ testTimeout: 20_000 });
