import type { ContainerInfo } from "../runtime/runtime.ts";
import { containerName, imageTag } from "../spec.ts";
import type { StoredService } from "../store/store.ts";
import { observedSpecHash, parseStoredHash } from "./adopted.ts";
import { LABEL_VERSION } from "./plan.ts";

export interface ComponentDrift {
  name: string;
  desiredState: "running" | "stopped";
  /** Container state, or "missing". */
  observedState: string;
  desiredVersion: string;
  observedVersion: string;
  drift: boolean;
  reasons: string[];
  container: ContainerInfo | undefined;
}

/**
 * Desired against observed for one service, per component. Pure. A stopped service
 * (active = false) whose containers are stopped or missing has no drift.
 */
export function compareService(
  service: StoredService,
  observed: ContainerInfo[],
): { drift: boolean; components: ComponentDrift[] } {
  const byName = new Map(observed.map((c) => [c.name, c]));
  const components = service.components.map((comp): ComponentDrift => {
    const container = byName.get(containerName(service.name, comp.name));
    const desiredState = service.active ? "running" : "stopped";
    const observedState = container?.state ?? "missing";
    const desiredVersion = comp.version || imageTag(comp.image);
    const observedVersion = container
      ? (container.labels[LABEL_VERSION] ?? imageTag(container.image))
      : "";
    const reasons: string[] = [];
    if (desiredState === "running" && observedState !== "running") {
      reasons.push(`desired running, observed ${observedState}`);
    }
    if (desiredState === "stopped" && observedState === "running") {
      reasons.push("desired stopped, observed running");
    }
    if (container && observedVersion !== desiredVersion) {
      reasons.push(`version ${observedVersion || "unknown"} runs, ${desiredVersion} desired`);
    } else if (
      container &&
      observedSpecHash(container, comp.specHash) !== parseStoredHash(comp.specHash).hash
    ) {
      reasons.push("container spec differs from the definition (redeploy to apply)");
    }
    return {
      name: comp.name,
      desiredState,
      observedState,
      desiredVersion,
      observedVersion,
      drift: reasons.length > 0,
      reasons,
      container,
    };
  });
  return { drift: components.some((c) => c.drift), components };
}
