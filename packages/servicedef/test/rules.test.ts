import { describe, expect, test } from "vitest";
import { ruleList } from "../src/index.ts";
import { diagnostics, expectClean, expectDiagnostic } from "./helpers.ts";

const IMAGE = "mcr.svc.mcp.metacircular.net:8443/svc:v1.0.0";

/** Lines 1-6 are fixed: name, node, blank, [[components]], name, image; `body` starts on line 7. */
function svc(body = "", top = ""): string {
  return `name = "svc"\nnode = "rift"\n${top}\n[[components]]\nname = "api"\nimage = "${IMAGE}"\n${body}`;
}

interface Case {
  rule: string;
  fail: string;
  path: string;
  line: number;
  column: number;
  message?: RegExp;
  pass: string;
}

const cases: Case[] = [
  {
    rule: "SD001",
    fail: 'name = "svc"\nnode = = "rift"\n',
    path: "",
    line: 2,
    column: 8,
    pass: svc(),
  },
  {
    rule: "SD004",
    fail: 'name = "svc"\nnode = "rift"\ncompnents = []\n',
    path: "compnents",
    line: 3,
    column: 1,
    message: /did you mean "components"/,
    pass: 'name = "svc"\nnode = "rift"\n[[components]]\nname = "api"\nimage = "x/svc:v1.0.0"\n',
  },
  {
    rule: "SD004",
    fail: svc('\n[[components.routes]]\nport = 443\nmode = "l7"\nhostnme = "a.example.com"\n'),
    path: "components[0].routes[0].hostnme",
    line: 11,
    column: 1,
    message: /did you mean "hostname"/,
    pass: svc('\n[[components.routes]]\nport = 443\nmode = "l7"\nhostname = "a.example.com"\n'),
  },
  {
    rule: "SD005",
    fail: svc('volumes = "/srv/svc:/srv/svc"\n'),
    path: "components[0].volumes",
    line: 7,
    column: 11,
    message: /expected a list of strings, got a string/,
    pass: svc('volumes = ["/srv/svc:/srv/svc"]\n'),
  },
  {
    rule: "SD005",
    fail: svc('\n[[components.routes]]\nport = "443"\nmode = "l7"\n'),
    path: "components[0].routes[0].port",
    line: 9,
    column: 8,
    message: /expected an integer, got a string/,
    pass: svc('\n[[components.routes]]\nport = 443\nmode = "l7"\n'),
  },
  {
    rule: "SD005",
    fail: svc('\n[[components.routes]]\nport = 443.0\nmode = "l7"\n'),
    path: "components[0].routes[0].port",
    line: 9,
    column: 8,
    message: /got a float/,
    pass: svc('\n[[components.routes]]\nport = 0x1bb\nmode = "l7"\n'),
  },
  {
    rule: "SD005",
    fail: 'name = "svc"\nnode = "rift"\nactive = "yes"\n',
    path: "active",
    line: 3,
    column: 10,
    pass: 'name = "svc"\nnode = "rift"\nactive = false\n[[components]]\nname = "api"\nimage = "x/svc:v1.0.0"\n',
  },
  {
    rule: "SD006",
    fail: 'name = "svc"\n\n[[components]]\nname = "api"\nimage = "x/svc:v1.0.0"\n',
    path: "node",
    line: 1,
    column: 1,
    pass: svc(),
  },
  {
    rule: "SD006",
    fail: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\n',
    path: "components[0].image",
    line: 4,
    column: 1,
    message: /missing required key "image" in components\[0\]/,
    pass: svc(),
  },
  {
    rule: "SD007",
    fail: 'name = "My_Service"\nnode = "rift"\ncomponents = []\n',
    path: "name",
    line: 1,
    column: 8,
    pass: 'name = "my-service"\nnode = "rift"\n[[components]]\nname = "api"\nimage = "x/svc:v1.0.0"\n',
  },
  {
    rule: "SD007",
    fail: svc('\n[[components.routes]]\nname = "9rest"\nport = 443\nmode = "l7"\n'),
    path: "components[0].routes[0].name",
    line: 9,
    column: 8,
    pass: svc('\n[[components.routes]]\nname = "rest9"\nport = 443\nmode = "l7"\n'),
  },
  {
    rule: "SD008",
    fail: `${svc()}\n[[components]]\nname = "api"\nimage = "${IMAGE}"\n`,
    path: "components[1].name",
    line: 9,
    column: 8,
    pass: `${svc()}\n[[components]]\nname = "web"\nimage = "${IMAGE}"\n`,
  },
  {
    rule: "SD009",
    fail: svc(
      '\n[[components.routes]]\nname = "rest"\nport = 8443\nmode = "l4"\n\n[[components.routes]]\nname = "rest"\nport = 9443\nmode = "l4"\n',
    ),
    path: "components[0].routes[1].name",
    line: 14,
    column: 8,
    pass: svc(
      '\n[[components.routes]]\nname = "rest"\nport = 8443\nmode = "l4"\n\n[[components.routes]]\nname = "grpc"\nport = 9443\nmode = "l4"\n',
    ),
  },
  {
    rule: "SD010",
    fail: svc(
      '\n[[components.routes]]\nname = "rest"\nport = 8443\nmode = "l4"\n\n[[components.routes]]\nport = 9443\nmode = "l4"\n',
    ),
    path: "components[0].routes[1]",
    line: 13,
    column: 1,
    pass: svc('\n[[components.routes]]\nport = 8443\nmode = "l4"\n'),
  },
  {
    rule: "SD011",
    fail: svc('\n[[components.routes]]\nport = 443\nmode = "L7"\n'),
    path: "components[0].routes[0].mode",
    line: 10,
    column: 8,
    pass: svc('\n[[components.routes]]\nport = 443\nmode = "l7"\n'),
  },
  {
    rule: "SD012",
    fail: svc('\n[[components.routes]]\nport = 0\nmode = "l7"\n'),
    path: "components[0].routes[0].port",
    line: 9,
    column: 8,
    pass: svc('\n[[components.routes]]\nport = 65535\nmode = "l7"\n'),
  },
  {
    rule: "SD012",
    fail: svc('routes = [{ port = 65536, mode = "l4" }]\n'),
    path: "components[0].routes[0].port",
    line: 7,
    column: 20,
    pass: svc('routes = [{ port = 1, mode = "l4" }]\n'),
  },
  {
    rule: "SD013",
    fail: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "MCR/Svc:v1.0.0"\n',
    path: "components[0].image",
    line: 6,
    column: 9,
    pass: svc(),
  },
  {
    rule: "SD014",
    fail: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "mcr.svc.mcp.metacircular.net:8443/svc:latest"\n',
    path: "components[0].image",
    line: 6,
    column: 9,
    message: /:latest/,
    pass: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "mcr.svc.mcp.metacircular.net:8443/svc:v1.0.0-rc.1"\n',
  },
  {
    rule: "SD014",
    fail: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "mcr.svc.mcp.metacircular.net:8443/svc"\n',
    path: "components[0].image",
    line: 6,
    column: 9,
    message: /has no tag/,
    pass: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "localhost:5000/team/svc:1.2.3"\n',
  },
  {
    rule: "SD014",
    fail: 'name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "svc:v1.0"\n',
    path: "components[0].image",
    line: 6,
    column: 9,
    message: /not a semver/,
    pass: `name = "svc"\nnode = "rift"\n\n[[components]]\nname = "api"\nimage = "svc:v1.0.0@sha256:${"a".repeat(64)}"\n`,
  },
  {
    rule: "SD015",
    fail: svc("", '\n[build.images]\nsvc = "Dockerfile"\nsvc-web = "Dockerfile.web"\n'),
    path: "build.images.svc-web",
    line: 6,
    column: 1,
    pass: svc("", '\n[build.images]\nsvc = "Dockerfile"\n'),
  },
  {
    rule: "SD016",
    fail: 'name = "svc"\nnode = "rift"\npath = "../elsewhere"\ncomponents = []\n',
    path: "path",
    line: 3,
    column: 8,
    pass: 'name = "svc"\nnode = "rift"\npath = "services/./svc/../svc"\n[[components]]\nname = "api"\nimage = "x/svc:v1.0.0"\n',
  },
  {
    rule: "SD016",
    fail: 'name = "svc"\nnode = "rift"\npath = "/src/svc"\ncomponents = []\n',
    path: "path",
    line: 3,
    column: 8,
    pass: 'name = "svc"\nnode = "rift"\npath = "svc"\n[[components]]\nname = "api"\nimage = "x/svc:v1.0.0"\n',
  },
  {
    rule: "SD017",
    fail: svc('volumes = ["/srv/svc:/srv/svc", "/srv/svc:relative"]\n'),
    path: "components[0].volumes[1]",
    line: 7,
    column: 33,
    pass: svc('volumes = ["/srv/svc:/srv/svc:ro,Z", "data:/data"]\n'),
  },
  {
    rule: "SD017",
    fail: svc('volumes = ["/srv/svc"]\n'),
    path: "components[0].volumes[0]",
    line: 7,
    column: 12,
    pass: svc('volumes = ["/srv/svc:/srv/svc"]\n'),
  },
  {
    rule: "SD018",
    fail: svc('env = ["GOOD=1", "1BAD=2"]\n'),
    path: "components[0].env[1]",
    line: 7,
    column: 18,
    pass: svc('env = ["GOOD=1", "_ALSO_GOOD=a=b", "EMPTY="]\n'),
  },
  {
    rule: "SD018",
    fail: svc('env = ["NOVALUE"]\n'),
    path: "components[0].env[0]",
    line: 7,
    column: 8,
    pass: svc('env = ["NOVALUE="]\n'),
  },
  {
    rule: "SD019",
    fail: svc('restart = "on-failure:x"\n'),
    path: "components[0].restart",
    line: 7,
    column: 11,
    pass: svc('restart = "on-failure:3"\n'),
  },
  {
    rule: "SD020",
    fail: svc('\n[[components.routes]]\nport = 443\nmode = "l7"\nhostname = "-bad.example.com"\n'),
    path: "components[0].routes[0].hostname",
    line: 11,
    column: 12,
    pass: svc(
      '\n[[components.routes]]\nport = 443\nmode = "l7"\nhostname = "docs.metacircular.net"\n',
    ),
  },
  {
    rule: "SD021",
    fail: svc('drain = "5"\n'),
    path: "components[0].drain",
    line: 7,
    column: 9,
    pass: svc('drain = "1m30s"\n'),
  },
  {
    rule: "SD021",
    fail: svc(
      '\n[components.health]\ntype = "command"\ncommand = ["true"]\nstart_period = "soon"\n',
    ),
    path: "components[0].health.start_period",
    line: 11,
    column: 16,
    pass: svc(
      '\n[components.health]\ntype = "command"\ncommand = ["true"]\nstart_period = "1.5s"\n',
    ),
  },
  {
    rule: "SD022",
    fail: svc('\n[components.health]\ntype = "grpc"\n'),
    path: "components[0].health.type",
    line: 9,
    column: 8,
    message: /one of "http", "tcp", "command"/,
    pass: svc('\n[components.health]\ntype = "command"\ncommand = ["true"]\n'),
  },
  {
    rule: "SD022",
    fail: svc(
      '\n[[components.routes]]\nname = "rest"\nport = 443\nmode = "l4"\n\n[components.health]\ntype = "tcp"\nroute = "grpc"\n',
    ),
    path: "components[0].health.route",
    line: 15,
    column: 9,
    pass: svc(
      '\n[[components.routes]]\nname = "rest"\nport = 443\nmode = "l4"\n\n[components.health]\ntype = "tcp"\nroute = "rest"\n',
    ),
  },
  {
    rule: "SD022",
    fail: svc('\n[components.health]\ntype = "http"\n'),
    path: "components[0].health.type",
    line: 9,
    column: 8,
    message: /needs a route to probe/,
    pass: svc(
      '\n[[components.routes]]\nport = 443\nmode = "l7"\n\n[components.health]\ntype = "http"\npath = "/healthz"\n',
    ),
  },
  {
    rule: "SD022",
    fail: svc(
      '\n[[components.routes]]\nport = 443\nmode = "l7"\n\n[components.health]\ntype = "http"\nstatus = 42\n',
    ),
    path: "components[0].health.status",
    line: 14,
    column: 10,
    pass: svc(
      '\n[[components.routes]]\nport = 443\nmode = "l7"\n\n[components.health]\ntype = "http"\nstatus = 204\n',
    ),
  },
  {
    rule: "SD023",
    fail: `${svc('\n[[components.routes]]\nport = 443\nmode = "l7"\n')}\n[[components]]\nname = "web"\nimage = "${IMAGE}"\n\n[[components.routes]]\nport = 443\nmode = "l7"\n`,
    path: "components[1].routes[0].port",
    line: 17,
    column: 8,
    pass: `${svc('\n[[components.routes]]\nport = 443\nmode = "l7"\n')}\n[[components]]\nname = "web"\nimage = "${IMAGE}"\n\n[[components.routes]]\nport = 443\nmode = "l7"\nhostname = "www.example.com"\n`,
  },
  {
    rule: "SD024",
    fail: svc('user = "0:0:0"\n'),
    path: "components[0].user",
    line: 7,
    column: 8,
    pass: svc('user = "0:0"\n'),
  },
  {
    rule: "SD024",
    fail: svc('network = "my net"\n'),
    path: "components[0].network",
    line: 7,
    column: 11,
    pass: svc('network = "mcpnet"\n'),
  },
  {
    rule: "SD101",
    fail: svc('env = ["PORT_REST=8443"]\n'),
    path: "components[0].env[0]",
    line: 7,
    column: 8,
    pass: svc('env = ["REPORT=1"]\n'),
  },
  {
    rule: "SD102",
    fail: svc('env = ["A=1", "A=2"]\n'),
    path: "components[0].env[1]",
    line: 7,
    column: 15,
    pass: svc('env = ["A=1", "B=2"]\n'),
  },
  {
    rule: "SD103",
    fail: svc('volumes = ["/a:/data", "/b:/data/"]\n'),
    path: "components[0].volumes[1]",
    line: 7,
    column: 24,
    pass: svc('volumes = ["/a:/data", "/b:/logs"]\n'),
  },
  {
    rule: "SD104",
    fail: 'name = "svc"\nnode = "rift"\n',
    path: "",
    line: 1,
    column: 1,
    pass: svc(),
  },
  {
    rule: "SD105",
    fail: `${svc("", '\n[build.images]\nsvc = "Dockerfile"\n')}\n[[components]]\nname = "web"\nimage = "mcr.svc.mcp.metacircular.net:8443/other:v1.0.0"\n`,
    path: "components[1].image",
    line: 13,
    column: 9,
    pass: svc("", '\n[build.images]\nsvc = "Dockerfile"\n'),
  },
  {
    rule: "SD106",
    fail: svc(
      '\n[components.health]\ntype = "command"\ncommand = ["true"]\ninterval = "1s"\ntimeout = "1s"\n',
    ),
    path: "components[0].health.timeout",
    line: 12,
    column: 11,
    pass: svc(
      '\n[components.health]\ntype = "command"\ncommand = ["true"]\ninterval = "1s"\ntimeout = "999ms"\n',
    ),
  },
  {
    rule: "SD107",
    fail: `${svc()}\n[[components]]\nname = "web"\nimage = "mcr.svc.mcp.metacircular.net:8443/svc-web:v1.1.0"\n`,
    path: "components[1].image",
    line: 10,
    column: 9,
    pass: `${svc()}\n[[components]]\nname = "web"\nimage = "mcr.svc.mcp.metacircular.net:8443/svc-web:v1.0.0"\n`,
  },
  {
    rule: "SD108",
    fail: svc('volumes = ["/srv/svc:/srv/svc"]\nuser = "1000:1000"\n'),
    path: "components[0].user",
    line: 8,
    column: 8,
    pass: svc('volumes = ["/srv/svc:/srv/svc"]\nuser = "0:0"\n'),
  },
];

describe("every rule has a failing and a passing case", () => {
  test.each(cases)("$rule at $path", (c) => {
    expectDiagnostic(c.fail, {
      code: c.rule,
      path: c.path,
      line: c.line,
      column: c.column,
      ...(c.message ? { message: c.message } : {}),
    });
    expectClean(c.pass);
  });

  test("the cases cover every rule except the file-level ones tested elsewhere", () => {
    const covered = new Set(cases.map((c) => c.rule));
    const missing = ruleList()
      .map((r) => r.code)
      .filter((code) => !covered.has(code) && code !== "SD002" && code !== "SD003");
    expect(missing).toEqual([]);
  });
});

describe("reporting", () => {
  test("all problems of a file come at once, sorted by position", () => {
    const all = diagnostics(
      `name = "Bad"\nnode = "rift"\ncompnents = 1\n\n[[components]]\nname = "api"\nimage = "svc:latest"\nrestart = "sometimes"\n\n[[components.routes]]\nport = 70000\nmode = "l5"\n`,
    );
    expect(all.map((d) => `${d.line}:${d.column} ${d.code} ${d.path}`)).toEqual([
      "1:8 SD007 name",
      "3:1 SD004 compnents",
      "7:9 SD014 components[0].image",
      "8:11 SD019 components[0].restart",
      "11:8 SD012 components[0].routes[0].port",
      "12:8 SD011 components[0].routes[0].mode",
    ]);
  });

  test("warnings alone leave the file valid", () => {
    const text = svc('env = ["PORT=1"]\n');
    expect(diagnostics(text).map((d) => d.severity)).toEqual(["warning"]);
  });

  test("keys that are not bare are quoted in paths", () => {
    expectDiagnostic(svc("", '\n[build.images]\n"my.image" = "Dockerfile"\nsvc = "Dockerfile"\n'), {
      code: "SD015",
      path: 'build.images["my.image"]',
      line: 5,
      column: 1,
    });
  });

  test("positions survive multi-line strings, comments and inline tables", () => {
    const text = [
      'name = "svc" # a comment with [brackets] and = signs',
      'node = """',
      "rift [not a table]",
      '"""',
      "",
      "[[components]]",
      'name = "api"',
      `image = '${IMAGE}'`,
      "cmd = [",
      '  "a ] b", # tricky',
      '  """x""",',
      "]",
      'routes = [ { name = "rest", port = 1, mode = "l4" }, { name = "grpc", port = 2, mode = "x" } ]',
    ].join("\n");
    const all = diagnostics(text);
    expect(all.map((d) => `${d.line}:${d.column} ${d.code} ${d.path}`)).toEqual([
      "2:8 SD007 node",
      "13:88 SD011 components[0].routes[1].mode",
    ]);
  });
});

describe("health-check variants", () => {
  test("a key of another check type is named as such", () => {
    expectDiagnostic(
      svc('\n[components.health]\ntype = "command"\ncommand = ["true"]\npath = "/"\n'),
      {
        code: "SD022",
        path: "components[0].health.path",
        line: 11,
        column: 1,
        message: /"path" applies to type = "http" checks, not to type = "command"/,
      },
    );
  });

  test("a key of no check type is an unknown key with a hint", () => {
    expectDiagnostic(
      svc('\n[components.health]\ntype = "command"\ncommand = ["true"]\nretry = 3\n'),
      {
        code: "SD004",
        path: "components[0].health.retry",
        line: 11,
        column: 1,
        message: /did you mean "retries"/,
      },
    );
  });
});

describe("floats where integers belong", () => {
  test.each([
    ['routes = [{ port = 443.0, mode = "l4" }]', 20],
    ['routes = [{ port = 1e3, mode = "l4" }]', 20],
    ['routes = [{ port = inf, mode = "l4" }]', 20],
  ])("%s", (body, column) => {
    expectDiagnostic(svc(`${body}\n`), {
      code: "SD005",
      path: "components[0].routes[0].port",
      line: 7,
      column,
      message: /got a float/,
    });
  });

  test("a float-looking string elsewhere does not make an integer a float", () => {
    expectClean(
      svc('env = ["RATIO=1.5"]\ncmd = ["--x", "=1.0"]\nroutes = [{ port = 443, mode = "l4" }]\n'),
    );
  });
});
