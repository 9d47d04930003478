import type { Clock } from "../../src/health/wait.ts";

/** A clock whose sleeps return at once and move time forward: waits cost no real time. */
export function fakeClock(start = 1_000_000): Clock & { slept: number[] } {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}
