#!/usr/bin/env node
// Helpers of the Quick start's main job (scripts/main-job.sh), Node built-ins only.
//   node examples/demo/demo.mjs install DIR   copy demo.toml into DIR/services with DIR's registry
//   node examples/demo/demo.mjs fetch DIR NAME   resolve NAME.svc.mcp.metacircular.net with the
//     sim's DNS server, then GET / over HTTPS through the sim's mc-proxy (:443 listener),
//     trusting only the Metacrypt CA; prints the answer.
import { Resolver } from "node:dns/promises";
import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ZONE = "svc.mcp.metacircular.net";
const here = dirname(fileURLToPath(import.meta.url));

async function install(dir) {
  const state = JSON.parse(await readFile(join(dir, "platform.json"), "utf8"));
  const text = (await readFile(join(here, "demo.toml"), "utf8")).replaceAll(
    "127.0.0.1:5000/",
    `127.0.0.1:${state.registryPort}/`,
  );
  const target = join(dir, "services", "demo.toml");
  const old = await readFile(target, "utf8").catch(() => "");
  if (old !== text) await writeFile(target, text);
  console.log(`${target}${old === text ? " (unchanged)" : ""}`);
}

function get(address, port, servername, ca) {
  return new Promise((ok, fail) => {
    const req = request(
      { host: address, port, servername, ca, path: "/", timeout: 3000, agent: false },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => ok({ status: res.statusCode, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", fail);
    req.end();
  });
}

async function fetchService(dir, name) {
  const sim = JSON.parse(await readFile(join(dir, "sim", "sim.json"), "utf8"));
  const host = `${name}.${ZONE}`;
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([`127.0.0.1:${sim.modules.mcns.extra.dnsPort}`]);
  const [address] = await resolver.resolve4(host);
  const port = Number(String(sim.modules.mcproxy.extra[":443"]).split(":").pop());
  const ca = await readFile(sim.modules.metacrypt.caFile, "utf8");
  console.log(`DNS ${host} → ${address} (sim DNS 127.0.0.1:${sim.modules.mcns.extra.dnsPort})`);
  console.log(`GET https://${host}/ via mc-proxy :443 at ${address}:${port}, Metacrypt CA only`);
  // The route is registered a moment after the container starts: retry briefly.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await get(address, port, host, ca);
      if (r.status === 200) {
        console.log(`HTTP ${r.status}\n${r.body.trimEnd()}`);
        return;
      }
      if (Date.now() > deadline) throw new Error(`HTTP ${r.status}: ${r.body}`);
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const [cmd, dir, name] = process.argv.slice(2);
try {
  if (cmd === "install" && dir) await install(resolve(dir));
  else if (cmd === "fetch" && dir && name) await fetchService(resolve(dir), name);
  else {
    console.error("usage: demo.mjs install DIR | fetch DIR NAME");
    process.exit(2);
  }
} catch (e) {
  console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
