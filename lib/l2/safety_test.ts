import assert from "node:assert/strict";
import { encodeEthernet, EtherType, type VlanTagInit } from "../packet/ethernet.ts";
import { encodeIpv4, IpProtocol, parseIpv4 } from "../packet/ipv4.ts";
import { encodeIpv6, parseIpv6 } from "../packet/ipv6.ts";
import { BROADCAST_MAC, parseMac } from "../packet/mac.ts";
import { encodeUdp } from "../packet/udp.ts";
import { classifyFrame } from "./safety.ts";
import { concat } from "../../testing/bytes.ts";

const FRAME_MAX = 1514;
const CLIENT_MAC = parseMac("02:00:00:00:00:01");
const ALL_NODES_MAC = parseMac("33:33:00:00:00:01");
const SERVER4 = parseIpv4("192.0.2.1");
const LINK_LOCAL = parseIpv6("fe80::1");
const ALL_NODES = parseIpv6("ff02::1");

function frameOf(
  etherType: number,
  payload: Uint8Array,
  vlanTags: readonly VlanTagInit[] = [],
  dst: Uint8Array = BROADCAST_MAC,
): Uint8Array {
  return encodeEthernet({ dst, src: CLIENT_MAC, etherType, payload, vlanTags });
}

function udp4Frame(srcPort: number, dstPort: number, vlanTags: readonly VlanTagInit[] = []) {
  const udp = encodeUdp({
    src: SERVER4,
    dst: parseIpv4("255.255.255.255"),
    srcPort,
    dstPort,
    payload: new Uint8Array(240),
  });
  const ip = encodeIpv4({
    src: SERVER4,
    dst: parseIpv4("255.255.255.255"),
    protocol: IpProtocol.UDP,
    ttl: 64,
    payload: udp,
  });
  return frameOf(EtherType.IPV4, ip, vlanTags);
}

/** An IPv4 UDP frame whose header carries `options` (a multiple of 4 bytes) before the ports. */
function udp4FrameWithOptions(srcPort: number, options: Uint8Array): Uint8Array {
  const plain = udp4Frame(srcPort, 68);
  const ip = plain.subarray(14);
  const withOptions = new Uint8Array(ip.length + options.length);
  withOptions.set(ip.subarray(0, 20));
  withOptions.set(options, 20);
  withOptions.set(ip.subarray(20), 20 + options.length);
  withOptions[0] = 0x40 | ((20 + options.length) / 4);
  return frameOf(EtherType.IPV4, withOptions);
}

/** An IPv6 frame whose payload is `extensions` (already chained) followed by `upper`. */
function ipv6Frame(nextHeader: number, extensions: Uint8Array, upper: Uint8Array): Uint8Array {
  const payload = new Uint8Array(extensions.length + upper.length);
  payload.set(extensions);
  payload.set(upper, extensions.length);
  const ip = encodeIpv6({ src: LINK_LOCAL, dst: ALL_NODES, nextHeader, hopLimit: 255, payload });
  return frameOf(EtherType.IPV6, ip, [], ALL_NODES_MAC);
}

/** An 8-byte hop-by-hop, routing or destination options header pointing at `next`. */
function extensionHeader(next: number): Uint8Array {
  return new Uint8Array([next, 0, 1, 4, 0, 0, 0, 0]); // PadN fills the 6 option bytes
}

function fragmentHeader(next: number, fragmentOffset: number, more: boolean): Uint8Array {
  const word = fragmentOffset | (more ? 1 : 0);
  return new Uint8Array([next, 0, word >>> 8, word & 0xff, 0, 0, 0, 42]);
}

function icmpv6(type: number): Uint8Array {
  const message = new Uint8Array(16);
  message[0] = type;
  return message;
}

function udp6(srcPort: number, dstPort: number): Uint8Array {
  return encodeUdp({
    src: LINK_LOCAL,
    dst: ALL_NODES,
    srcPort,
    dstPort,
    payload: new Uint8Array(4),
  });
}

const RA = ipv6Frame(IpProtocol.ICMPV6, new Uint8Array(0), icmpv6(134));

Deno.test("classifyFrame drops frames longer than frameMax as jumbo", () => {
  const frame = frameOf(EtherType.IPV4, new Uint8Array(1501));
  assert.equal(frame.length, 1515);
  assert.equal(classifyFrame(frame, false, FRAME_MAX), "jumbo");
  assert.equal(classifyFrame(frame, true, FRAME_MAX), "jumbo");
  assert.equal(classifyFrame(frame, true, 1515), null);
});

Deno.test("classifyFrame drops every 01:80:c2:00:00:0x destination as l2_control", () => {
  for (let last = 0x00; last <= 0x0f; last++) {
    const dst = new Uint8Array([0x01, 0x80, 0xc2, 0x00, 0x00, last]);
    const frame = frameOf(EtherType.LOCAL_EXPERIMENTAL, new Uint8Array(46), [], dst);
    assert.equal(classifyFrame(frame, false, FRAME_MAX), "l2_control", `01:80:c2:00:00:${last}`);
  }
});

Deno.test("classifyFrame passes 01:80:c2:00:00:10 and other multicast destinations", () => {
  for (const mac of ["01:80:c2:00:00:10", "01:80:c2:00:01:00", "01:00:5e:00:00:01"]) {
    const frame = frameOf(EtherType.LOCAL_EXPERIMENTAL, new Uint8Array(46), [], parseMac(mac));
    assert.equal(classifyFrame(frame, true, FRAME_MAX), null, mac);
  }
});

Deno.test("classifyFrame drops LLDP, EAPOL and slow protocols in both directions", () => {
  for (const type of [EtherType.LLDP, EtherType.EAPOL, EtherType.SLOW_PROTOCOLS]) {
    const frame = frameOf(type, new Uint8Array(46));
    assert.equal(classifyFrame(frame, false, FRAME_MAX), "l2_control", type.toString(16));
    assert.equal(classifyFrame(frame, true, FRAME_MAX), "l2_control", type.toString(16));
  }
});

Deno.test("classifyFrame finds control EtherTypes behind 802.1Q and 802.1ad tags", () => {
  const tags = [{ tpid: EtherType.QINQ, vid: 10 }, { vid: 20 }];
  assert.equal(
    classifyFrame(frameOf(EtherType.LLDP, new Uint8Array(46), tags), false, FRAME_MAX),
    "l2_control",
  );
  assert.equal(
    classifyFrame(frameOf(EtherType.EAPOL, new Uint8Array(46), [{ vid: 5 }]), false, FRAME_MAX),
    "l2_control",
  );
});

Deno.test("classifyFrame passes ordinary IPv4 and ARP frames", () => {
  assert.equal(classifyFrame(udp4Frame(40000, 53), true, FRAME_MAX), null);
  assert.equal(classifyFrame(frameOf(EtherType.ARP, new Uint8Array(28)), true, FRAME_MAX), null);
});

Deno.test("classifyFrame drops a DHCPv4 offer from a client as rogue_dhcp_server", () => {
  assert.equal(classifyFrame(udp4Frame(67, 68), true, FRAME_MAX), "rogue_dhcp_server");
});

Deno.test("classifyFrame lets the LAN side send DHCPv4 offers", () => {
  assert.equal(classifyFrame(udp4Frame(67, 68), false, FRAME_MAX), null);
});

Deno.test("classifyFrame passes a client's DHCPv4 discover", () => {
  assert.equal(classifyFrame(udp4Frame(68, 67), true, FRAME_MAX), null);
});

Deno.test("classifyFrame finds a DHCPv4 offer in a VLAN-tagged frame", () => {
  const frame = udp4Frame(67, 68, [{ tpid: EtherType.QINQ, vid: 7 }, { vid: 8 }]);
  assert.equal(classifyFrame(frame, true, FRAME_MAX), "rogue_dhcp_server");
});

Deno.test("classifyFrame reads the UDP ports after IPv4 options", () => {
  // Router alert option; its first two bytes are not 67, so a reader ignoring IHL misses.
  const options = new Uint8Array([0x94, 0x04, 0x00, 0x00]);
  assert.equal(
    classifyFrame(udp4FrameWithOptions(67, options), true, FRAME_MAX),
    "rogue_dhcp_server",
  );
  assert.equal(classifyFrame(udp4FrameWithOptions(68, options), true, FRAME_MAX), null);
  // Options that look like source port 67 must not matter either.
  const lookalike = new Uint8Array([0x00, 0x43, 0x00, 0x00]);
  assert.equal(classifyFrame(udp4FrameWithOptions(68, lookalike), true, FRAME_MAX), null);
});

Deno.test("classifyFrame ignores IPv4 fragments after the first", () => {
  const frame = udp4Frame(67, 68);
  frame[14 + 6] = 0x00;
  frame[14 + 7] = 0x10; // fragment offset 128 bytes: the "ports" are payload
  assert.equal(classifyFrame(frame, true, FRAME_MAX), null);
  frame[14 + 6] = 0x20; // MF set, offset 0: the first fragment has the UDP header
  frame[14 + 7] = 0x00;
  assert.equal(classifyFrame(frame, true, FRAME_MAX), "rogue_dhcp_server");
});

Deno.test("classifyFrame drops a router advertisement from a client", () => {
  assert.equal(classifyFrame(RA, true, FRAME_MAX), "rogue_router_advertisement");
});

Deno.test("classifyFrame lets the LAN side send router advertisements", () => {
  assert.equal(classifyFrame(RA, false, FRAME_MAX), null);
});

Deno.test("classifyFrame passes router solicitations and neighbor discovery", () => {
  for (const type of [133, 135, 136]) {
    const frame = ipv6Frame(IpProtocol.ICMPV6, new Uint8Array(0), icmpv6(type));
    assert.equal(classifyFrame(frame, true, FRAME_MAX), null, `ICMPv6 type ${type}`);
  }
});

Deno.test("classifyFrame finds a router advertisement behind extension headers", () => {
  const chain = concat(
    extensionHeader(IpProtocol.IPV6_DEST_OPTIONS),
    extensionHeader(IpProtocol.IPV6_ROUTING),
    extensionHeader(IpProtocol.ICMPV6),
  );
  const frame = ipv6Frame(IpProtocol.HOP_BY_HOP, chain, icmpv6(134));
  assert.equal(classifyFrame(frame, true, FRAME_MAX), "rogue_router_advertisement");
});

Deno.test("classifyFrame honours the length of IPv6 extension headers", () => {
  // A 16-byte destination options header (length field 1) whose second half looks like an RA.
  const header = new Uint8Array(16);
  header.set([IpProtocol.UDP, 1, 1, 12]);
  header[8] = 134;
  const frame = ipv6Frame(IpProtocol.IPV6_DEST_OPTIONS, header, udp6(547, 546));
  assert.equal(classifyFrame(frame, true, FRAME_MAX), "rogue_dhcp_server");
});

Deno.test("classifyFrame follows a chain of extension headers of any length", () => {
  const chain = concat(
    ...Array.from({ length: 20 }, () => extensionHeader(IpProtocol.IPV6_DEST_OPTIONS)),
    extensionHeader(IpProtocol.ICMPV6),
  );
  const frame = ipv6Frame(IpProtocol.IPV6_DEST_OPTIONS, chain, icmpv6(134));
  assert.equal(classifyFrame(frame, true, FRAME_MAX), "rogue_router_advertisement");
});

Deno.test("classifyFrame finds a router advertisement in a first fragment only", () => {
  const first = ipv6Frame(
    IpProtocol.IPV6_FRAGMENT,
    fragmentHeader(IpProtocol.ICMPV6, 0, true),
    icmpv6(134),
  );
  assert.equal(classifyFrame(first, true, FRAME_MAX), "rogue_router_advertisement");
  const later = ipv6Frame(
    IpProtocol.IPV6_FRAGMENT,
    fragmentHeader(IpProtocol.ICMPV6, 64, false),
    icmpv6(134),
  );
  assert.equal(classifyFrame(later, true, FRAME_MAX), null);
});

Deno.test("classifyFrame drops DHCPv6 server messages from a client", () => {
  const advertise = ipv6Frame(IpProtocol.UDP, new Uint8Array(0), udp6(547, 546));
  assert.equal(classifyFrame(advertise, true, FRAME_MAX), "rogue_dhcp_server");
  assert.equal(classifyFrame(advertise, false, FRAME_MAX), null);
  const solicit = ipv6Frame(IpProtocol.UDP, new Uint8Array(0), udp6(546, 547));
  assert.equal(classifyFrame(solicit, true, FRAME_MAX), null);
});

Deno.test("classifyFrame returns null for every truncation of a header it inspects", () => {
  const raBehindHeaders = ipv6Frame(
    IpProtocol.HOP_BY_HOP,
    concat(extensionHeader(IpProtocol.IPV6_FRAGMENT), fragmentHeader(IpProtocol.ICMPV6, 0, false)),
    icmpv6(134),
  );
  const cases: [Uint8Array, number][] = [
    [RA, 14 + 40 + 1], // shortest prefix that still holds the ICMPv6 type
    [raBehindHeaders, 14 + 40 + 16 + 1],
    [udp4Frame(67, 68, [{ vid: 1 }]), 18 + 20 + 2],
    [ipv6Frame(IpProtocol.UDP, new Uint8Array(0), udp6(547, 546)), 14 + 40 + 2],
  ];
  for (const [frame, needed] of cases) {
    for (let length = 0; length < needed; length++) {
      assert.equal(classifyFrame(frame.subarray(0, length), true, FRAME_MAX), null, `${length}`);
    }
    assert.notEqual(classifyFrame(frame.subarray(0, needed), true, FRAME_MAX), null);
  }
});

Deno.test("classifyFrame does not throw on an extension header claiming to run past the frame", () => {
  const header = new Uint8Array([IpProtocol.ICMPV6, 255, 0, 0, 0, 0, 0, 0]);
  const frame = ipv6Frame(IpProtocol.HOP_BY_HOP, header, icmpv6(134));
  assert.equal(classifyFrame(frame, true, FRAME_MAX), null);
});
