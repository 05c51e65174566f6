import assert from "node:assert/strict";
import { internetChecksum, updateChecksum } from "./checksum.ts";
import { MalformedPacketError } from "./errors.ts";
import {
  decodeIpv4,
  encodeIpv4,
  formatIpv4,
  IpProtocol,
  IPV4_ADDRESS_LEN,
  IPV4_HEADER_LEN,
  IPV4_MAX_HEADER_LEN,
  IPV4_MAX_TOTAL_LEN,
  ipv4MulticastMac,
  isIpv4LinkLocalMulticast,
  isIpv4Multicast,
  parseIpv4,
} from "./ipv4.ts";
import { formatMac } from "./mac.ts";

// A real IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, TTL 64, DF, total length 115) whose
// checksum is 0xb861.
const KNOWN_HEADER = [
  [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11],
  [0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7],
].flat();

function knownPacket(): Uint8Array<ArrayBuffer> {
  const packet = new Uint8Array(0x73);
  packet.set(KNOWN_HEADER);
  return packet;
}

function word(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

function setWord(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

/** Recomputes the header checksum after a test edited the header. */
function fixChecksum(packet: Uint8Array): Uint8Array {
  setWord(packet, 10, 0);
  setWord(packet, 10, internetChecksum(packet, 0, (packet[0]! & 0x0f) * 4));
  return packet;
}

function assertMalformed(fn: () => unknown, reason: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  });
}

const SRC = new Uint8Array([192, 0, 2, 1]);
const GROUP = new Uint8Array([239, 10, 20, 30]);

Deno.test("IPv4 constants and IpProtocol hold the standard values", () => {
  assert.equal(IPV4_ADDRESS_LEN, 4);
  assert.equal(IPV4_HEADER_LEN, 20);
  assert.equal(IPV4_MAX_HEADER_LEN, 60);
  assert.equal(IPV4_MAX_TOTAL_LEN, 65535);
  assert.equal(IpProtocol.HOP_BY_HOP, 0);
  assert.equal(IpProtocol.ICMP, 1);
  assert.equal(IpProtocol.IGMP, 2);
  assert.equal(IpProtocol.TCP, 6);
  assert.equal(IpProtocol.UDP, 17);
  assert.equal(IpProtocol.IPV6_FRAGMENT, 44);
  assert.equal(IpProtocol.ICMPV6, 58);
  assert.equal(IpProtocol.PIM, 103);
  assert.equal(IpProtocol.VRRP, 112);
});

Deno.test("parseIpv4() reads strict dotted quads into 4 new bytes", () => {
  const cases: [string, number[]][] = [
    ["0.0.0.0", [0, 0, 0, 0]],
    ["255.255.255.255", [255, 255, 255, 255]],
    ["192.0.2.1", [192, 0, 2, 1]],
    ["239.10.20.30", [239, 10, 20, 30]],
    ["10.0.100.199", [10, 0, 100, 199]],
  ];
  for (const [text, bytes] of cases) assert.deepEqual([...parseIpv4(text)], bytes, text);
  const a = parseIpv4("1.2.3.4");
  const b = parseIpv4("1.2.3.4");
  assert.equal(a.length, 4);
  assert.notEqual(a.buffer, b.buffer);
});

Deno.test("parseIpv4() rejects anything but four decimal octets with a message naming the problem", () => {
  const cases: [string, string][] = [
    ["", "expected 4 dot-separated decimal octets like 192.0.2.1, got 1"],
    ["10", "expected 4 dot-separated decimal octets like 192.0.2.1, got 1"],
    ["10.1", "expected 4 dot-separated decimal octets like 192.0.2.1, got 2"],
    ["1.2.3", "expected 4 dot-separated decimal octets like 192.0.2.1, got 3"],
    ["1.2.3.4.5", "expected 4 dot-separated decimal octets like 192.0.2.1, got 5"],
    ["1.2.3.4.", "expected 4 dot-separated decimal octets like 192.0.2.1, got 5"],
    ["::1", "expected 4 dot-separated decimal octets like 192.0.2.1, got 1"],
    ["256.0.0.1", 'octet 1 "256" is above 255'],
    ["1.2.3.1000", 'octet 4 "1000" is above 255'],
    ["01.2.3.4", 'octet 1 "01" has a leading zero, which some tools read as octal'],
    ["1.2.3.00", 'octet 4 "00" has a leading zero, which some tools read as octal'],
    ["1.2.3.0255", 'octet 4 "0255" has a leading zero, which some tools read as octal'],
    ["1..3.4", 'octet 2 "" is not a decimal number from 0 to 255'],
    ["1.2.3.-1", 'octet 4 "-1" is not a decimal number from 0 to 255'],
    ["+1.2.3.4", 'octet 1 "+1" is not a decimal number from 0 to 255'],
    [" 1.2.3.4", 'octet 1 " 1" is not a decimal number from 0 to 255'],
    ["1.2.3.4 ", 'octet 4 "4 " is not a decimal number from 0 to 255'],
    ["1.2.3.4\n", 'octet 4 "4\n" is not a decimal number from 0 to 255'],
    ["0x1.2.3.4", 'octet 1 "0x1" is not a decimal number from 0 to 255'],
    ["1e2.0.0.1", 'octet 1 "1e2" is not a decimal number from 0 to 255'],
    ["1.2.3.4/24", 'octet 4 "4/24" is not a decimal number from 0 to 255'],
    ["1.2.3.٤", 'octet 4 "٤" is not a decimal number from 0 to 255'],
  ];
  for (const [text, problem] of cases) {
    assert.throws(
      () => parseIpv4(text),
      new TypeError(`Invalid IPv4 address "${text}": ${problem}`),
      JSON.stringify(text),
    );
  }
});

Deno.test("formatIpv4() prints a dotted quad read in place, and round-trips parseIpv4()", () => {
  assert.equal(formatIpv4(new Uint8Array([192, 0, 2, 1])), "192.0.2.1");
  const header = knownPacket();
  assert.equal(formatIpv4(header, 12), "192.168.0.1");
  assert.equal(formatIpv4(header, 16), "192.168.0.199");
  for (let i = 0; i < 200; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(4));
    assert.deepEqual(parseIpv4(formatIpv4(bytes)), bytes);
  }
});

Deno.test("IPv4 address helpers reject offsets that do not leave room for 4 bytes", () => {
  const bytes = new Uint8Array([0, 0, 224, 0, 0, 1]);
  for (
    const fn of [formatIpv4, isIpv4Multicast, isIpv4LinkLocalMulticast, ipv4MulticastMac]
  ) {
    for (const offset of [-1, 0.5, NaN, 3, 6]) {
      assert.throws(
        () => fn(bytes, offset),
        new RangeError(
          `IPv4 address at offset ${offset} is out of bounds: it needs 4 bytes and the buffer has 6`,
        ),
      );
    }
    fn(bytes, 2); // the last offset that fits
  }
});

Deno.test("isIpv4Multicast() is true exactly for 224.0.0.0/4", () => {
  const cases: [string, boolean][] = [
    ["223.255.255.255", false],
    ["224.0.0.0", true],
    ["224.0.0.1", true],
    ["239.10.20.30", true],
    ["239.255.255.255", true],
    ["240.0.0.0", false],
    ["255.255.255.255", false],
    ["10.0.0.1", false],
  ];
  for (const [text, multicast] of cases) assert.equal(isIpv4Multicast(parseIpv4(text)), multicast);
  const frame = new Uint8Array(20);
  frame.set(GROUP, 16);
  assert.equal(isIpv4Multicast(frame, 16), true);
  assert.equal(isIpv4Multicast(frame, 12), false);
});

Deno.test("isIpv4LinkLocalMulticast() is true exactly for 224.0.0.0/24", () => {
  const cases: [string, boolean][] = [
    ["224.0.0.0", true],
    ["224.0.0.22", true],
    ["224.0.0.255", true],
    ["224.0.1.0", false],
    ["224.1.0.1", false],
    ["239.0.0.1", false],
    ["225.0.0.1", false],
    ["0.0.0.1", false],
  ];
  for (const [text, linkLocal] of cases) {
    assert.equal(isIpv4LinkLocalMulticast(parseIpv4(text)), linkLocal, text);
  }
});

Deno.test("ipv4MulticastMac() maps the low 23 bits of a group under 01:00:5e", () => {
  const cases: [string, string][] = [
    ["224.0.0.1", "01:00:5e:00:00:01"],
    ["224.0.0.251", "01:00:5e:00:00:fb"],
    ["239.10.20.30", "01:00:5e:0a:14:1e"],
    ["224.138.20.30", "01:00:5e:0a:14:1e"], // the 24th bit is dropped
    ["239.255.255.255", "01:00:5e:7f:ff:ff"],
    ["232.128.0.0", "01:00:5e:00:00:00"],
  ];
  for (const [group, mac] of cases) {
    assert.equal(formatMac(ipv4MulticastMac(parseIpv4(group))), mac);
  }
  const frame = new Uint8Array(20);
  frame.set(GROUP, 16);
  const mac = ipv4MulticastMac(frame, 16);
  assert.equal(formatMac(mac), "01:00:5e:0a:14:1e");
  assert.notEqual(mac.buffer, frame.buffer);
});

Deno.test("ipv4MulticastMac() refuses unicast and broadcast addresses", () => {
  for (const text of ["192.0.2.1", "223.255.255.255", "240.0.0.1", "255.255.255.255"]) {
    assert.throws(
      () => ipv4MulticastMac(parseIpv4(text)),
      new RangeError(
        `Invalid IPv4 multicast group "${text}": expected an address in 224.0.0.0/4`,
      ),
    );
  }
});

Deno.test("encodeIpv4() reproduces a real header and its checksum 0xb861", () => {
  const packet = encodeIpv4({
    src: parseIpv4("192.168.0.1"),
    dst: parseIpv4("192.168.0.199"),
    protocol: IpProtocol.UDP,
    ttl: 64,
    dontFragment: true,
    payload: new Uint8Array(95),
  });
  assert.deepEqual(packet, knownPacket());
});

Deno.test("encodeIpv4() writes every field and defaults TOS, ID and DF to zero", () => {
  const payload = new Uint8Array([1, 2, 3, 4, 5]);
  const plain = encodeIpv4({ src: SRC, dst: GROUP, protocol: 17, ttl: 8, payload });
  const header = plain.slice(0, 20);
  setWord(header, 10, 0);
  assert.deepEqual([...header], [0x45, 0, 0, 25, 0, 0, 0, 0, 8, 17, 0, 0, ...SRC, ...GROUP]);
  assert.equal(word(plain, 10), internetChecksum(header));
  assert.deepEqual([...plain.subarray(20)], [1, 2, 3, 4, 5]);

  const full = encodeIpv4({
    src: SRC,
    dst: GROUP,
    protocol: 2,
    ttl: 255,
    payload,
    tos: 0xb8,
    id: 0xbeef,
    dontFragment: true,
  });
  assert.equal(full[1], 0xb8);
  assert.equal(word(full, 4), 0xbeef);
  assert.equal(word(full, 6), 0x4000);
  assert.equal(full[8], 255);
  assert.equal(full[9], 2);
  assert.equal(internetChecksum(full, 0, 20), 0);
  // The payload is copied, not referenced.
  payload[0] = 99;
  assert.equal(full[20], 1);
});

Deno.test("encodeIpv4() accepts TTL 0 and the longest payload, an empty one too", () => {
  const zero = encodeIpv4({ src: SRC, dst: SRC, protocol: 0, ttl: 0, payload: new Uint8Array() });
  assert.equal(zero.length, 20);
  assert.equal(zero[8], 0);
  assert.equal(decodeIpv4(zero).payload.length, 0);
  const longest = encodeIpv4({
    src: SRC,
    dst: SRC,
    protocol: 17,
    ttl: 1,
    payload: new Uint8Array(65515),
  });
  assert.equal(word(longest, 2), 65535);
  assert.equal(decodeIpv4(longest).payload.length, 65515);
});

Deno.test("encodeIpv4() rejects bad addresses, out-of-range fields and oversized payloads", () => {
  const good = { src: SRC, dst: GROUP, protocol: 17, ttl: 8, payload: new Uint8Array(4) };
  const cases: [Partial<Parameters<typeof encodeIpv4>[0]>, string][] = [
    [{ src: new Uint8Array(16) }, "Invalid IPv4 source address: expected 4 bytes, got 16"],
    [{ dst: new Uint8Array(3) }, "Invalid IPv4 destination address: expected 4 bytes, got 3"],
    [{ protocol: 256 }, 'Invalid IP protocol "256": expected an integer from 0 to 255'],
    [{ protocol: -1 }, 'Invalid IP protocol "-1": expected an integer from 0 to 255'],
    [{ ttl: 256 }, 'Invalid IPv4 TTL "256": expected an integer from 0 to 255'],
    [{ ttl: 1.5 }, 'Invalid IPv4 TTL "1.5": expected an integer from 0 to 255'],
    [{ ttl: NaN }, 'Invalid IPv4 TTL "NaN": expected an integer from 0 to 255'],
    [{ tos: 0x100 }, 'Invalid IPv4 type of service "256": expected an integer from 0 to 255'],
    [{ id: 0x10000 }, 'Invalid IPv4 identification "65536": expected an integer from 0 to 65535'],
    [
      { payload: new Uint8Array(65516) },
      "IPv4 payload of 65516 bytes is too long: at most 65515 fit after a 20-byte header",
    ],
  ];
  for (const [override, message] of cases) {
    assert.throws(() => encodeIpv4({ ...good, ...override }), new RangeError(message));
  }
});

Deno.test("decodeIpv4() reads every field of a real header", () => {
  const ip = decodeIpv4(knownPacket());
  assert.deepEqual(
    {
      ...ip,
      src: formatIpv4(ip.src),
      dst: formatIpv4(ip.dst),
      options: [...ip.options],
      payload: ip.payload.length,
    },
    {
      version: 4,
      headerLength: 20,
      tos: 0,
      totalLength: 115,
      id: 0,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 17,
      checksum: 0xb861,
      src: "192.168.0.1",
      dst: "192.168.0.199",
      options: [],
      payload: 95,
    },
  );
});

Deno.test("decodeIpv4() returns views and leaves link-layer padding out of the payload", () => {
  const packet = encodeIpv4({
    src: SRC,
    dst: GROUP,
    protocol: 17,
    ttl: 8,
    payload: new Uint8Array([7, 8, 9]),
  });
  // As in a 60-byte Ethernet frame: the 23-byte packet is followed by padding.
  const frame = new Uint8Array(60).fill(0xee);
  frame.set(packet, 14);
  const ip = decodeIpv4(frame.subarray(14));
  assert.equal(ip.totalLength, 23);
  assert.deepEqual([...ip.payload], [7, 8, 9]);
  assert.equal(ip.src.buffer, frame.buffer);
  assert.equal(ip.dst.byteOffset, 30);
  assert.equal(ip.payload.byteOffset, 34);
  frame[34] = 70;
  assert.equal(ip.payload[0], 70);
});

Deno.test("decodeIpv4() returns options (a Router Alert) as a view and the payload after them", () => {
  // An IGMPv3 report as hosts send it: IHL 6 with the Router Alert option 94 04 00 00.
  const packet = new Uint8Array(32);
  packet.set([0x46, 0xc0, 0, 32, 0, 0, 0, 0, 1, IpProtocol.IGMP]);
  packet.set([192, 0, 2, 1, 224, 0, 0, 22], 12);
  packet.set([0x94, 0x04, 0x00, 0x00], 20);
  packet.set([0x22, 0, 0xdd, 0xff, 0, 0, 0, 0], 24);
  fixChecksum(packet);
  const ip = decodeIpv4(packet);
  assert.equal(ip.headerLength, 24);
  assert.equal(ip.tos, 0xc0);
  assert.deepEqual([...ip.options], [0x94, 0x04, 0x00, 0x00]);
  assert.equal(ip.options.buffer, packet.buffer);
  assert.deepEqual([...ip.payload], [0x22, 0, 0xdd, 0xff, 0, 0, 0, 0]);
  assert.equal(isIpv4LinkLocalMulticast(ip.dst), true);
});

Deno.test("decodeIpv4() accepts the longest header: 40 bytes of options", () => {
  const packet = new Uint8Array(60);
  packet.set([0x4f, 0, 0, 60, 0, 0, 0, 0, 1, 17]);
  packet.fill(0x01, 20); // NOP options
  fixChecksum(packet);
  const ip = decodeIpv4(packet);
  assert.equal(ip.headerLength, 60);
  assert.equal(ip.options.length, 40);
  assert.equal(ip.payload.length, 0);
});

Deno.test("decodeIpv4() leaves fragments as they are and reports MF and the offset in bytes", () => {
  const first = encodeIpv4({
    src: SRC,
    dst: GROUP,
    protocol: 17,
    ttl: 8,
    payload: new Uint8Array(16),
  });
  setWord(first, 6, 0x2000); // MF, offset 0
  const firstIp = decodeIpv4(fixChecksum(first));
  assert.equal(firstIp.moreFragments, true);
  assert.equal(firstIp.dontFragment, false);
  assert.equal(firstIp.fragmentOffset, 0);
  const last = encodeIpv4({
    src: SRC,
    dst: GROUP,
    protocol: 17,
    ttl: 8,
    payload: new Uint8Array(3),
  });
  setWord(last, 6, 0x1fff); // no MF, the largest offset
  const lastIp = decodeIpv4(fixChecksum(last));
  assert.equal(lastIp.moreFragments, false);
  assert.equal(lastIp.fragmentOffset, 0x1fff * 8);
  assert.equal(lastIp.payload.length, 3);
});

Deno.test("decodeIpv4() rejects packets shorter than a header", () => {
  for (const length of [0, 1, 19]) {
    assertMalformed(
      () => decodeIpv4(knownPacket().subarray(0, length)),
      "truncated_ipv4_header",
      `IPv4 packet too short: ${length} bytes, a header needs 20`,
    );
  }
});

Deno.test("decodeIpv4() rejects versions other than 4", () => {
  for (const version of [0, 6, 15]) {
    const packet = knownPacket();
    packet[0] = (version << 4) | 5;
    assertMalformed(
      () => decodeIpv4(packet),
      "bad_ipv4_version",
      `IPv4 header has version "${version}", expected 4`,
    );
  }
});

Deno.test("decodeIpv4() rejects a header length field below 5", () => {
  for (const ihl of [0, 4]) {
    const packet = knownPacket();
    packet[0] = 0x40 | ihl;
    assertMalformed(
      () => decodeIpv4(packet),
      "bad_ipv4_header_length",
      `IPv4 header length field (IHL) is "${ihl}": it must be at least 5 (20 bytes)`,
    );
  }
});

Deno.test("decodeIpv4() rejects options cut off by the end of the buffer", () => {
  const packet = knownPacket().subarray(0, 23);
  packet[0] = 0x46;
  assertMalformed(
    () => decodeIpv4(packet),
    "truncated_ipv4_header",
    "IPv4 packet too short: 23 bytes, its header with options needs 24",
  );
});

Deno.test("decodeIpv4() rejects a total length shorter than the header", () => {
  for (const total of [0, 19]) {
    const packet = knownPacket();
    setWord(packet, 2, total);
    assertMalformed(
      () => decodeIpv4(fixChecksum(packet)),
      "bad_ipv4_total_length",
      `IPv4 total length "${total}" is shorter than its 20-byte header`,
    );
  }
});

Deno.test("decodeIpv4() rejects a total length beyond the end of the buffer", () => {
  assertMalformed(
    () => decodeIpv4(knownPacket().subarray(0, 114)),
    "truncated_ipv4_packet",
    "IPv4 packet truncated: its total length is 115 bytes, only 114 are present",
  );
  assert.equal(decodeIpv4(knownPacket().subarray(0, 115)).payload.length, 95);
});

Deno.test("decodeIpv4() rejects a bad header checksum and says what it should be", () => {
  const wrongField = knownPacket();
  setWord(wrongField, 10, 0xb862);
  assertMalformed(
    () => decodeIpv4(wrongField),
    "bad_ipv4_checksum",
    "IPv4 header checksum is 0xb862, expected 0xb861",
  );
  // A router that decrements the TTL without updating the checksum.
  const staleChecksum = knownPacket();
  staleChecksum[8] = 63;
  const expected = updateChecksum(0xb861, 0x4011, 0x3f11);
  assertMalformed(
    () => decodeIpv4(staleChecksum),
    "bad_ipv4_checksum",
    `IPv4 header checksum is 0xb861, expected 0x${expected.toString(16)}`,
  );
  setWord(staleChecksum, 10, expected);
  assert.equal(decodeIpv4(staleChecksum).ttl, 63);
  // The header checksum does not cover the payload.
  const packet = knownPacket();
  packet[50] = 0xff;
  assert.equal(decodeIpv4(packet).payload[30], 0xff);
});
