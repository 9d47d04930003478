import { request } from "node:https";

// A client that asks for a service by name over TLS through the proxy's :443 listener, as
// a user would (the same client as zero-downtime.test.ts, usable from other tests).

export interface ProxyTarget {
  /** "host:port" of the proxy's :443 listener. */
  address: string;
  /** PEM of the CA that issued the service certificates. */
  ca: string;
}

/** GET `path` (default /index.html) by name, a new TLS connection each time. */
export function get(
  target: ProxyTarget,
  servername: string,
  o: { path?: string; trim?: boolean } = {},
): Promise<{ status: number; body: string }> {
  const [host, port] = target.address.split(":");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        servername,
        ca: target.ca,
        path: o.path ?? "/index.html",
        timeout: 3000,
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: o.trim === false ? body : body.trim() }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

export async function untilServing(target: ProxyTarget, host: string, body: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await get(target, host).catch(() => undefined);
    if (r?.status === 200 && r.body === body) return;
    if (Date.now() > deadline) throw new Error(`${host} does not serve "${body}": ${r?.body}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Requests every 20 ms until stopped; records every answer and every failure. */
export function hammer(target: ProxyTarget, host: string) {
  const answers: string[] = [];
  const failures: string[] = [];
  const seq: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        const r = await get(target, host);
        if (r.status === 200) answers.push(r.body);
        else failures.push(`HTTP ${r.status}: ${r.body}`);
        seq.push(r.status === 200 ? r.body : `HTTP ${r.status}`);
      } catch (e) {
        failures.push((e as Error).message);
        seq.push((e as Error).message);
      }
      await new Promise((res) => setTimeout(res, Math.max(0, 20 - (Date.now() - started))));
    }
  })();
  return {
    answers,
    failures,
    /** Every answer in order, runs collapsed ("v1 ×40, v2 ×12"), for failure messages. */
    get sequence() {
      const runs: string[] = [];
      let prev = "";
      let n = 0;
      for (const x of [...seq, ""]) {
        if (x === prev) n++;
        else {
          if (prev) runs.push(`${prev} ×${n}`);
          prev = x;
          n = 1;
        }
      }
      return runs.join(", ");
    },
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
