import assert from "node:assert/strict";
import { cString } from "../ffi/c_string.ts";
import { errnoMessage, errnoName, knownErrnos } from "../ffi/errno.ts";
import { chooseLibrary, libraryLocation, NetkitLibrary, secureExecution } from "../ffi/library.ts";
import { library, nk } from "../ffi/native.ts";
import { NetkitError } from "../lib/errors.ts";
import { FRAME_META } from "../lib/net/frame_batch.ts";
import { FILE_STAT_LAYOUT } from "../lib/net/safe_file.ts";
import { NETKIT_VERSION } from "../lib/version.ts";

Deno.test("libnetkit reports the same version as netkit", () => {
  assert.equal(library.version(), NETKIT_VERSION);
});

Deno.test("errno table agrees with glibc on every name", () => {
  for (const errno of knownErrnos()) {
    const ptr = nk.nk_errno_name(errno);
    assert.ok(ptr !== null, `glibc has no name for ${errno}`);
    assert.equal(errnoName(errno), Deno.UnsafePointerView.getCString(ptr), `errno ${errno}`);
  }
  assert.equal(errnoName(19), "ENODEV");
  assert.equal(errnoMessage(19), "No such device");
  assert.equal(errnoName(4095), "E4095");
});

Deno.test("frame metadata offsets in TypeScript match the C layout", () => {
  const fields: [string, number][] = [
    ["nk_frame_meta.sizeof", FRAME_META.size],
    ["nk_frame_meta.len", FRAME_META.len],
    ["nk_frame_meta.wire_len", FRAME_META.wireLen],
    ["nk_frame_meta.ifindex", FRAME_META.ifindex],
    ["nk_frame_meta.protocol", FRAME_META.protocol],
    ["nk_frame_meta.pkttype", FRAME_META.pktType],
    ["nk_frame_meta.flags", FRAME_META.flags],
    ["nk_frame_meta.vlan_tci", FRAME_META.vlanTci],
    ["nk_frame_meta.vlan_tpid", FRAME_META.vlanTpid],
    ["nk_frame_meta.src", FRAME_META.src],
    ["nk_frame_meta.offset", FRAME_META.offset],
    ["nk_frame_meta.gso_size", FRAME_META.gsoSize],
    ["nk_frame_meta.gso_type", FRAME_META.gsoType],
    ["nk_frame_meta.csum_start", FRAME_META.csumStart],
    ["nk_frame_meta.csum_offset", FRAME_META.csumOffset],
    // Read by lib/net/interfaces.ts and lib/net/buffer_arena.ts at these offsets.
    ["nk_iface_info.sizeof", 20],
    ["nk_iface_info.ifindex", 0],
    ["nk_iface_info.flags", 4],
    ["nk_iface_info.mtu", 8],
    ["nk_iface_info.type", 12],
    ["nk_iface_info.mac", 14],
    ["nk_hugebuf.sizeof", 24],
    ["nk_hugebuf.addr", 0],
    ["nk_hugebuf.len", 8],
    ["nk_hugebuf.backing", 16],
    ["nk_file_stat.sizeof", FILE_STAT_LAYOUT.size],
    ["nk_file_stat.dev", FILE_STAT_LAYOUT.dev],
    ["nk_file_stat.ino", FILE_STAT_LAYOUT.ino],
    ["nk_file_stat.mode", FILE_STAT_LAYOUT.mode],
    ["nk_file_stat.uid", FILE_STAT_LAYOUT.uid],
    ["nk_file_stat.gid", FILE_STAT_LAYOUT.gid],
    ["nk_file_stat.nlink", FILE_STAT_LAYOUT.nlink],
  ];
  for (const [key, offset] of fields) assert.equal(nk.nk_layout(cString(key)), offset, key);
  assert.equal(nk.nk_layout(cString("nk_frame_meta.nope")), -2, "unknown keys are -ENOENT");
});

Deno.test("NetkitLibrary.open says a missing build library does not exist and how to build it", () => {
  assert.throws(
    () => NetkitLibrary.open({ path: "/nonexistent/libnetkit.so", source: "build" }),
    (err: unknown) =>
      err instanceof NetkitError &&
      err.message === 'Cannot load libnetkit: "/nonexistent/libnetkit.so" does not exist; ' +
          'run "make" to build it, or set NETKIT_LIB to its path',
  );
});

Deno.test("NetkitLibrary.open blames NETKIT_LIB when the override is wrong", () => {
  assert.throws(
    () => NetkitLibrary.open({ path: "/nonexistent/x.so", source: "env" }),
    /does not exist; check the NETKIT_LIB environment variable/,
  );
});

Deno.test("NetkitLibrary.open refuses a library that lacks netkit's symbols", () => {
  assert.throws(
    () => NetkitLibrary.open({ path: "libc.so.6", source: "env" }),
    /Cannot load libnetkit from "libc.so.6": it lacks symbols this netkit needs/,
  );
});

Deno.test("NETKIT_LIB overrides where the library is loaded from", () => {
  const saved = Deno.env.get("NETKIT_LIB");
  try {
    Deno.env.set("NETKIT_LIB", "/opt/netkit/libnetkit.so");
    assert.deepEqual(libraryLocation(), { path: "/opt/netkit/libnetkit.so", source: "env" });
    Deno.env.delete("NETKIT_LIB");
    const location = libraryLocation();
    assert.equal(location.source, "build");
    assert.ok(location.path.endsWith("/build/libnetkit.so"));
  } finally {
    if (saved === undefined) Deno.env.delete("NETKIT_LIB");
    else Deno.env.set("NETKIT_LIB", saved);
  }
});

Deno.test("NetkitLibrary.close can be called twice", () => {
  const lib = NetkitLibrary.open();
  lib.close();
  lib.close();
});

/** An auxiliary vector of (type, value) pairs, 64-bit little endian, ending with AT_NULL. */
function auxv(...pairs: [number, number][]): Uint8Array {
  const bytes = new Uint8Array((pairs.length + 1) * 16);
  const view = new DataView(bytes.buffer);
  pairs.forEach(([type, value], i) => {
    view.setBigUint64(i * 16, BigInt(type), true);
    view.setBigUint64(i * 16 + 8, BigInt(value), true);
  });
  return bytes;
}

Deno.test("secureExecution() reads AT_SECURE (23) from the auxiliary vector, failing safe", () => {
  const AT_PAGESZ = 6;
  assert.equal(secureExecution(auxv([AT_PAGESZ, 4096], [23, 0])), false);
  assert.equal(secureExecution(auxv([AT_PAGESZ, 4096], [23, 1])), true);
  // Unreadable (a process the kernel started with privileges cannot read it), or no AT_SECURE.
  assert.equal(secureExecution(null), true);
  assert.equal(secureExecution(auxv([AT_PAGESZ, 4096])), true);
  const afterEnd = auxv([AT_PAGESZ, 4096]);
  const padded = new Uint8Array(afterEnd.length + 16);
  padded.set(afterEnd);
  new DataView(padded.buffer).setBigUint64(afterEnd.length, 23n, true);
  assert.equal(secureExecution(padded), true, "nothing after AT_NULL counts");
  // This test process gained no privileges at exec.
  assert.equal(secureExecution(Deno.readFileSync("/proc/self/auxv")), false);
});

Deno.test("chooseLibrary() honours NETKIT_LIB unless the process runs elevated, and then warns", () => {
  const builtIn = { path: "/opt/netkit/build/libnetkit.so", source: "build" } as const;
  let asked = 0;
  const elevated = (answer: boolean) => () => (asked++, answer);
  assert.deepEqual(chooseLibrary(undefined, elevated(true), builtIn), { location: builtIn });
  assert.deepEqual(chooseLibrary("", elevated(true), builtIn), { location: builtIn });
  assert.equal(asked, 0, "AT_SECURE is read only when NETKIT_LIB is set");
  assert.deepEqual(chooseLibrary("/tmp/dev.so", elevated(false), builtIn), {
    location: { path: "/tmp/dev.so", source: "env" },
  });
  assert.deepEqual(chooseLibrary("/tmp/evil.so", elevated(true), builtIn), {
    location: builtIn,
    warning: "netkit: warning: NETKIT_LIB is ignored: netkit runs with elevated privileges " +
      '(setuid, setgid or file capabilities); loading "/opt/netkit/build/libnetkit.so"',
  });
});
