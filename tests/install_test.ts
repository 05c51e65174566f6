import assert from "node:assert/strict";
import { needs, skipUnless } from "./skip.ts";

const decoder = new TextDecoder();
const PREFIX = "/usr";
const UNITS = [
  "netkit-mroute.service",
  "netkit-mroute@.service",
  "netkit-relay.service",
  "netkit-gateway@.service",
  "netkit-lacp@.service",
  "netkit-lsoe.service",
  "netkit-lsoe@.service",
];
/** Where `make install` puts the LSoE dissector (tshark -X lua_script:...). */
const DISSECTOR = "usr/share/netkit/wireshark/lsoe.lua";

function run(cmd: string, args: string[]) {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

/** Every file and link under `dir`, relative to it, sorted. */
function filesUnder(dir: string, prefix = ""): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(`${dir}/${prefix}`)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) found.push(...filesUnder(dir, `${path}/`));
    else found.push(path);
  }
  return found.sort();
}

/** Whether `make` made ./netkit the launcher (no denort for the compiled binary). */
const launcherBuilt = (() => {
  try {
    return Deno.readTextFileSync("netkit").startsWith("#!/bin/sh");
  } catch {
    return false;
  }
})();

let staged: string | undefined;

/** `make install DESTDIR=<temp> PREFIX=/usr`, once for this module; the staging directory. */
function stagedInstall(): string {
  if (staged !== undefined) return staged;
  const dir = Deno.makeTempDirSync({ prefix: "netkit-install-" });
  globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  const make = run("make", ["-s", "install", `DESTDIR=${dir}`, `PREFIX=${PREFIX}`]);
  assert.equal(make.code, 0, make.err);
  return staged = dir;
}

Deno.test({
  name: "make install DESTDIR= stages a netkit that runs, its man pages, completions and units",
  ignore: needs("make"),
  fn() {
    const dir = stagedInstall();
    const version = run(`${dir}${PREFIX}/bin/netkit`, ["version", "-j"]);
    assert.equal(version.code, 0, version.err);
    assert.equal(typeof JSON.parse(version.out).netkit, "string");
    const files = filesUnder(dir);
    for (
      const path of [
        "usr/bin/netkit",
        "usr/share/man/man8/netkit.8",
        "usr/share/man/man8/netkit-lacp.8",
        "usr/share/man/man8/netkit-mroute.8",
        "usr/share/bash-completion/completions/netkit",
        "usr/share/zsh/site-functions/_netkit",
        "usr/share/man/man8/netkit-lsoe.8",
        DISSECTOR,
        ...UNITS.map((unit) => `usr/lib/systemd/system/${unit}`),
      ]
    ) {
      assert.ok(files.includes(path), `${path} not installed`);
    }
    // The units start the installed netkit, not the staging copy.
    for (const unit of UNITS) {
      const text = Deno.readTextFileSync(`${dir}${PREFIX}/lib/systemd/system/${unit}`);
      assert.match(text, /^ExecStart=\/usr\/bin\/netkit /m, unit);
      assert.doesNotMatch(text, /@BINDIR@|netkit-install-/, unit);
    }
    assert.equal(
      Deno.readTextFileSync(`${dir}/${DISSECTOR}`),
      Deno.readTextFileSync("tools/lsoe.lua"),
    );
    // The lsoe page says where the dissector is, with the PREFIX it was installed with.
    const page = Deno.readTextFileSync(`${dir}${PREFIX}/share/man/man8/netkit-lsoe.8`);
    assert.match(page.replaceAll("\\-", "-"), /\/share\/netkit\/wireshark\/lsoe\.lua/);
    // A launcher install: no tests, no checkout leftovers in the tree.
    assert.ok(!files.some((f) => f.endsWith("_test.ts")), "a test file was installed");
  },
});

Deno.test({
  name: "the installed netkit runs from a read-only tree without a Deno cache (ProtectSystem)",
  ignore: needs("make", "root") ||
    skipUnless(launcherBuilt, "./netkit is the compiled binary: no tree is installed"),
  fn() {
    const dir = stagedInstall();
    const tree = `${dir}${PREFIX}/lib/netkit`;
    const script = `set -e
cd "${tree}/.deno" && find . -mindepth 1 -maxdepth 1 ! -name npm -exec rm -rf {} +
mount --bind "${dir}" "${dir}" && mount -o remount,bind,ro "${dir}"
"${dir}${PREFIX}/bin/netkit" version
"${dir}${PREFIX}/bin/netkit" mroute daemon --help`;
    const result = run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script]);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, /^libnetkit /m);
    assert.match(result.out, /run the multicast routing daemon/);
    assert.deepEqual(filesUnder(`${tree}/.deno`).filter((f) => !f.startsWith("npm/")), []);
  },
});

Deno.test({
  name: "every installed systemd unit passes systemd-analyze verify",
  ignore: needs("make", "systemd-analyze"),
  fn() {
    const dir = stagedInstall();
    const units = Deno.makeTempDirSync({ prefix: "netkit-units-" });
    try {
      // verify needs ExecStart's program: point the units at the staged one.
      for (const unit of UNITS) {
        const text = Deno.readTextFileSync(`${dir}${PREFIX}/lib/systemd/system/${unit}`);
        Deno.writeTextFileSync(
          `${units}/${unit}`,
          text.replaceAll(`${PREFIX}/bin/netkit`, `${dir}${PREFIX}/bin/netkit`),
        );
      }
      // Templates are verified through an instance.
      const instances = UNITS.map((unit) => `${units}/${unit.replace("@.", "@blue.")}`);
      const result = run("systemd-analyze", ["verify", "--man=no", ...instances]);
      assert.equal(result.err, "");
      assert.equal(result.code, 0);
    } finally {
      Deno.removeSync(units, { recursive: true });
    }
  },
});

Deno.test({
  name: "make uninstall removes everything make install put in place",
  ignore: needs("make"),
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "netkit-uninstall-" });
    try {
      const args = [`DESTDIR=${dir}`, `PREFIX=/opt/nk`];
      assert.equal(run("make", ["-s", "install", ...args]).code, 0);
      assert.ok(filesUnder(dir).length > 10);
      const uninstall = run("make", ["-s", "uninstall", ...args]);
      assert.equal(uninstall.code, 0, uninstall.err);
      assert.deepEqual(filesUnder(dir), []);
      assert.throws(() => Deno.statSync(`${dir}/opt/nk/share/netkit`), Deno.errors.NotFound);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "make install and uninstall refuse a NETKIT_LIBDIR or DESTDIR that could name another tree",
  ignore: needs("make"),
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "netkit-libdir-" });
    try {
      Deno.mkdirSync(`${dir}/usr/lib/keep`, { recursive: true });
      for (
        const args of [
          ["NETKIT_LIBDIR=/usr/lib/keep /netkit"],
          ["NETKIT_LIBDIR=/usr/lib/keep/../netkit"],
          ["NETKIT_LIBDIR=/netkit"],
          ["NETKIT_LIBDIR=usr/lib/netkit"],
          [`DESTDIR=${dir}/usr/lib/keep `],
        ]
      ) {
        for (const target of ["uninstall", "install"]) {
          const result = run("make", ["-s", target, `DESTDIR=${dir}`, ...args]);
          assert.notEqual(result.code, 0, `make ${target} ${args}`);
          assert.match(result.err, /must be an absolute path ending in \/netkit|may hold letters/);
        }
      }
      assert.deepEqual([...Deno.readDirSync(`${dir}/usr/lib`)].map((e) => e.name), ["keep"]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
