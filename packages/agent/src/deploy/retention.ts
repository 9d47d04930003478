import { isPodmanError } from "@mcp/podman-client";
import { Mutex } from "async-mutex";
import { errorLine } from "../errors.ts";
import type { ContainerRuntime } from "../runtime/runtime.ts";
import type { ServiceDef } from "../spec.ts";
import type { Store } from "../store/store.ts";

// History retention of images: the store keeps the last `[history] keep` specs per service;
// this keeps the images those specs need and removes older ones the agent pulled itself.

/**
 * A reference in one spelling for comparison: Podman lists `busybox` as
 * `docker.io/library/busybox:latest`, and a spec may say either.
 */
export function normalizeImageRef(ref: string): string {
  let r = ref.trim();
  const at = r.indexOf("@");
  const path = at >= 0 ? r.slice(0, at) : r;
  const lastPart = path.slice(path.lastIndexOf("/") + 1);
  if (at < 0 && !lastPart.includes(":")) r = `${r}:latest`;
  const first = r.split("/")[0] ?? "";
  const hasRegistry =
    r.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasRegistry) r = r.includes("/") ? `docker.io/${r}` : `docker.io/library/${r}`;
  return r;
}

/**
 * Which of the candidate images (those the agent pulled) to remove: every one not used by
 * a kept history entry of any service, of any outcome, nor by any existing container, in
 * any state. Pure; the result is sorted and has each image once, spelled as in
 * `candidateImages`.
 */
export function imagesToPrune(
  historyByService: ReadonlyMap<string, readonly { spec: ServiceDef }[]>,
  containersImages: Iterable<string>,
  candidateImages: Iterable<string>,
): string[] {
  const kept = new Set<string>();
  for (const entries of historyByService.values()) {
    for (const e of entries) {
      for (const c of e.spec.components ?? []) kept.add(normalizeImageRef(c.image));
    }
  }
  for (const image of containersImages) kept.add(normalizeImageRef(image));
  const out = new Set<string>();
  for (const image of candidateImages) {
    if (!kept.has(normalizeImageRef(image))) out.add(image);
  }
  return [...out].sort();
}

/**
 * The runtime as the deploy engine sees it, with every successful pull noted in the store:
 * retention only ever removes images on that list.
 */
export function trackPulls<R extends ContainerRuntime>(
  runtime: R,
  store: Pick<Store, "recordPulledImage">,
): R {
  return new Proxy(runtime, {
    get(target, prop, receiver) {
      if (prop === "pull") {
        return async (image: string) => {
          await target.pull(image);
          store.recordPulledImage(image);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

export interface PruneResult {
  removed: string[];
  /** Why nothing was tried ("" when pruning ran). */
  skipped: string;
  /** One line per image that could not be removed. */
  failed: string[];
}

export interface ImageRetentionDeps {
  store: Store;
  runtime: ContainerRuntime;
  warn: (message: string, fields?: Record<string, unknown>) => void;
  info?: (message: string, fields?: Record<string, unknown>) => void;
}

/** Removes pulled images no kept history entry and no container needs; never throws. */
export class ImageRetention {
  readonly #deps: ImageRetentionDeps;
  readonly #mutex = new Mutex();

  constructor(deps: ImageRetentionDeps) {
    this.#deps = deps;
  }

  /** Runs after a successful deploy; a failure is a warning, never the deploy's. */
  async afterDeploy(): Promise<PruneResult> {
    try {
      return await this.#mutex.runExclusive(() => this.#prune());
    } catch (e) {
      this.#deps.warn(`image retention: ${errorLine(e)}`);
      return { removed: [], skipped: errorLine(e), failed: [] };
    }
  }

  async #prune(): Promise<PruneResult> {
    const { store, runtime, warn, info } = this.#deps;
    const none = (skipped: string): PruneResult => ({ removed: [], skipped, failed: [] });
    if (!runtime.removeImage) return none("the runtime cannot remove images");
    // Candidates first, then the operations check: an image pulled by a deploy still
    // running (not yet in history nor in a container) is either not read yet or skipped.
    const candidates = store.listPulledImages();
    if (candidates.length === 0) return none("no pulled images");
    const running = store.unfinishedOperations();
    if (running.length > 0) {
      return none(`an operation on ${running[0]?.service} is in progress; next deploy prunes`);
    }
    const history = new Map(store.listHistoryServices().map((s) => [s, store.listHistory(s)]));
    const containers = (await runtime.list()).map((c) => c.image);
    const result: PruneResult = { removed: [], skipped: "", failed: [] };
    for (const image of imagesToPrune(history, containers, candidates)) {
      try {
        await runtime.removeImage(image);
        store.forgetPulledImage(image);
        result.removed.push(image);
      } catch (e) {
        if (isPodmanError(e, "image-not-found")) {
          // Removed by someone else: nothing left to keep track of.
          store.forgetPulledImage(image);
          continue;
        }
        result.failed.push(`${image}: ${errorLine(e)}`);
        warn(`image retention: cannot remove ${image}: ${errorLine(e)}`, { image });
      }
    }
    if (result.removed.length > 0) {
      store.addEvent({
        kind: "image-pruned",
        message: `removed ${result.removed.length} image(s) no kept deploy needs: ${result.removed.join(", ")}`,
      });
      info?.("image retention removed images", { images: result.removed });
    }
    return result;
  }
}
