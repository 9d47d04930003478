import type { ServiceDef } from "../spec.ts";

export interface StoredComponent {
  name: string;
  image: string;
  version: string;
  specHash: string;
}

export interface StoredService {
  name: string;
  spec: ServiceDef;
  sourceToml: string;
  active: boolean;
  version: string;
  specHash: string;
  components: StoredComponent[];
  createdAt: string;
  updatedAt: string;
  deployedAt: string | null;
}

export interface PortAssignment {
  hostPort: number;
  service: string;
  component: string;
  /** Route name; "" for an unnamed route. */
  route: string;
}

export interface ObservedRow {
  name: string;
  id: string;
  image: string;
  state: string;
  exitCode: number | null;
  health: string;
  service: string;
  component: string;
  version: string;
  lastSeen: string;
}

export type EventLevel = "info" | "warning" | "error";

export interface NewEvent {
  service?: string;
  component?: string;
  kind: string;
  level?: EventLevel;
  from?: string;
  to?: string;
  message?: string;
}

export interface StoredEvent {
  id: number;
  time: string;
  service: string;
  component: string;
  kind: string;
  level: EventLevel;
  from: string;
  to: string;
  message: string;
}

export type OperationStatus = "running" | "succeeded" | "failed" | "rolled_back";

export interface Operation {
  id: string;
  service: string;
  kind: string;
  step: string;
  status: OperationStatus;
  error: string;
  startedAt: string;
  updatedAt: string;
}

export type DeployOutcome = "succeeded" | "failed" | "rolled_back";

export interface HistoryEntry {
  id: number;
  service: string;
  version: string;
  spec: ServiceDef;
  sourceToml: string;
  outcome: DeployOutcome;
  message: string;
  time: string;
}

export interface DesiredService {
  name: string;
  spec: ServiceDef;
  sourceToml: string;
  active: boolean;
  version: string;
  specHash: string;
  components: StoredComponent[];
}

/** A route this edge node carries for a service on a compute node. */
export interface EdgeRouteRow {
  listener: string;
  hostname: string;
  backend: string;
  mode: "l4" | "l7";
  service: string;
  node: string;
}

export interface StoredEdgeRoute extends EdgeRouteRow {
  createdAt: string;
  updatedAt: string;
}

/**
 * The agent's registry. Every method that changes state is one transaction; `transaction`
 * groups several into one.
 */
export interface Store {
  transaction<T>(fn: () => T): T;

  getService(name: string): StoredService | undefined;
  listServices(): StoredService[];
  /** Inserts or replaces the desired spec and its components. */
  putService(desired: DesiredService): void;
  setActive(name: string, active: boolean): void;
  markDeployed(name: string): void;
  /** Removes the service, its components and its port assignments. */
  deleteService(name: string): void;

  listPorts(service?: string): PortAssignment[];
  assignPorts(assignments: PortAssignment[]): void;
  releasePorts(service: string, keep?: PortAssignment[]): void;

  /** Replaces the whole observed set with what Podman just listed. */
  replaceObserved(rows: Omit<ObservedRow, "lastSeen">[]): void;
  listObserved(): ObservedRow[];

  addEvent(event: NewEvent): void;
  listEvents(filter?: { service?: string; since?: string; limit?: number }): StoredEvent[];

  beginOperation(op: { id: string; service: string; kind: string }): void;
  updateOperation(id: string, step: string): void;
  finishOperation(id: string, status: Exclude<OperationStatus, "running">, error?: string): void;
  unfinishedOperations(): Operation[];

  /** Records a deploy outcome and keeps only the newest `keep` entries of the service. */
  addHistory(
    entry: Omit<HistoryEntry, "id" | "time" | "spec"> & { spec: ServiceDef },
    keep: number,
  ): void;
  listHistory(service: string, limit?: number): HistoryEntry[];
  /** Every service with at least one kept history entry (also undeployed ones). */
  listHistoryServices(): string[];

  /** Notes an image the agent pulled (history retention may remove only those). */
  recordPulledImage(image: string): void;
  listPulledImages(): string[];
  forgetPulledImage(image: string): void;

  /** Inserts or replaces the edge route for (listener, hostname). */
  putEdgeRoute(route: EdgeRouteRow): void;
  listEdgeRoutes(): StoredEdgeRoute[];
  getEdgeRoute(listener: string, hostname: string): StoredEdgeRoute | undefined;
  deleteEdgeRoute(listener: string, hostname: string): void;

  /** The monitor's component states, as JSON by component key. */
  loadMonitorStates(): { key: string; json: string }[];
  /** Replaces them all. */
  saveMonitorStates(rows: readonly { key: string; json: string }[]): void;

  close(): void;
}
