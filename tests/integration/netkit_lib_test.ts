/**
 * `NETKIT_LIB` on a netkit that has file capabilities (as the README's `setcap` makes it): an
 * unprivileged user must not get those capabilities by pointing it at a library of their own.
 *
 * There is no compiled netkit here without denort, so the elevated netkit is this Deno with
 * `cap_net_raw,cap_net_admin+ep` running a world-readable copy of the checkout (main.ts, lib/,
 * ffi/, the library and the Deno cache), started as uid 65534 with `setpriv`: the kernel sets
 * AT_SECURE for it exactly as for a compiled binary with those capabilities.
 */

import assert from "node:assert/strict";
import { needs } from "../skip.ts";

const NOBODY = "65534";

const EVIL_C = `
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs at dlopen, with the loading process's privileges: it leaves a mark to prove it ran. */
__attribute__((constructor)) static void evil(void)
{
	const char *marker = getenv("EVIL_MARKER");
	int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;

	if (fd >= 0) {
		if (write(fd, "ran\\n", 4) < 0) {}
		close(fd);
	}
}
`;

function check(command: string, args: string[]): void {
  const out = new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A world-readable copy of what `netkit version` needs, and the pieces of the attack. */
function stage(dir: string): { deno: string; evil: string; marker: string; root: string } {
  Deno.chmodSync(dir, 0o755);
  const root = `${dir}/netkit`;
  Deno.mkdirSync(`${root}/build`, { recursive: true });
  const cwd = Deno.cwd();
  check("cp", [
    "-r",
    `${cwd}/main.ts`,
    `${cwd}/lib`,
    `${cwd}/ffi`,
    `${cwd}/deno.json`,
    `${cwd}/deno.lock`,
    `${cwd}/.deno`,
    root,
  ]);
  Deno.copyFileSync(`${cwd}/build/libnetkit.so`, `${root}/build/libnetkit.so`);
  check("chmod", ["-R", "a+rX", root]);
  const deno = `${dir}/deno`;
  Deno.copyFileSync(Deno.execPath(), deno);
  Deno.chmodSync(deno, 0o755);
  Deno.writeTextFileSync(`${dir}/evil.c`, EVIL_C);
  const evil = `${dir}/evil.so`;
  check("cc", ["-shared", "-fPIC", "-o", evil, `${dir}/evil.c`]);
  Deno.chmodSync(evil, 0o755);
  Deno.mkdirSync(`${dir}/out`);
  Deno.chmodSync(`${dir}/out`, 0o1777);
  return { deno, evil, marker: `${dir}/out/marker`, root };
}

/** `netkit version` through `deno` as uid 65534 with `NETKIT_LIB=evil`. */
function versionAsNobody(s: ReturnType<typeof stage>) {
  const out = new Deno.Command("setpriv", {
    args: [
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "env",
      "-i",
      "PATH=/usr/bin:/bin",
      `HOME=${s.root}/..`,
      `NETKIT_LIB=${s.evil}`,
      `EVIL_MARKER=${s.marker}`,
      `DENO_DIR=${s.root}/.deno`,
      "DENO_NO_UPDATE_CHECK=1",
      "NO_COLOR=1",
      s.deno,
      "run",
      "--quiet",
      "--no-prompt",
      "--cached-only",
      "--frozen",
      "-P=netkit",
      "--config",
      `${s.root}/deno.json`,
      `${s.root}/main.ts`,
      "version",
    ],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder();
  return { code: out.code, out: text.decode(out.stdout), err: text.decode(out.stderr) };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "NETKIT_LIB is ignored with a warning by a netkit with file capabilities; without them it is honoured",
  ignore: needs("root", "setcap", "cc"),
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "netkit-lib-" });
    try {
      const s = stage(dir);
      const builtIn = `${s.root}/build/libnetkit.so`;

      check("setcap", ["cap_net_raw,cap_net_admin+ep", s.deno]);
      const elevated = versionAsNobody(s);
      assert.equal(
        elevated.err,
        "netkit: warning: NETKIT_LIB is ignored: netkit runs with elevated privileges " +
          `(setuid, setgid or file capabilities); loading "${builtIn}"\n`,
      );
      assert.equal(elevated.code, 0);
      assert.match(elevated.out, new RegExp(`^libnetkit 0\\.1\\.0 \\(${builtIn}, build\\)$`, "m"));
      assert.equal(exists(s.marker), false, "the planted library's constructor never ran");

      // The development switch still works for a process without privileges to give away.
      check("setcap", ["-r", s.deno]);
      const plain = versionAsNobody(s);
      assert.equal(Deno.readTextFileSync(s.marker), "ran\n", "the library was loaded");
      assert.equal(plain.code, 1);
      assert.match(
        plain.err,
        new RegExp(`^netkit: error: Cannot load libnetkit from "${s.evil}": it lacks symbols`),
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
