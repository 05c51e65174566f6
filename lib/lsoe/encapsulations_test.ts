import assert from "node:assert/strict";
import {
  encapsulationKey,
  encapsulationPdus,
  type LocalAddress,
  storeEntriesJson,
} from "./encapsulations.ts";
import type { EncapsulationsJson } from "./client.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { parseIpv6 } from "../packet/ipv6.ts";

const interfaces = [
  { ifindex: 1, loopback: true, mplsLabel: null },
  { ifindex: 2, loopback: false, mplsLabel: 100 },
  { ifindex: 3, loopback: false, mplsLabel: null },
];
const addresses: LocalAddress[] = [
  { ifindex: 3, family: 4, address: parseIpv4("198.51.100.1"), prefixLength: 24, secondary: false },
  { ifindex: 2, family: 6, address: parseIpv6("2001:db8::2"), prefixLength: 64, secondary: false },
  { ifindex: 2, family: 4, address: parseIpv4("192.0.2.9"), prefixLength: 30, secondary: true },
  { ifindex: 2, family: 4, address: parseIpv4("192.0.2.1"), prefixLength: 30, secondary: false },
];

Deno.test("lists: sorted by interface then address; Primary only on the session's link; MPLS with the label", () => {
  const [ipv4, ipv6, mplsIpv4, mplsIpv6] = encapsulationPdus(addresses, interfaces, 2);
  assert.deepEqual(ipv4?.entries.map((e) => [e.address.join("."), e.flags]), [
    ["192.0.2.1", 0x80],
    ["192.0.2.9", 0],
    ["198.51.100.1", 0],
  ]);
  assert.equal(ipv6?.entries[0]?.flags, 0x80);
  assert.deepEqual(mplsIpv4, {
    type: 6,
    entries: [
      { flags: 0x80, address: parseIpv4("192.0.2.1"), prefixLength: 30, labels: [100] },
      { flags: 0, address: parseIpv4("192.0.2.9"), prefixLength: 30, labels: [100] },
    ],
  });
  assert.equal(mplsIpv6?.entries.length, 1);
  // On another link nothing is Primary, and the lists differ only by that.
  const other = encapsulationPdus(addresses, interfaces, 3);
  assert.equal(other[0]?.entries.find((e) => e.address[0] === 198)?.flags, 0x80);
  assert.notEqual(encapsulationKey(other[0]!), encapsulationKey(ipv4!));
  assert.equal(
    encapsulationKey(encapsulationPdus([...addresses].reverse(), interfaces, 2)[0]!),
    encapsulationKey(ipv4!),
  );
});

Deno.test("a table too big for one PDU keeps what fits in 65,535 bytes", () => {
  const many: LocalAddress[] = Array.from({ length: 12_000 }, (_, n) => ({
    ifindex: 3,
    family: 4,
    address: new Uint8Array([10, n >> 16, (n >> 8) & 0xff, n & 0xff]),
    prefixLength: 32,
    secondary: false,
  }));
  const [ipv4] = encapsulationPdus(many, interfaces, 3);
  assert.equal(ipv4?.entries.length, Math.floor((0xffff - 5) / 6));
  assert.ok(5 + 6 * ipv4!.entries.length <= 0xffff);
});

Deno.test("received lists as JSON replace the family's list; MPLS entries keep their labels", () => {
  const lists: EncapsulationsJson = { ipv4: [], ipv6: [], "mpls_ipv4": [], "mpls_ipv6": [] };
  const [, , mplsIpv4] = encapsulationPdus(addresses, interfaces, 2);
  storeEntriesJson(lists, mplsIpv4!);
  assert.deepEqual(lists.mpls_ipv4[0], {
    address: "192.0.2.1",
    prefix_length: 30,
    primary: true,
    loopback: false,
    labels: [100],
  });
  storeEntriesJson(lists, { type: 6, entries: [] });
  assert.deepEqual(lists.mpls_ipv4, []);
});
