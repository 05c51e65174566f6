import assert from "node:assert/strict";
import {
  encodeGetLink,
  NetlinkFlag,
  NetlinkType,
  parseLink,
  parseNetlinkError,
  parseNetlinkMessages,
} from "./netlink_messages.ts";
import { concat } from "../../testing/bytes.ts";

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
