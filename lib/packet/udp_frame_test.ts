import assert from "node:assert/strict";
import { internetChecksum } from "./checksum.ts";
import { MalformedPacketError } from "./errors.ts";
import { encodeEthernet, EtherType } from "./ethernet.ts";
import { encodeIpv4, formatIpv4, parseIpv4 } from "./ipv4.ts";
import { encodeIpv6, formatIpv6, parseIpv6 } from "./ipv6.ts";
import { formatMac, parseMac } from "./mac.ts";
import { encodeUdp } from "./udp.ts";
import {
  decodeUdpFrame,
  encodeUdpMulticastFrame,
  type UdpMulticastFrameInit,
} from "./udp_frame.ts";

const SRC_MAC = parseMac("02:00:00:00:00:01");
const SRC4 = parseIpv4("192.0.2.1");
const GROUP4 = parseIpv4("239.10.20.30");
const SRC6 = parseIpv6("2001:db8::1");
const GROUP6 = parseIpv6("ff0e::1:2:3");
const HELLO = new TextEncoder().encode("hello");

function init4(overrides: Partial<UdpMulticastFrameInit> = {}): UdpMulticastFrameInit {
  return {
    srcMac: SRC_MAC,
    src: SRC4,
    group: GROUP4,
    srcPort: 40000,
    dstPort: 5000,
    ttl: 8,
    payload: HELLO,
    ...overrides,
  };
}

function init6(overrides: Partial<UdpMulticastFrameInit> = {}): UdpMulticastFrameInit {
  return init4({ src: SRC6, group: GROUP6, ...overrides });
}

function assertMalformed(fn: () => unknown, reason: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  });
}

/** Sets the IPv4 flags/fragment word of the packet in an untagged frame and fixes the checksum. */
function setIpv4Fragment(frame: Uint8Array, flagsAndOffset: number): void {
  frame[20] = flagsAndOffset >>> 8;
  frame[21] = flagsAndOffset & 0xff;
  frame[24] = 0;
  frame[25] = 0;
  const checksum = internetChecksum(frame, 14, 34);
  frame[24] = checksum >>> 8;
  frame[25] = checksum & 0xff;
}

Deno.test("encodeUdpMulticastFrame() sends IPv4 to the group's 01:00:5e MAC with the exact TTL", () => {
  const frame = encodeUdpMulticastFrame(init4());
  assert.equal(frame.length, 60); // 14 + 20 + 8 + 5 = 47, padded
  const { ethernet, ip, udp } = decodeUdpFrame(frame);
  assert.equal(formatMac(ethernet.dst), "01:00:5e:0a:14:1e");
  assert.equal(formatMac(ethernet.src), "02:00:00:00:00:01");
  assert.equal(ethernet.etherType, EtherType.IPV4);
  assert.equal(ip.version, 4);
  if (ip.version !== 4) return;
  assert.equal(ip.ttl, 8);
  assert.equal(ip.protocol, 17);
  assert.equal(ip.totalLength, 33);
  assert.equal(ip.id, 0);
  assert.equal(ip.dontFragment, false);
  assert.equal(formatIpv4(ip.src), "192.0.2.1");
  assert.equal(formatIpv4(ip.dst), "239.10.20.30");
  assert.deepEqual(
    { ...udp, payload: new TextDecoder().decode(udp.payload) },
    { srcPort: 40000, dstPort: 5000, length: 13, checksum: udp.checksum, payload: "hello" },
  );
  assert.notEqual(udp.checksum, 0);
});

Deno.test("encodeUdpMulticastFrame() sends IPv6 to the group's 33:33 MAC with the exact hop limit", () => {
  const frame = encodeUdpMulticastFrame(init6({ ttl: 1 }));
  assert.equal(frame.length, 67); // 14 + 40 + 8 + 5
  const { ethernet, ip, udp } = decodeUdpFrame(frame);
  assert.equal(formatMac(ethernet.dst), "33:33:00:02:00:03");
  assert.equal(ethernet.etherType, EtherType.IPV6);
  assert.equal(ip.version, 6);
  if (ip.version !== 6) return;
  assert.equal(ip.hopLimit, 1);
  assert.equal(ip.nextHeader, 17);
  assert.equal(ip.trafficClass, 0);
  assert.equal(ip.flowLabel, 0);
  assert.equal(formatIpv6(ip.src), "2001:db8::1");
  assert.equal(formatIpv6(ip.dst), "ff0e::1:2:3");
  assert.equal(udp.dstPort, 5000);
  assert.deepEqual(udp.payload, HELLO);
});

Deno.test("encodeUdpMulticastFrame() is exactly encodeEthernet(encodeIpv4/6(encodeUdp()))", () => {
  for (const ttl of [0, 1, 8, 255]) {
    const datagram4 = encodeUdp({
      srcPort: 40000,
      dstPort: 5000,
      payload: HELLO,
      src: SRC4,
      dst: GROUP4,
    });
    assert.deepEqual(
      encodeUdpMulticastFrame(init4({ ttl })),
      encodeEthernet({
        dst: parseMac("01:00:5e:0a:14:1e"),
        src: SRC_MAC,
        etherType: EtherType.IPV4,
        payload: encodeIpv4({ src: SRC4, dst: GROUP4, protocol: 17, ttl, payload: datagram4 }),
      }),
    );
    const datagram6 = encodeUdp({
      srcPort: 40000,
      dstPort: 5000,
      payload: HELLO,
      src: SRC6,
      dst: GROUP6,
    });
    assert.deepEqual(
      encodeUdpMulticastFrame(init6({ ttl })),
      encodeEthernet({
        dst: parseMac("33:33:00:02:00:03"),
        src: SRC_MAC,
        etherType: EtherType.IPV6,
        payload: encodeIpv6({
          src: SRC6,
          dst: GROUP6,
          nextHeader: 17,
          hopLimit: ttl,
          payload: datagram6,
        }),
      }),
    );
  }
});

Deno.test("encodeUdpMulticastFrame() refuses unicast groups, mixed families and bad fields", () => {
  const cases: [UdpMulticastFrameInit, string][] = [
    [
      init4({ group: parseIpv4("192.0.2.2") }),
      'Invalid IPv4 multicast group "192.0.2.2": expected an address in 224.0.0.0/4',
    ],
    [
      init6({ group: parseIpv6("2001:db8::2") }),
      'Invalid IPv6 multicast group "2001:db8::2": expected an address in ff00::/8',
    ],
    [
      init4({ group: GROUP6 }),
      "Invalid UDP pseudo header addresses: expected two 4-byte (IPv4) or two 16-byte (IPv6) addresses, got 4 and 16 bytes",
    ],
    [init4({ ttl: 256 }), 'Invalid IPv4 TTL "256": expected an integer from 0 to 255'],
    [init6({ ttl: -1 }), 'Invalid IPv6 hop limit "-1": expected an integer from 0 to 0xff'],
    [
      init4({ dstPort: 70000 }),
      'Invalid UDP destination port "70000": expected an integer from 0 to 65535',
    ],
    [
      init4({ srcMac: new Uint8Array(5) }),
      "Invalid source MAC address: expected 6 bytes, got 5",
    ],
  ];
  for (const [init, message] of cases) {
    assert.throws(() => encodeUdpMulticastFrame(init), new RangeError(message));
  }
});

Deno.test("decodeUdpFrame() reads unicast and VLAN-tagged frames and returns views", () => {
  const dst = parseIpv4("198.51.100.7");
  const datagram = encodeUdp({ srcPort: 53, dstPort: 40000, payload: HELLO, src: SRC4, dst });
  const frame = encodeEthernet({
    dst: parseMac("02:00:00:00:00:02"),
    src: SRC_MAC,
    etherType: EtherType.IPV4,
    vlanTags: [{ vid: 100 }],
    payload: encodeIpv4({ src: SRC4, dst, protocol: 17, ttl: 64, payload: datagram }),
  });
  const { ethernet, ip, udp } = decodeUdpFrame(frame);
  assert.equal(ethernet.vlanTags[0]?.vid, 100);
  assert.equal(formatIpv4(ip.dst), "198.51.100.7");
  assert.equal(udp.srcPort, 53);
  assert.equal(udp.payload.buffer, frame.buffer);
  assert.equal(udp.payload.byteOffset, 18 + 20 + 8);
});

Deno.test("decodeUdpFrame() rejects frames that are not IP", () => {
  const arp = encodeEthernet({
    dst: parseMac("ff:ff:ff:ff:ff:ff"),
    src: SRC_MAC,
    etherType: EtherType.ARP,
    payload: new Uint8Array(28),
  });
  assertMalformed(
    () => decodeUdpFrame(arp),
    "not_ip",
    "Frame has EtherType 0x0806, not IPv4 (0x0800) or IPv6 (0x86dd)",
  );
  assertMalformed(
    () => decodeUdpFrame(new Uint8Array(10)),
    "runt",
    "Ethernet frame too short: 10 bytes, a header needs 14",
  );
});

Deno.test("decodeUdpFrame() rejects IP packets that do not carry UDP", () => {
  const igmp = encodeEthernet({
    dst: parseMac("01:00:5e:00:00:16"),
    src: SRC_MAC,
    etherType: EtherType.IPV4,
    payload: encodeIpv4({
      src: SRC4,
      dst: parseIpv4("224.0.0.22"),
      protocol: 2,
      ttl: 1,
      payload: new Uint8Array(8),
    }),
  });
  assertMalformed(
    () => decodeUdpFrame(igmp),
    "not_udp",
    "IPv4 packet carries protocol 2, not UDP (17)",
  );
  // UDP behind an IPv6 extension header is not looked for.
  const hopByHop = encodeEthernet({
    dst: parseMac("33:33:00:02:00:03"),
    src: SRC_MAC,
    etherType: EtherType.IPV6,
    payload: encodeIpv6({
      src: SRC6,
      dst: GROUP6,
      nextHeader: 0,
      hopLimit: 1,
      payload: new Uint8Array(16),
    }),
  });
  assertMalformed(
    () => decodeUdpFrame(hopByHop),
    "not_udp",
    "IPv6 packet carries protocol 0, not UDP (17)",
  );
});

Deno.test("decodeUdpFrame() rejects IPv4 fragments, first, middle and last", () => {
  const cases: [number, string][] = [
    [0x2000, "offset 0, more follow"],
    [0x2001, "offset 8, more follow"],
    [0x0003, "offset 24, the last"],
    [0x4000 | 0x1fff, "offset 65528, the last"],
  ];
  for (const [flags, what] of cases) {
    const frame = encodeUdpMulticastFrame(init4());
    setIpv4Fragment(frame, flags);
    assertMalformed(
      () => decodeUdpFrame(frame),
      "ipv4_fragment",
      `IPv4 packet is a fragment (${what}): it holds part of a datagram only`,
    );
  }
  // DF alone is not a fragment.
  const frame = encodeUdpMulticastFrame(init4());
  setIpv4Fragment(frame, 0x4000);
  assert.equal(decodeUdpFrame(frame).udp.dstPort, 5000);
});

Deno.test("decodeUdpFrame() passes on IPv4 and UDP checksum errors", () => {
  const badIp = encodeUdpMulticastFrame(init4());
  badIp[22] = 9; // TTL changed, header checksum not updated
  assert.throws(
    () => decodeUdpFrame(badIp),
    (err: unknown) => err instanceof MalformedPacketError && err.reason === "bad_ipv4_checksum",
  );
  for (const init of [init4(), init6()]) {
    const badUdp = encodeUdpMulticastFrame(init);
    const payloadOffset = init.group.length === 4 ? 42 : 62;
    badUdp[payloadOffset] = badUdp[payloadOffset]! ^ 0xff;
    assert.throws(
      () => decodeUdpFrame(badUdp),
      (err: unknown) => err instanceof MalformedPacketError && err.reason === "bad_udp_checksum",
    );
  }
});

Deno.test("decodeUdpFrame() passes on truncation errors of the inner headers", () => {
  const frame4 = encodeUdpMulticastFrame(init4({ payload: new Uint8Array(100) }));
  assertMalformed(
    () => decodeUdpFrame(frame4.subarray(0, 100)),
    "truncated_ipv4_packet",
    "IPv4 packet truncated: its total length is 128 bytes, only 86 are present",
  );
  const frame6 = encodeUdpMulticastFrame(init6());
  assertMalformed(
    () => decodeUdpFrame(frame6.subarray(0, 60)),
    "truncated_ipv6_packet",
    "IPv6 packet truncated: its payload length is 13 bytes, only 6 follow the header",
  );
});
