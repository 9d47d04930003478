import { type ContainerInspector, canInspect } from "./inspect.ts";
import type { ContainerRuntime, LogLine, LogOptions } from "./runtime.ts";

/**
 * A runtime whose implementation is loaded on first use. The Podman client (and execa
 * beneath it) is not needed until the first container call, so an idle agent does not pay
 * for it in start-up time or memory.
 */
export function lazyRuntime(
  load: () => Promise<ContainerRuntime>,
): ContainerRuntime & ContainerInspector {
  let loaded: Promise<ContainerRuntime> | undefined;
  const get = () => {
    loaded ??= load();
    return loaded;
  };
  return {
    version: async () => (await get()).version(),
    list: async () => (await get()).list(),
    imageExists: async (image) => (await get()).imageExists(image),
    pull: async (image) => (await get()).pull(image),
    removeImage: async (image) => {
      const r = await get();
      if (!r.removeImage) throw new Error("this container runtime cannot remove images");
      await r.removeImage(image);
    },
    create: async (spec) => (await get()).create(spec),
    run: async (spec) => (await get()).run(spec),
    start: async (name) => (await get()).start(name),
    stop: async (name, options) => (await get()).stop(name, options),
    restart: async (name, options) => (await get()).restart(name, options),
    remove: async (name, options) => (await get()).remove(name, options),
    rename: async (name, newName) => (await get()).rename(name, newName),
    // Command health checks; a runtime without exec fails them with a clear reason.
    exec: async (name, cmd, options) => {
      const rt = await get();
      if (!rt.exec) throw new Error("the container runtime cannot run commands in containers");
      return rt.exec(name, cmd, options);
    },
    // A runtime that cannot read settings back gives none: adopt then records name and image.
    inspect: async (name) => {
      const rt = await get();
      return canInspect(rt) ? rt.inspect(name) : {};
    },
    async *logs(name: string, options: LogOptions): AsyncIterable<LogLine> {
      yield* (await get()).logs(name, options);
    },
  };
}
