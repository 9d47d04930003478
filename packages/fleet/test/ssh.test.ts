import { describe, expect, it } from "vitest";
import {
  isRemoteCommandError,
  isSshAuthError,
  isSshHostKeyError,
  isSshUnreachableError,
  type RemoteCommandError,
} from "../src/index.ts";
import { classifySshFailure, shellQuote, sshArgs } from "../src/ssh.ts";

describe("sshArgs", () => {
  it("is always non-interactive and strict about host keys", () => {
    const a = sshArgs(
      { host: "rift", port: 2222, user: "root", identityFile: "/k", knownHostsFile: "/kh" },
      7,
    );
    const opts = a.filter((_, i) => a[i - 1] === "-o");
    expect(opts).toContain("BatchMode=yes");
    expect(opts).toContain("StrictHostKeyChecking=yes");
    expect(opts).toContain("ConnectTimeout=7");
    expect(opts).toContain("UserKnownHostsFile=/kh");
    expect(a.slice(-5)).toEqual(["-p", "2222", "-l", "root", "rift"]);
    expect(a).toContain("-i");
  });

  it("accepts a new host key only when asked (provisioning), never a changed one", () => {
    expect(sshArgs({ host: "new", acceptNewHostKey: true }, 5)).toContain(
      "StrictHostKeyChecking=accept-new",
    );
  });

  it("refuses a host that ssh would read as an option", () => {
    expect(() => sshArgs({ host: "-oProxyCommand=x" }, 5)).toThrow(/is not a host name/);
    expect(() => sshArgs({ host: "ok", user: "-x" }, 5)).toThrow(/is not a user name/);
  });
});

describe("shellQuote", () => {
  it("passes plain words and quotes everything else as one word", () => {
    expect(shellQuote("/srv/mcp")).toBe("/srv/mcp");
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's $(x)")).toBe(`'it'"'"'s $(x)'`);
  });
});

describe("classifySshFailure", () => {
  const t = { host: "rift", port: 22 };
  it("tells transport failures apart from a remote command's exit status", () => {
    expect(classifySshFailure(t, "x", 255, "Host key verification failed.\n")).toSatisfy(
      isSshHostKeyError,
    );
    expect(
      classifySshFailure(t, "x", 255, "root@rift: Permission denied (publickey).\n"),
    ).toSatisfy(isSshAuthError);
    expect(
      classifySshFailure(t, "x", 255, "ssh: connect to host rift port 22: Connection refused\n"),
    ).toSatisfy(isSshUnreachableError);
    const e = classifySshFailure(t, "tar", 2, "a\nb\ntar: bad\n") as RemoteCommandError;
    expect(e).toSatisfy(isRemoteCommandError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe("rift:22: tar failed with exit code 2: tar: bad");
  });
});
