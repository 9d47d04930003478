import { describe, expect, it } from "vitest";
import { ObservedState } from "../src/observed.ts";
import type { ContainerInfo, ContainerRuntime } from "../src/runtime/runtime.ts";
import { openStore } from "../src/store/sqlite.ts";

function slowRuntime() {
  let n = 0;
  const pending: (() => void)[] = [];
  const runtime = {
    list: () => {
      const call = ++n;
      return new Promise<ContainerInfo[]>((resolve) => {
        pending.push(() =>
          resolve([
            {
              id: `id${call}`,
              name: `c${call}`,
              image: "i",
              state: "running",
              status: "",
              labels: {},
              ports: [],
              health: "",
              restartCount: 0,
            },
          ]),
        );
      });
    },
  } as unknown as ContainerRuntime;
  return { runtime, calls: () => n, release: () => pending.shift()?.() };
}

describe("ObservedState", () => {
  it("shares one podman ps between concurrent readers and caches it", async () => {
    const { runtime, calls, release } = slowRuntime();
    const o = new ObservedState(runtime, openStore(":memory:"), 60_000);
    const a = o.list();
    const b = o.list();
    release();
    expect((await a)[0]?.id).toBe("id1");
    expect((await b)[0]?.id).toBe("id1");
    expect((await o.list())[0]?.id).toBe("id1");
    expect(calls()).toBe(1);
  });

  it("never hands a list that started before a write to a reader after it", async () => {
    const { runtime, calls, release } = slowRuntime();
    const store = openStore(":memory:");
    const o = new ObservedState(runtime, store, 60_000);
    const before = o.refresh();
    o.invalidate(); // a write happened meanwhile
    const after = o.refresh();
    expect(calls()).toBe(2);
    release();
    release();
    expect((await before)[0]?.id).toBe("id1");
    expect((await after)[0]?.id).toBe("id2");
    // The stale list was not cached.
    expect((await o.list())[0]?.id).toBe("id2");
    expect(store.listObserved().map((r) => r.id)).toEqual(["id2"]);
  });
});
