import assert from "node:assert/strict";
import { cString } from "../../ffi/c_string.ts";
import { nk } from "../../ffi/native.ts";
import { parseIpv4 } from "../packet/ipv4.ts";
import { parseIpv6 } from "../packet/ipv6.ts";
import {
  encodeMf6cctl,
  encodeMfcctl,
  encodeMif6ctl,
  encodeVifctl,
  IGMPMSG,
  MF6CCTL,
  MFCCTL,
  MIF6CTL,
  MRT6MSG,
  parseUpcall,
  SIOC_SG_REQ,
  SIOC_SG_REQ6,
  SIOC_VIF_REQ,
  SOCKADDR_IN6,
  VIFCTL,
} from "./mroute_structs.ts";

Deno.test("multicast routing struct offsets in TypeScript match the C layout", () => {
  const fields: [string, number][] = [
    ["vifctl.sizeof", VIFCTL.size],
    ["vifctl.vifc_vifi", VIFCTL.vifi],
    ["vifctl.vifc_flags", VIFCTL.flags],
    ["vifctl.vifc_threshold", VIFCTL.threshold],
    ["vifctl.vifc_rate_limit", VIFCTL.rateLimit],
    ["vifctl.vifc_lcl_ifindex", VIFCTL.ifindex],
    ["vifctl.vifc_rmt_addr", VIFCTL.remoteAddr],
    ["mfcctl.sizeof", MFCCTL.size],
    ["mfcctl.mfcc_origin", MFCCTL.origin],
    ["mfcctl.mfcc_mcastgrp", MFCCTL.group],
    ["mfcctl.mfcc_parent", MFCCTL.parent],
    ["mfcctl.mfcc_ttls", MFCCTL.ttls],
    ["mfcctl.mfcc_pkt_cnt", MFCCTL.pktCount],
    ["mif6ctl.sizeof", MIF6CTL.size],
    ["mif6ctl.mif6c_mifi", MIF6CTL.mifi],
    ["mif6ctl.mif6c_flags", MIF6CTL.flags],
    ["mif6ctl.vifc_threshold", MIF6CTL.threshold],
    ["mif6ctl.mif6c_pifi", MIF6CTL.ifindex],
    ["mif6ctl.vifc_rate_limit", MIF6CTL.rateLimit],
    ["sockaddr_in6.sizeof", SOCKADDR_IN6.size],
    ["sockaddr_in6.sin6_family", SOCKADDR_IN6.family],
    ["sockaddr_in6.sin6_addr", SOCKADDR_IN6.addr],
    ["mf6cctl.sizeof", MF6CCTL.size],
    ["mf6cctl.mf6cc_origin", MF6CCTL.origin],
    ["mf6cctl.mf6cc_mcastgrp", MF6CCTL.group],
    ["mf6cctl.mf6cc_parent", MF6CCTL.parent],
    ["mf6cctl.mf6cc_ifset", MF6CCTL.ifset],
    ["sioc_sg_req.sizeof", SIOC_SG_REQ.size],
    ["sioc_sg_req.src", SIOC_SG_REQ.src],
    ["sioc_sg_req.grp", SIOC_SG_REQ.grp],
    ["sioc_sg_req.pktcnt", SIOC_SG_REQ.pktcnt],
    ["sioc_sg_req.bytecnt", SIOC_SG_REQ.bytecnt],
    ["sioc_sg_req.wrong_if", SIOC_SG_REQ.wrongIf],
    ["sioc_sg_req6.sizeof", SIOC_SG_REQ6.size],
    ["sioc_sg_req6.src", SIOC_SG_REQ6.src],
    ["sioc_sg_req6.grp", SIOC_SG_REQ6.grp],
    ["sioc_sg_req6.pktcnt", SIOC_SG_REQ6.pktcnt],
    ["sioc_sg_req6.bytecnt", SIOC_SG_REQ6.bytecnt],
    ["sioc_sg_req6.wrong_if", SIOC_SG_REQ6.wrongIf],
    ["sioc_vif_req.sizeof", SIOC_VIF_REQ.size],
    ["sioc_vif_req.vifi", SIOC_VIF_REQ.vifi],
    ["sioc_vif_req.icount", SIOC_VIF_REQ.icount],
    ["sioc_vif_req.ocount", SIOC_VIF_REQ.ocount],
    ["sioc_vif_req.ibytes", SIOC_VIF_REQ.ibytes],
    ["sioc_vif_req.obytes", SIOC_VIF_REQ.obytes],
    // vifCounters() reads sioc_mif_req6 through the IPv4 layout.
    ["sioc_mif_req6.sizeof", SIOC_VIF_REQ.size],
    ["sioc_mif_req6.mifi", SIOC_VIF_REQ.vifi],
    ["sioc_mif_req6.icount", SIOC_VIF_REQ.icount],
    ["sioc_mif_req6.ocount", SIOC_VIF_REQ.ocount],
    ["sioc_mif_req6.ibytes", SIOC_VIF_REQ.ibytes],
    ["sioc_mif_req6.obytes", SIOC_VIF_REQ.obytes],
    ["igmpmsg.sizeof", IGMPMSG.size],
    ["igmpmsg.im_msgtype", IGMPMSG.msgtype],
    ["igmpmsg.im_mbz", IGMPMSG.mbz],
    ["igmpmsg.im_vif", IGMPMSG.vif],
    ["igmpmsg.im_vif_hi", IGMPMSG.vifHi],
    ["igmpmsg.im_src", IGMPMSG.src],
    ["igmpmsg.im_dst", IGMPMSG.dst],
    ["mrt6msg.sizeof", MRT6MSG.size],
    ["mrt6msg.im6_mbz", MRT6MSG.mbz],
    ["mrt6msg.im6_msgtype", MRT6MSG.msgtype],
    ["mrt6msg.im6_mif", MRT6MSG.mif],
    ["mrt6msg.im6_src", MRT6MSG.src],
    ["mrt6msg.im6_dst", MRT6MSG.dst],
    // Read by lib/mroute/kernel_netlink.ts at these offsets.
    ["rtmsg.sizeof", 12],
    ["rtmsg.rtm_family", 0],
    ["rtmsg.rtm_table", 4],
    ["rtmsg.rtm_protocol", 5],
    ["rtmsg.rtm_type", 7],
    ["rtmsg.rtm_flags", 8],
    ["rtnexthop.sizeof", 8],
    ["rtnexthop.rtnh_hops", 3],
    ["rtnexthop.rtnh_ifindex", 4],
    ["rta_mfc_stats.sizeof", 24],
    ["rta_mfc_stats.mfcs_packets", 0],
    ["rta_mfc_stats.mfcs_bytes", 8],
    ["rta_mfc_stats.mfcs_wrong_if", 16],
  ];
  for (const [key, offset] of fields) assert.equal(nk.nk_layout(cString(key)), offset, key);
});

Deno.test("encodeVifctl gives the VIF by ifindex with its threshold, host byte order", () => {
  const bytes = encodeVifctl(3, 0x01020304, 7);
  assert.equal(bytes.length, 16);
  assert.deepEqual(
    Array.from(bytes),
    [3, 0, 0x08, 7, 0, 0, 0, 0, 0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0],
  );
  assert.throws(() => encodeVifctl(32, 1, 1), /Invalid VIF "32"/);
  assert.throws(() => encodeVifctl(0, 1, 256), /Invalid TTL threshold "256"/);
});

Deno.test("encodeMif6ctl puts the ifindex in 16 bits and refuses larger ones", () => {
  assert.deepEqual(
    Array.from(encodeMif6ctl(31, 0x1234, 1)),
    [31, 0, 0, 1, 0x34, 0x12, 0, 0, 0, 0, 0, 0],
  );
  assert.throws(() => encodeMif6ctl(0, 0x10000, 1), /interface index/);
});

Deno.test("encodeMfcctl writes 60 bytes with the TTLs at 10 and the padding at 42 left zero", () => {
  const ttls = new Uint8Array(32);
  ttls[1] = 1;
  ttls[31] = 9;
  const bytes = encodeMfcctl({
    source: parseIpv4("192.0.2.2"),
    group: parseIpv4("239.1.2.3"),
    parent: 17,
    ttls,
  });
  assert.equal(bytes.length, 60);
  assert.deepEqual(Array.from(bytes.subarray(0, 10)), [192, 0, 2, 2, 239, 1, 2, 3, 17, 0]);
  assert.equal(bytes[10 + 1], 1);
  assert.equal(bytes[10 + 31], 9); // the last TTL sits at 41, just before the padding
  assert.deepEqual(Array.from(bytes.subarray(42)), new Array(18).fill(0));
  // A short TTL vector leaves the other VIFs out.
  const short = encodeMfcctl({
    source: new Uint8Array(4),
    group: parseIpv4("239.1.2.3"),
    parent: 2,
    ttls: new Uint8Array([1, 0, 1]),
  });
  assert.deepEqual(Array.from(short.subarray(10, 14)), [1, 0, 1, 0]);
});

Deno.test("encodeMfcctl refuses wrong address lengths, parents and TTL vectors", () => {
  const ok = {
    source: new Uint8Array(4),
    group: parseIpv4("239.1.1.1"),
    parent: 0,
    ttls: new Uint8Array(32),
  };
  assert.throws(() => encodeMfcctl({ ...ok, source: new Uint8Array(16) }), /IPv4 source address/);
  assert.throws(() => encodeMfcctl({ ...ok, parent: 32 }), /parent VIF "32"/);
  assert.throws(() => encodeMfcctl({ ...ok, ttls: new Uint8Array(33) }), /at most 32 entries/);
  assert.throws(() => encodeMfcctl({ ...ok, ttls: [0, 256] }), /TTL of VIF 1 "256"/);
  assert.deepEqual(
    [...encodeMfcctl({ ...ok, ttls: [0, 1, 5] }).subarray(MFCCTL.ttls, MFCCTL.ttls + 4)],
    [0, 1, 5, 0],
    "a plain array is a TTL vector too",
  );
});

Deno.test("encodeMf6cctl writes two sockaddr_in6, the parent at 56, padding at 58, VIF bits at 60", () => {
  const ttls = new Uint8Array(32);
  ttls[0] = 1;
  ttls[2] = 200;
  ttls[31] = 1;
  const source = parseIpv6("2001:db8::2");
  const group = parseIpv6("ff0e::7");
  const bytes = encodeMf6cctl({ source, group, parent: 5, ttls });
  assert.equal(bytes.length, 92);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint16(0, true), 10); // AF_INET6
  assert.deepEqual(bytes.subarray(8, 24), source);
  assert.equal(view.getUint16(28, true), 10);
  assert.deepEqual(bytes.subarray(36, 52), group);
  assert.equal(view.getUint16(56, true), 5);
  assert.deepEqual(Array.from(bytes.subarray(58, 60)), [0, 0]);
  assert.equal(view.getUint32(60, true), (1 << 0 | 1 << 2 | 1 << 31) >>> 0);
  assert.deepEqual(Array.from(bytes.subarray(64)), new Array(28).fill(0));
});

/** An IPv4 NOCACHE upcall as the kernel writes it: a copied IP header, patched, + 8 bytes. */
function igmpUpcall(msgtype: number, vif: number): Uint8Array {
  const bytes = new Uint8Array(28);
  bytes.set([0x45, 0, 0, 28]);
  bytes[8] = msgtype;
  bytes[9] = 0; // im_mbz: the protocol byte of a real packet
  bytes[10] = vif & 0xff;
  bytes[11] = vif >> 8;
  bytes.set(parseIpv4("192.0.2.2"), 12);
  bytes.set(parseIpv4("239.77.0.1"), 16);
  bytes[20] = msgtype;
  return bytes;
}

Deno.test("parseUpcall decodes IPv4 NOCACHE and WRONGVIF with the 16-bit VIF", () => {
  assert.deepEqual(parseUpcall(4, igmpUpcall(1, 0)), {
    kind: "nocache",
    family: 4,
    vif: 0,
    source: parseIpv4("192.0.2.2"),
    group: parseIpv4("239.77.0.1"),
  });
  assert.equal(parseUpcall(4, igmpUpcall(2, 0x0105))?.vif, 0x0105);
  assert.equal(parseUpcall(4, igmpUpcall(2, 3))?.kind, "wrongvif");
  assert.equal(parseUpcall(4, igmpUpcall(3, 3))?.kind, "wholepkt");
  assert.equal(parseUpcall(4, igmpUpcall(4, 3))?.kind, "wrvifwhole");
});

Deno.test("parseUpcall ignores real IGMP, unknown types and short reads", () => {
  // A membership query to 224.0.0.1 with TTL 1: the TTL byte reads like NOCACHE.
  const query = igmpUpcall(1, 0);
  query[9] = 2; // IPPROTO_IGMP
  assert.equal(parseUpcall(4, query), null);
  assert.equal(parseUpcall(4, igmpUpcall(5, 0)), null);
  assert.equal(parseUpcall(4, igmpUpcall(0, 0)), null);
  assert.equal(parseUpcall(4, igmpUpcall(1, 0).subarray(0, 19)), null);
});

function mrt6Upcall(msgtype: number, mif: number): Uint8Array {
  const bytes = new Uint8Array(40);
  bytes[1] = msgtype;
  new DataView(bytes.buffer).setUint16(2, mif, true);
  bytes.set(parseIpv6("2001:db8:1::2"), 8);
  bytes.set(parseIpv6("ff0e::10:20:30"), 24);
  return bytes;
}

Deno.test("parseUpcall decodes an IPv6 mrt6msg and ignores ICMPv6 messages", () => {
  assert.deepEqual(parseUpcall(6, mrt6Upcall(1, 2)), {
    kind: "nocache",
    family: 6,
    vif: 2,
    source: parseIpv6("2001:db8:1::2"),
    group: parseIpv6("ff0e::10:20:30"),
  });
  assert.equal(parseUpcall(6, mrt6Upcall(2, 31))?.kind, "wrongvif");
  const mldQuery = mrt6Upcall(0, 0);
  mldQuery[0] = 130; // ICMPv6 type: never 0
  assert.equal(parseUpcall(6, mldQuery), null);
  assert.equal(parseUpcall(6, mrt6Upcall(1, 0).subarray(0, 39)), null);
});
