// The static registry of sim modules, in start order. `mcp-sim run --only a,b` and
// `startSim({ only })` pick from this list (plus what the picked ones depend on).
// Keep it static: the bin is bundled, and a fixed list is what `--help` shows.
import type { SimModule } from "./framework.ts";
import { mciasModule } from "./mcias/index.ts";

import { mcnsModule } from "./mcns/index.ts";
import { mcproxyModule } from "./mcproxy/index.ts";
import { metacryptModule } from "./metacrypt/index.ts";
import { registryAuthModule } from "./registry-auth/index.ts";

export const simModules: readonly SimModule[] = [
  mciasModule,
  registryAuthModule,
  metacryptModule,
  mcproxyModule,
  mcnsModule,
];
