import type {
  ContainerInfo,
  ContainerRuntime,
  CreateContainerSpec,
  LogLine,
  LogOptions,
} from "../../src/runtime/runtime.ts";

type Method =
  | "pull"
  | "create"
  | "start"
  | "stop"
  | "remove"
  | "rename"
  | "restart"
  | "exec"
  | "removeImage";

/** A complete in-memory runtime for unit tests, with call counting and fault injection. */
export class FakeRuntime implements ContainerRuntime {
  readonly images = new Set<string>();
  readonly containers = new Map<string, ContainerInfo & { spec: CreateContainerSpec }>();
  readonly calls: string[] = [];
  #seq = 0;
  #faults: { method: Method; name?: string; message: string }[] = [];

  failOn(method: Method, name?: string, message = `${method} failed`): void {
    this.#faults.push({ method, name, message });
  }

  #check(method: Method, name: string): void {
    this.calls.push(`${method} ${name}`);
    const i = this.#faults.findIndex((f) => f.method === method && (!f.name || f.name === name));
    if (i >= 0) {
      const f = this.#faults[i]!;
      this.#faults.splice(i, 1);
      throw new Error(f.message);
    }
  }

  #get(name: string) {
    const c = this.containers.get(name);
    if (!c) throw new Error(`no such container ${name}`);
    return c;
  }

  async version() {
    return "4.3.1-fake";
  }

  async list(): Promise<ContainerInfo[]> {
    this.calls.push("list");
    return [...this.containers.values()].map(({ spec: _s, ...c }) => ({
      ...c,
      labels: { ...c.labels },
    }));
  }

  async imageExists(image: string) {
    this.calls.push(`exists ${image}`);
    return this.images.has(image);
  }

  async pull(image: string) {
    this.#check("pull", image);
    this.images.add(image);
  }

  async removeImage(image: string) {
    this.#check("removeImage", image);
    if (!this.images.has(image)) throw new Error(`image ${image} not known`);
    if ([...this.containers.values()].some((c) => c.image === image)) {
      throw new Error(`image ${image} is in use by a container`);
    }
    this.images.delete(image);
  }

  async create(spec: CreateContainerSpec) {
    this.#check("create", spec.name);
    if (this.containers.has(spec.name)) {
      // Coded as the Podman client's NameInUseError is, which the engine recognises.
      throw Object.assign(new Error(`name ${spec.name} is in use`), { code: "name-in-use" });
    }
    if (!this.images.has(spec.image)) throw new Error(`image ${spec.image} not known`);
    const id = `c${++this.#seq}`.padEnd(12, "0");
    this.containers.set(spec.name, {
      id,
      name: spec.name,
      image: spec.image,
      state: "created",
      status: "Created",
      labels: { ...spec.labels },
      ports: spec.ports,
      health: "",
      restartCount: 0,
      spec,
    });
    return id;
  }

  async run(spec: CreateContainerSpec) {
    const id = await this.create(spec);
    await this.start(spec.name);
    return id;
  }

  async start(name: string) {
    this.#check("start", name);
    const c = this.#get(name);
    for (const other of this.containers.values()) {
      if (other !== c && other.state === "running") {
        for (const p of c.ports) {
          if (other.ports.some((o) => o.hostPort === p.hostPort)) {
            throw new Error(`port ${p.hostPort} is already in use by ${other.name}`);
          }
        }
      }
    }
    c.state = "running";
    c.status = "Up";
  }

  async stop(name: string) {
    this.#check("stop", name);
    const c = this.#get(name);
    c.state = "exited";
    c.status = "Exited (0)";
  }

  /** The stop timeout each restart was given, in order. */
  readonly restartTimeouts: (number | undefined)[] = [];

  async restart(name: string, options?: { timeoutSeconds?: number }) {
    this.#check("restart", name);
    this.restartTimeouts.push(options?.timeoutSeconds);
    const c = this.#get(name);
    c.state = "running";
    c.restartCount++;
  }

  async remove(name: string) {
    this.#check("remove", name);
    this.containers.delete(name);
  }

  async rename(name: string, newName: string) {
    this.#check("rename", name);
    const c = this.#get(name);
    if (this.containers.has(newName)) throw new Error(`name ${newName} is in use`);
    this.containers.delete(name);
    c.name = newName;
    this.containers.set(newName, c);
  }

  /** What a command run in a container exits with (health checks); default 0. */
  execExit: (name: string, cmd: string[]) => number = () => 0;

  async exec(name: string, cmd: string[]) {
    this.#check("exec", name);
    const c = this.#get(name);
    if (c.state !== "running") throw new Error(`container ${name} is not running`);
    return { exitCode: this.execExit(name, cmd), stdout: "", stderr: "" };
  }

  async *logs(name: string, options: LogOptions): AsyncIterable<LogLine> {
    this.#get(name);
    yield { stream: "stdout", line: `hello from ${name}` };
    if (options.follow) {
      await new Promise<void>((resolve) =>
        options.signal.addEventListener("abort", () => resolve()),
      );
    }
  }
}
