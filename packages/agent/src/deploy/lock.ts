import { Mutex } from "async-mutex";

/**
 * One mutex per key: two operations on the same service run one after the other, those on
 * different services run concurrently. Idle mutexes are dropped.
 */
export class KeyedLock {
  readonly #locks = new Map<string, { mutex: Mutex; users: number }>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let entry = this.#locks.get(key);
    if (!entry) {
      entry = { mutex: new Mutex(), users: 0 };
      this.#locks.set(key, entry);
    }
    entry.users++;
    try {
      return await entry.mutex.runExclusive(fn);
    } finally {
      entry.users--;
      if (entry.users === 0) this.#locks.delete(key);
    }
  }

  isLocked(key: string): boolean {
    return this.#locks.get(key)?.mutex.isLocked() ?? false;
  }
}
