import type { Container } from "@mcp/proto/agent/v1";
import { defaultHostname } from "@mcp/servicedef";

// What `mcp service export` adds to the agent's TOML: comments for what only the operator
// knows. The agent can see what a hand-started container publishes, not which hostname or
// proxy mode the port deserves, so each published port becomes a commented route to fill in.

export interface PublishedPort {
  hostPort: number;
  containerPort: number;
  protocol: string;
}

/**
 * Ports published by hand, per component: those of the service's containers that MCP did
 * not create (adopted ones carry no MCP labels, so they are found by their name,
 * `<service>-<component>`). A container MCP deployed publishes what its routes say, which
 * the definition already holds.
 */
export function publishedPorts(
  containers: readonly Container[],
  service: string,
  components: readonly string[],
): Map<string, PublishedPort[]> {
  const out = new Map<string, PublishedPort[]>();
  for (const component of components) {
    const list: PublishedPort[] = [];
    for (const c of containers) {
      if (c.managed || c.name !== `${service}-${component}`) continue;
      for (const p of c.ports) {
        if (list.some((x) => x.containerPort === p.containerPort && x.protocol === p.protocol)) {
          continue;
        }
        list.push({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol });
      }
    }
    if (list.length > 0)
      out.set(
        component,
        list.sort((a, b) => a.containerPort - b.containerPort),
      );
  }
  return out;
}

function routeTemplate(service: string, p: PublishedPort, named: boolean): string[] {
  const lines = [
    `# Published by hand on host port ${p.hostPort} (container port ${p.containerPort}/${p.protocol || "tcp"}).`,
    "# MCP assigns host ports itself; to route this port through mc-proxy, uncomment:",
    "# [[components.routes]]",
  ];
  if (named) lines.push(`# name = "port${p.containerPort}"`);
  lines.push(
    `# port = ${p.containerPort}`,
    '# mode = "l4"                  # "l7": mc-proxy terminates TLS and proxies HTTP',
    `# hostname = "${defaultHostname(service)}"   # optional; the default in the default zone`,
  );
  return lines;
}

/**
 * The agent's TOML with a commented route per port published by hand at the end of each
 * component and, when the text is the agent's own rendering (no comments: an adopted
 * service), a header saying where it came from and what is left to do. A definition the
 * operator wrote comes back as written. Comments only: the definition itself is exactly
 * what the agent stores, so it validates as the agent's does.
 */
export function annotateExport(opts: {
  toml: string;
  service: string;
  node: string;
  ports: ReadonlyMap<string, readonly PublishedPort[]>;
}): string {
  const header = [
    `# ${opts.service}: exported by \`mcp service export\` from node ${opts.node}.`,
    "# Filled from what the agent stores and what Podman reports of the running containers.",
    "# Only you know the rest: routes and their hostnames (templates below for each published",
    "# port), health checks, and [build.images]. Complete it, check it with",
    "# `mcp-servicedef lint`, then run `mcp sync`.",
    "",
  ];
  const lines = opts.toml.replace(/\n+$/, "").split("\n");
  const out: string[] = [];
  let current: string | undefined;
  let inComponent = false;
  const flush = () => {
    if (!inComponent || current === undefined) return;
    const ports = opts.ports.get(current) ?? [];
    if (ports.length === 0) return;
    while (out.length > 0 && out.at(-1) === "") out.pop();
    for (const p of ports) out.push("", ...routeTemplate(opts.service, p, ports.length > 1));
    out.push("");
  };
  for (const line of lines) {
    if (/^\s*\[\[components\]\]\s*$/.test(line)) {
      flush();
      inComponent = true;
      current = undefined;
    } else if (/^\s*\[(?!\[components\.)/.test(line) && !/^\s*\[\[components\]\]/.test(line)) {
      // A table that is not part of a component ends the component.
      if (!/^\s*\[components\./.test(line)) {
        flush();
        inComponent = false;
      }
    }
    const name = /^\s*name\s*=\s*"([^"]*)"/.exec(line);
    if (inComponent && current === undefined && name) current = name[1];
    out.push(line);
  }
  flush();
  while (out.length > 0 && out.at(-1) === "") out.pop();
  const generated = !lines.some((l) => /^\s*#/.test(l));
  return `${generated ? header.join("\n") : ""}${out.join("\n")}\n`;
}
