import assert from "node:assert/strict";
import { AddressTable, compareAddresses } from "./address_monitor.ts";
import { type Address, AddressFlag } from "./netlink_messages.ts";

function v4(ifindex: number, last: number, extra: Partial<Address> = {}): Address {
  return {
    ifindex,
    family: 4,
    address: new Uint8Array([192, 0, 2, last]),
    peer: null,
    prefixLength: 24,
    flags: AddressFlag.PERMANENT,
    scope: 0,
    label: "eth0",
    ...extra,
  };
}

function v6(ifindex: number, last: number, extra: Partial<Address> = {}): Address {
  const address = new Uint8Array(16);
  address.set([0x20, 0x01, 0x0d, 0xb8]);
  address[15] = last;
  return {
    ifindex,
    family: 6,
    address,
    peer: null,
    prefixLength: 64,
    flags: AddressFlag.PERMANENT | AddressFlag.NODAD,
    scope: 0,
    label: null,
    ...extra,
  };
}

Deno.test("AddressTable reports added, changed (DAD done) and removed, and ignores repeats", () => {
  const table = new AddressTable();
  const tentative = v6(3, 1, { flags: AddressFlag.PERMANENT | AddressFlag.TENTATIVE });
  assert.deepEqual(table.set(tentative), { type: "added", address: tentative });
  assert.equal(table.set({ ...tentative, address: tentative.address.slice() }), null);
  const ready = v6(3, 1, { flags: AddressFlag.PERMANENT });
  assert.deepEqual(table.set(ready), { type: "changed", address: ready, before: tentative });
  // The kernel's withdrawal carries its own copy; the stored entry is what is reported.
  assert.deepEqual(table.delete(v6(3, 1, { flags: 0 })), { type: "removed", address: ready });
  assert.equal(table.delete(ready), null);
  assert.equal(table.size, 0);
});

Deno.test("AddressTable keeps IPv4 addresses apart by prefix length and peer, as the kernel does", () => {
  const table = new AddressTable();
  table.set(v4(2, 1));
  table.set(v4(2, 1, { prefixLength: 16 }));
  table.set(v4(2, 1, { prefixLength: 32, peer: new Uint8Array([192, 0, 2, 9]) }));
  table.set(v4(3, 1));
  assert.equal(table.size, 4);
  // IPv6: one address per interface, whatever its prefix length (`ip addr replace` changes it).
  table.set(v6(2, 1));
  assert.equal(table.set(v6(2, 1, { prefixLength: 48 }))?.type, "changed");
  assert.equal(table.size, 5);
});

Deno.test("AddressTable lists by interface, family, address, prefix length and peer", () => {
  const table = new AddressTable();
  const all = [v6(1, 1), v4(2, 9), v4(2, 1, { prefixLength: 16 }), v4(2, 1), v6(2, 0), v4(1, 5)];
  for (const address of all) table.set(address);
  assert.deepEqual(
    table.list().map((a) => `${a.ifindex} ${a.family} ${a.address.at(-1)}/${a.prefixLength}`),
    ["1 4 5/24", "1 6 1/64", "2 4 1/16", "2 4 1/24", "2 4 9/24", "2 6 0/64"],
  );
  assert.deepEqual(table.list(), [...all].sort(compareAddresses));
});

Deno.test("AddressTable refuses and counts addresses beyond its capacity", () => {
  const table = new AddressTable(2);
  assert.equal(table.set(v4(1, 1))?.type, "added");
  assert.equal(table.set(v4(1, 2))?.type, "added");
  assert.equal(table.set(v4(1, 3)), null);
  assert.equal(table.refused, 1);
  // A known address still updates when the table is full.
  assert.equal(table.set(v4(1, 2, { flags: 0 }))?.type, "changed");
  table.delete(v4(1, 1));
  assert.equal(table.set(v4(1, 3))?.type, "added");
  // A dump larger than the cap is cut and counted too.
  table.replace([v4(1, 1), v4(1, 2), v4(1, 3), v4(1, 4)]);
  assert.equal(table.size, 2);
  assert.equal(table.refused, 3);
});

Deno.test("AddressTable.replace() reports the differences from a fresh dump", () => {
  const table = new AddressTable();
  table.replace([v4(2, 1), v4(2, 2), v6(2, 1)]);
  const events = table.replace([v4(2, 1), v4(2, 2, { flags: AddressFlag.SECONDARY }), v4(2, 3)]);
  assert.deepEqual(events.map((e) => `${e.type} ${e.type === "resync" ? "" : e.address.family}`), [
    "changed 4",
    "added 4",
    "removed 6",
  ]);
  assert.deepEqual(table.replace(table.list()), []);
});
