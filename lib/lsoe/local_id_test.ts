import assert from "node:assert/strict";
import {
  defaultLocalId,
  INITIAL_NETNS_INODE,
  INITIAL_PIDNS_INODE,
  localIdFromSeed,
  type LocalIdSources,
  MACHINE_ID_PATH,
  namespaceToHash,
  PRODUCT_UUID_PATH,
} from "./local_id.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const UUID = new TextEncoder().encode("4c4c4544-0000-1010-8000-b1c04f4e4e31\n");

/** A machine with these files and namespace inodes. */
function machine(files: Record<string, string>, inodes: Record<string, number>): LocalIdSources {
  return {
    readFile: (path) => files[path] === undefined ? null : new TextEncoder().encode(files[path]),
    namespaceInode: (path) => inodes[path] ?? null,
  };
}

Deno.test("localIdFromSeed is lsoed's MD5 of the product UUID, first 10 bytes", () => {
  // Python: hashlib.md5(open(product_uuid).read().encode("ascii")).digest()[:10]
  assert.equal(hex(localIdFromSeed(UUID, null)), "3bc99d57090f68886d30");
});

Deno.test("localIdFromSeed hashes a namespace's inode in after the seed", () => {
  // Python: hashlib.md5(seed + b"netns:4026532000").digest()[:10]
  assert.equal(hex(localIdFromSeed(UUID, 4026532000)), "227be466105b4ba90a07");
  assert.notEqual(hex(localIdFromSeed(UUID, 4026532001)), "227be466105b4ba90a07");
});

Deno.test("defaultLocalId uses the product UUID in the initial namespace (Linux 6.x inode)", () => {
  const id = defaultLocalId(machine(
    { [PRODUCT_UUID_PATH]: "4c4c4544-0000-1010-8000-b1c04f4e4e31\n", [MACHINE_ID_PATH]: "x\n" },
    { "/proc/thread-self/ns/net": INITIAL_NETNS_INODE },
  ));
  assert.deepEqual({ ...id, localId: hex(id.localId) }, {
    localId: "3bc99d57090f68886d30",
    source: PRODUCT_UUID_PATH,
    netnsInode: null,
  });
});

Deno.test("defaultLocalId falls back to /etc/machine-id when there is no product UUID", () => {
  const id = defaultLocalId(machine(
    { [MACHINE_ID_PATH]: "0123456789abcdef0123456789abcdef\n" },
    { "/proc/thread-self/ns/net": INITIAL_NETNS_INODE },
  ));
  assert.equal(id.source, MACHINE_ID_PATH);
  assert.equal(hex(id.localId), "a7a2e88fdc5edc0716ee");
});

Deno.test("defaultLocalId refuses, naming --local-id, when no identity file is readable", () => {
  assert.throws(() => defaultLocalId(machine({}, {})), /give one with --local-id HEX/);
});

Deno.test("namespaceToHash: initial by fixed inode or by PID 1's namespace on the host's PIDs", () => {
  const net = "/proc/thread-self/ns/net";
  // An older kernel, on the host: PID 1 shares our namespace.
  assert.equal(
    namespaceToHash(machine({}, {
      [net]: 4026531840,
      "/proc/self/ns/pid": INITIAL_PIDNS_INODE,
      "/proc/1/ns/net": 4026531840,
    })),
    null,
  );
  // `ip netns exec` on the host: PID 1 is elsewhere.
  assert.equal(
    namespaceToHash(machine({}, {
      [net]: 4026532100,
      "/proc/self/ns/pid": INITIAL_PIDNS_INODE,
      "/proc/1/ns/net": 4026531840,
    })),
    4026532100,
  );
  // A container: its PID 1 shares its namespace, but it is not the host's PID 1.
  assert.equal(
    namespaceToHash(machine({}, {
      [net]: 4026532100,
      "/proc/self/ns/pid": 4026532200,
      "/proc/1/ns/net": 4026532100,
    })),
    4026532100,
  );
  // PID 1 unreadable: not known to be initial, so hashed in.
  assert.equal(
    namespaceToHash(machine({}, { [net]: 4026532100, "/proc/self/ns/pid": INITIAL_PIDNS_INODE })),
    4026532100,
  );
});

Deno.test("defaultLocalId differs between two namespaces of one host", () => {
  const files = { [PRODUCT_UUID_PATH]: "4c4c4544-0000-1010-8000-b1c04f4e4e31\n" };
  const inNetns = (inode: number) =>
    hex(defaultLocalId(machine(files, { "/proc/thread-self/ns/net": inode })).localId);
  assert.notEqual(inNetns(4026532100), inNetns(4026532101));
  assert.notEqual(inNetns(4026532100), inNetns(INITIAL_NETNS_INODE));
});
