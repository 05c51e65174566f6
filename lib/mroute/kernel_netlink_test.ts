import assert from "node:assert/strict";
import { parseNetlinkMessages } from "../net/netlink_messages.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { parseIpv6 } from "../packet/ipv6.ts";
import {
  encodeGetMroutes,
  encodeGetVifTables,
  parseMroute,
  parseProcMifs,
  parseVifTable,
} from "./kernel_netlink.ts";

/** Builds netlink bytes: a header, a fixed part and attributes (nested ones are arrays). */
type Attr = [number, Uint8Array | Attr[]];

function attrs(list: Attr[]): Uint8Array {
  const parts = list.map(([type, value]) => {
    const body = value instanceof Uint8Array ? value : attrs(value);
    const out = new Uint8Array((4 + body.length + 3) & ~3);
    new DataView(out.buffer).setUint16(0, 4 + body.length, true);
    new DataView(out.buffer).setUint16(2, type | (value instanceof Uint8Array ? 0 : 0x8000), true);
    out.set(body, 4);
    return out;
  });
  const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    total.set(p, offset);
    offset += p.length;
  }
  return total;
}

function message(type: number, fixed: Uint8Array, attributes: Attr[], seq = 9): Uint8Array {
  const body = attrs(attributes);
  const bytes = new Uint8Array(16 + fixed.length + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, 0x2, true); // NLM_F_MULTI
  view.setUint32(8, seq, true);
  bytes.set(fixed, 16);
  bytes.set(body, 16 + fixed.length);
  return bytes;
}

function le(bits: 16 | 32 | 64, value: number | bigint): Uint8Array {
  const out = new Uint8Array(bits / 8);
  const view = new DataView(out.buffer);
  if (bits === 16) view.setUint16(0, Number(value), true);
  else if (bits === 32) view.setUint32(0, Number(value), true);
  else view.setBigUint64(0, BigInt(value), true);
  return out;
}

function rtmsg(family: number, table: number, protocol: number, flags: number): Uint8Array {
  const out = new Uint8Array(12);
  out.set([family, 32, 32, 0, table, protocol, 0, 5]);
  new DataView(out.buffer).setUint32(8, flags, true);
  return out;
}

function nexthop(hops: number, ifindex: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint16(0, 8, true);
  out[3] = hops;
  view.setInt32(4, ifindex, true);
  return out;
}

Deno.test("encodeGetMroutes asks for a dump of family 128 or 129", () => {
  const bytes = encodeGetMroutes(6, 42);
  const view = new DataView(bytes.buffer);
  assert.equal(bytes.length, 28);
  assert.equal(view.getUint32(0, true), 28);
  assert.equal(view.getUint16(4, true), 26); // RTM_GETROUTE
  assert.equal(view.getUint16(6, true), 0x301); // NLM_F_REQUEST | NLM_F_DUMP
  assert.equal(view.getUint32(8, true), 42);
  assert.equal(bytes[16], 129);
  assert.equal(encodeGetMroutes(4, 1)[16], 128);
  const vifs = encodeGetVifTables(7);
  assert.equal(new DataView(vifs.buffer).getUint16(4, true), 18); // RTM_GETLINK
  assert.equal(vifs[16], 128);
  assert.equal(vifs.length, 32);
});

Deno.test("parseMroute decodes an IPv4 route: table, iif, outputs with TTLs, counters, age", () => {
  const stats = new Uint8Array(24);
  const sv = new DataView(stats.buffer);
  sv.setBigUint64(0, 5n, true);
  sv.setBigUint64(8, 180n, true);
  sv.setBigUint64(16, 1n, true);
  const multipath = new Uint8Array(16);
  multipath.set(nexthop(1, 3), 0);
  multipath.set(nexthop(4, 4), 8);
  const bytes = message(24, rtmsg(128, 252, 17, 0), [
    [15, le(32, 1000)], // RTA_TABLE beats rtm_table (which caps at 252, RT_TABLE_COMPAT)
    [2, parseIpv4("192.0.2.2")],
    [1, parseIpv4("239.10.20.30")],
    [3, le(32, 2)],
    [9, multipath],
    [17, stats],
    [23, le(64, 150)],
  ]);
  const [msg] = parseNetlinkMessages(bytes);
  assert.deepEqual(parseMroute(msg!, 4), {
    table: 1000,
    route: {
      source: parseIpv4("192.0.2.2"),
      group: parseIpv4("239.10.20.30"),
      iif: 2,
      oifs: [{ ifindex: 3, ttl: 1 }, { ifindex: 4, ttl: 4 }],
      packets: 5n,
      bytes: 180n,
      wrongIf: 1n,
      resolved: true,
      static: false,
      idleMs: 1500,
    },
  });
  assert.equal(parseMroute(msg!, 6), null, "family 128 is not an IPv6 route");
});

Deno.test("parseMroute decodes an unresolved static IPv6 entry and refuses damaged addresses", () => {
  const bytes = message(24, rtmsg(129, 254, 4, 0x20), [
    [15, le(32, 254)],
    [2, parseIpv6("2001:db8::2")],
    [1, parseIpv6("ff0e::7")],
  ]);
  const dumped = parseMroute(parseNetlinkMessages(bytes)[0]!, 6);
  assert.equal(dumped?.table, 254);
  assert.equal(dumped?.route.resolved, false);
  assert.equal(dumped?.route.static, true);
  assert.equal(dumped?.route.iif, 0);
  assert.deepEqual(dumped?.route.oifs, []);
  assert.equal(dumped?.route.idleMs, null);
  assert.deepEqual(dumped?.route.group, parseIpv6("ff0e::7"));
  const damaged = message(24, rtmsg(129, 254, 4, 0), [[1, parseIpv4("239.1.1.1")]]);
  assert.equal(parseMroute(parseNetlinkMessages(damaged)[0]!, 6), null);
  const other = message(16, new Uint8Array(16), []);
  assert.equal(parseMroute(parseNetlinkMessages(other)[0]!, 6), null, "RTM_NEWLINK");
});

Deno.test("parseVifTable decodes the IPMRA VIF list of one table, 64-bit counters included", () => {
  const ifinfo = new Uint8Array(16);
  ifinfo[0] = 128;
  const vif = (id: number, ifindex: number, flags: number): Attr => [1, [
    [1, le(32, ifindex)],
    [2, le(32, id)],
    [3, le(16, flags)],
    [10, new Uint8Array(0)], // IPMRA_VIFA_PAD
    [4, le(64, 2n ** 40n)],
    [5, le(64, 300)],
    [6, le(64, 7)],
    [7, le(64, 3)],
    [8, parseIpv4("0.0.0.0")],
  ]];
  const bytes = message(16, ifinfo, [[26, [
    [1, le(32, 7)],
    [2, le(32, 0)],
    [6, [vif(0, 5, 0x8), vif(3, 9, 0x8008)]],
  ]]]);
  assert.deepEqual(parseVifTable(parseNetlinkMessages(bytes)[0]!), {
    table: 7,
    vifs: [
      {
        vif: 0,
        ifindex: 5,
        flags: 0x8,
        bytesIn: 2n ** 40n,
        bytesOut: 300n,
        packetsIn: 7n,
        packetsOut: 3n,
      },
      {
        vif: 3,
        ifindex: 9,
        flags: 0x8008,
        bytesIn: 2n ** 40n,
        bytesOut: 300n,
        packetsIn: 7n,
        packetsOut: 3n,
      },
    ],
  });
  const link = new Uint8Array(16); // family 0: an ordinary link, not a VIF table
  assert.equal(parseVifTable(parseNetlinkMessages(message(16, link, []))[0]!), null);
});

Deno.test("parseProcMifs reads /proc/net/ip6_mr_vif and skips the heading", () => {
  const text = "Interface      BytesIn  PktsIn  BytesOut PktsOut Flags\n" +
    " 0 r1              208       4         0       0 00000\n" +
    " 2 r3                0       0       104       2 08000\n";
  assert.deepEqual(parseProcMifs(text), [
    { vif: 0, name: "r1", bytesIn: 208n, packetsIn: 4n, bytesOut: 0n, packetsOut: 0n, flags: 0 },
    {
      vif: 2,
      name: "r3",
      bytesIn: 0n,
      packetsIn: 0n,
      bytesOut: 104n,
      packetsOut: 2n,
      flags: 0x8000,
    },
  ]);
});
