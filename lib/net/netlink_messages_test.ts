import assert from "node:assert/strict";
import {
  AddressFlag,
  encodeGetAddresses,
  encodeGetLink,
  NetlinkFlag,
  NetlinkType,
  parseAddress,
  parseLink,
  parseNetlinkError,
  parseNetlinkMessages,
} from "./netlink_messages.ts";
import { concat, hex } from "../../testing/bytes.ts";

/** Builds one netlink message with a host-order header around `payload`. */
function message(type: number, flags: number, seq: number, payload: Uint8Array): Uint8Array {
  const len = 16 + payload.length;
  const bytes = new Uint8Array((len + 3) & ~3);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, len, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, 4242, true);
  bytes.set(payload, 16);
  return bytes;
}

/** Route attribute: length, type, value, padded to 4 bytes. */
function attr(type: number, value: Uint8Array): Uint8Array {
  const bytes = new Uint8Array((4 + value.length + 3) & ~3);
  new DataView(bytes.buffer).setUint16(0, 4 + value.length, true);
  new DataView(bytes.buffer).setUint16(2, type, true);
  bytes.set(value, 4);
  return bytes;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function ifinfo(family: number, type: number, ifindex: number, flags: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = family;
  v.setUint16(2, type, true);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, flags, true);
  return b;
}

const newlink = (flags: number, carrier?: number) =>
  message(
    NetlinkType.NEWLINK,
    0,
    0,
    concat(
      ifinfo(0, 1, 7, flags),
      attr(3, new TextEncoder().encode("veth7\0")),
      attr(4, u32(1400)),
      attr(1, new Uint8Array([2, 0, 0, 0, 0, 7])),
      attr(16, new Uint8Array([6])),
      ...(carrier === undefined ? [] : [attr(33, new Uint8Array([carrier]))]),
    ),
  );

Deno.test("encodeGetLink() builds a dump request with statistics filtered out", () => {
  const bytes = encodeGetLink({ seq: 9 });
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(0, true), bytes.length);
  assert.equal(bytes.length, 16 + 16 + 8);
  assert.equal(view.getUint16(4, true), NetlinkType.GETLINK);
  assert.equal(view.getUint16(6, true), NetlinkFlag.REQUEST | NetlinkFlag.DUMP);
  assert.equal(view.getUint32(8, true), 9);
  assert.equal(view.getUint16(34, true), 29, "IFLA_EXT_MASK");
  assert.equal(view.getUint32(36, true), 8, "RTEXT_FILTER_SKIP_STATS");
});

Deno.test("encodeGetLink() asks for one link by name or index without the dump flag", () => {
  const byName = encodeGetLink({ seq: 1, name: "eth0" });
  const view = new DataView(byName.buffer);
  assert.equal(view.getUint16(6, true), NetlinkFlag.REQUEST);
  assert.equal(view.getUint16(42, true), 3, "IFLA_IFNAME");
  assert.equal(new TextDecoder().decode(byName.subarray(44, 49)), "eth0\0");
  const byIndex = encodeGetLink({ seq: 1, ifindex: 12 });
  assert.equal(new DataView(byIndex.buffer).getInt32(20, true), 12);
});

Deno.test("parseNetlinkMessages() splits padded messages and stops at a damaged header", () => {
  const a = message(NetlinkType.NOOP, 0, 1, new Uint8Array(3));
  const b = message(NetlinkType.DONE, NetlinkFlag.MULTI, 2, u32(0));
  const damaged = new Uint8Array(16);
  new DataView(damaged.buffer).setUint32(0, 400, true);
  const parsed = parseNetlinkMessages(concat(a, b, damaged));
  assert.deepEqual(parsed.map((m) => [m.type, m.seq, m.pid, m.payload.length]), [[1, 1, 4242, 3], [
    3,
    2,
    4242,
    4,
  ]]);
  assert.deepEqual(parseNetlinkMessages(new Uint8Array(10)), []);
});

Deno.test("parseLink() reads name, MTU, address, operstate and carrier", () => {
  const [msg] = parseNetlinkMessages(newlink(0x1 | 0x10000));
  const link = parseLink(msg!);
  assert.deepEqual({ ...link, mac: [...link!.mac!] }, {
    family: 0,
    ifindex: 7,
    name: "veth7",
    type: 1,
    flags: 0x10001,
    mtu: 1400,
    mac: [2, 0, 0, 0, 0, 7],
    operState: "up",
    up: true,
    carrier: true,
  });
  // IFLA_CARRIER wins over IFF_LOWER_UP when both are present.
  assert.equal(parseLink(parseNetlinkMessages(newlink(0x10001, 0))[0]!)!.carrier, false);
  assert.equal(parseLink(parseNetlinkMessages(newlink(0x1))[0]!)!.carrier, false);
});

Deno.test("parseLink() rejects a payload shorter than ifinfomsg and skips a damaged attribute", () => {
  assert.equal(parseLink({ type: 16, flags: 0, seq: 0, pid: 0, payload: new Uint8Array(8) }), null);
  const bad = concat(ifinfo(0, 1, 3, 0), new Uint8Array([200, 0, 3, 0]));
  const link = parseLink({ type: 16, flags: 0, seq: 0, pid: 0, payload: bad });
  assert.equal(link?.ifindex, 3);
  assert.equal(link?.name, "");
});

Deno.test("parseNetlinkError() returns errno and the extended ack message", () => {
  const echoed = new Uint8Array(16);
  new DataView(echoed.buffer).setUint32(0, 16, true);
  const errno = new Uint8Array(4);
  new DataView(errno.buffer).setInt32(0, -19, true);
  const ack = message(
    NetlinkType.ERROR,
    0x100 | 0x200,
    5,
    concat(errno, echoed, attr(1, new TextEncoder().encode("Unknown device\0"))),
  );
  assert.deepEqual(parseNetlinkError(parseNetlinkMessages(ack)[0]!), {
    errno: 19,
    message: "Unknown device",
  });
  const plain = message(NetlinkType.ERROR, 0, 5, concat(new Uint8Array(4), echoed));
  assert.deepEqual(parseNetlinkError(parseNetlinkMessages(plain)[0]!), { errno: 0 });
});

/** Notifications captured from a 6.x kernel (`ip addr add ...` in a fresh namespace). */
const CAPTURED = {
  /** 192.0.2.2/24 dev a1 (index 3), added after 192.0.2.1/24: secondary. */
  ipv4Secondary:
    "4c000000140000006077156b18100000021881000300000008000100c000020208000200c00002020700030061310000080008008100000014000600ffffffffffffffff89b4380089b43800",
  /** 10.9.0.1 peer 10.9.0.2 dev a1: IFA_ADDRESS is the peer, IFA_LOCAL the address. */
  ipv4Peer:
    "4c000000140000006077156b1e1000000220800003000000080001000a090002080002000a0900010700030061310000080008008000000014000600ffffffffffffffff94b4380094b43800",
  /** 2001:db8::1/64 dev a1 nodad. */
  ipv6:
    "480000001400000000000000000000000a408200030000001400010020010db800000000000000000000000114000600ffffffffffffffff9eb438009eb438000800080082000000",
  /** 2001:db8::5 peer 2001:db8::6 dev a2 (index 2) nodad: IPv6 sends IFA_LOCAL too. */
  ipv6Peer:
    "5c0000001400000000000000000000000a808200020000001400020020010db80000000000000000000000051400010020010db800000000000000000000000614000600ffffffffffffffff86b5380086b538000800080082000000",
  /** The link-local fe80::84bd:a7ff:fed1:41d9/64 of a1 removed with the link (RTM_DELADDR). */
  ipv6LinkLocalRemoved:
    "500000001500000000000000000000000a4080fd0300000014000100fe8000000000000084bda7fffed141d914000600ffffffffffffffffa9b43800a9b43800080008008000000005000b0003000000",
};

function captured(text: string) {
  const bytes = new Uint8Array(text.match(/../g)!.map((h) => parseInt(h, 16)));
  const [msg] = parseNetlinkMessages(bytes);
  return msg!;
}

function readable(text: string) {
  const address = parseAddress(captured(text));
  return address &&
    { ...address, address: hex(address.address), peer: address.peer && hex(address.peer) };
}

Deno.test("parseAddress() reads captured IPv4 notifications: secondary flag, label, peer", () => {
  assert.equal(captured(CAPTURED.ipv4Secondary).type, NetlinkType.NEWADDR);
  assert.deepEqual(readable(CAPTURED.ipv4Secondary), {
    ifindex: 3,
    family: 4,
    address: "c0000202",
    peer: null,
    prefixLength: 24,
    flags: AddressFlag.PERMANENT | AddressFlag.SECONDARY,
    scope: 0,
    label: "a1",
  });
  assert.deepEqual(readable(CAPTURED.ipv4Peer), {
    ifindex: 3,
    family: 4,
    address: "0a090001",
    peer: "0a090002",
    prefixLength: 32,
    flags: AddressFlag.PERMANENT,
    scope: 0,
    label: "a1",
  });
});

Deno.test("parseAddress() reads captured IPv6 notifications, IFA_LOCAL first when present", () => {
  assert.deepEqual(readable(CAPTURED.ipv6), {
    ifindex: 3,
    family: 6,
    address: "20010db8000000000000000000000001",
    peer: null,
    prefixLength: 64,
    flags: AddressFlag.PERMANENT | AddressFlag.NODAD,
    scope: 0,
    label: null,
  });
  const peer = readable(CAPTURED.ipv6Peer);
  assert.equal(peer?.address, "20010db8000000000000000000000005");
  assert.equal(peer?.peer, "20010db8000000000000000000000006");
  assert.equal(peer?.ifindex, 2);
  const removed = captured(CAPTURED.ipv6LinkLocalRemoved);
  assert.equal(removed.type, NetlinkType.DELADDR);
  assert.equal(parseAddress(removed)?.scope, 253);
});

/** An RTM_NEWADDR payload built from parts. */
function ifaddr(
  family: number,
  prefix: number,
  flags: number,
  ifindex: number,
  ...attrs: Uint8Array[]
) {
  const head = new Uint8Array(8);
  head.set([family, prefix, flags, 0]);
  new DataView(head.buffer).setUint32(4, ifindex, true);
  return { type: NetlinkType.NEWADDR, flags: 0, seq: 0, pid: 0, payload: concat(head, ...attrs) };
}

Deno.test("parseAddress() prefers IFA_FLAGS to ifa_flags, which holds only 8 bits", () => {
  const a = parseAddress(ifaddr(10, 64, 0x40, 5, attr(1, new Uint8Array(16)), attr(8, u32(0x800))));
  assert.equal(a?.flags, AddressFlag.STABLE_PRIVACY);
  assert.equal(parseAddress(ifaddr(10, 64, 0x40, 5, attr(1, new Uint8Array(16))))?.flags, 0x40);
});

Deno.test("parseAddress() refuses what the kernel would not send, without throwing", () => {
  const v4 = attr(2, new Uint8Array([192, 0, 2, 1]));
  assert.ok(parseAddress(ifaddr(2, 24, 0, 1, v4)) !== null);
  for (
    const bad of [
      { ...ifaddr(2, 24, 0, 1, v4), payload: new Uint8Array(7) }, // shorter than ifaddrmsg
      ifaddr(7, 24, 0, 1, v4), // AF_BRIDGE
      ifaddr(2, 33, 0, 1, v4), // prefix longer than the address
      ifaddr(2, 24, 0, 0, v4), // no interface
      ifaddr(2, 24, 0, 1), // no address
      ifaddr(2, 24, 0, 1, attr(2, new Uint8Array(16))), // IPv6-sized IPv4 address
      ifaddr(10, 64, 0, 1, attr(1, new Uint8Array(4))), // IPv4-sized IPv6 address
      ifaddr(2, 24, 0, 1, v4, attr(1, new Uint8Array(3))), // a damaged second address
    ]
  ) {
    assert.equal(parseAddress(bad), null, hex(bad.payload));
  }
  // A truncated attribute ends the walk: what came before it still counts.
  const truncated = concat(ifaddr(2, 24, 0, 1, v4).payload, new Uint8Array([40, 0, 3, 0]));
  assert.equal(parseAddress({ ...ifaddr(2, 24, 0, 1), payload: truncated })?.label, null);
});

Deno.test("encodeGetAddresses() builds an AF_UNSPEC address dump request", () => {
  const bytes = encodeGetAddresses(11);
  const view = new DataView(bytes.buffer);
  assert.equal(bytes.length, 24);
  assert.equal(view.getUint32(0, true), 24);
  assert.equal(view.getUint16(4, true), NetlinkType.GETADDR);
  assert.equal(view.getUint16(6, true), NetlinkFlag.REQUEST | NetlinkFlag.DUMP);
  assert.equal(view.getUint32(8, true), 11);
  assert.deepEqual([...bytes.subarray(16)], [0, 0, 0, 0, 0, 0, 0, 0]);
});
