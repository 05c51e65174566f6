import assert from "node:assert/strict";
import { MalformedPacketError } from "./errors.ts";
import {
  decodeIpv6,
  encodeIpv6,
  formatIpv6,
  IPV6_ADDRESS_LEN,
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_HEADER_LEN,
  IPV6_MAX_PAYLOAD_LEN,
  IPV6_UNSPECIFIED,
  ipv6Equals,
  ipv6MulticastMac,
  Ipv6MulticastScope,
  ipv6MulticastScope,
  isIpv6LinkLocal,
  isIpv6Multicast,
  isIpv6Unspecified,
  linkLocalFromMac,
  MAX_FLOW_LABEL,
  parseIpv6,
  solicitedNodeMulticast,
} from "./ipv6.ts";
import { formatMac, parseMac } from "./mac.ts";

/** The address as 32 lowercase hex digits, for compact expectations. */
function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(digits: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(digits.match(/../g)!.map((pair) => parseInt(pair, 16)));
}

function assertMalformed(fn: () => unknown, reason: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  });
}

const SRC = parseIpv6("2001:db8::1");
const GROUP = parseIpv6("ff0e::1:2:3");

Deno.test("IPv6 constants and multicast scopes hold the standard values", () => {
  assert.equal(IPV6_ADDRESS_LEN, 16);
  assert.equal(IPV6_HEADER_LEN, 40);
  assert.equal(IPV6_MAX_PAYLOAD_LEN, 65535);
  assert.equal(MAX_FLOW_LABEL, 0xfffff);
  assert.deepEqual(Ipv6MulticastScope, {
    INTERFACE_LOCAL: 1,
    LINK_LOCAL: 2,
    REALM_LOCAL: 3,
    ADMIN_LOCAL: 4,
    SITE_LOCAL: 5,
    ORGANIZATION_LOCAL: 8,
    GLOBAL: 14,
  });
});

Deno.test("parseIpv6() reads every RFC 4291 text form", () => {
  const cases: [string, string][] = [
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["1::", "00010000000000000000000000000000"],
    ["1::1", "00010000000000000000000000000001"],
    ["::ffff:192.0.2.1", "00000000000000000000ffffc0000201"],
    ["2001:db8::1:0:0:1", "20010db8000000000001000000000001"],
    // RFC 4291 section 2.2's examples, full and compressed.
    ["2001:DB8:0:0:8:800:200C:417A", "20010db80000000000080800200c417a"],
    ["2001:DB8::8:800:200C:417A", "20010db80000000000080800200c417a"],
    ["FF01:0:0:0:0:0:0:101", "ff010000000000000000000000000101"],
    ["FF01::101", "ff010000000000000000000000000101"],
    ["0:0:0:0:0:0:0:1", "00000000000000000000000000000001"],
    ["0:0:0:0:0:0:0:0", "00000000000000000000000000000000"],
    ["0:0:0:0:0:0:13.1.68.3", "0000000000000000000000000d014403"],
    ["::13.1.68.3", "0000000000000000000000000d014403"],
    ["0:0:0:0:0:FFFF:129.144.52.38", "00000000000000000000ffff81903426"],
    ["::FFFF:129.144.52.38", "00000000000000000000ffff81903426"],
    ["ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcdef0123456789abcdef0123456789"],
    // "::" standing for a single group, at either end or inside.
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["1:2:3::5:6:7:8", "00010002000300000005000600070008"],
    // IPv4 tails after six groups or any compression.
    ["1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"],
    ["1::1.2.3.4", "00010000000000000000000001020304"],
    ["1:2:3:4:5::1.2.3.4", "00010002000300040005000001020304"],
    ["::0.0.0.0", "00000000000000000000000000000000"],
    // Leading zeros in groups and mixed case.
    ["0001:0002::000a", "0001000200000000000000000000000a"],
    ["fE80::aBc", "fe800000000000000000000000000abc"],
    ["ff0e::1:2:3", "ff0e0000000000000000000100020003"],
  ];
  for (const [text, digits] of cases) assert.equal(hex(parseIpv6(text)), digits, text);
  const a = parseIpv6("::1");
  assert.equal(a.length, 16);
  assert.notEqual(a.buffer, parseIpv6("::1").buffer);
});

Deno.test("parseIpv6() rejects malformed text with a message naming the problem", () => {
  const cases: [string, string][] = [
    ["", 'expected hex groups separated by ":", like 2001:db8::1'],
    ["1.2.3.4", 'expected hex groups separated by ":", like 2001:db8::1'],
    ["fe80", 'expected hex groups separated by ":", like 2001:db8::1'],
    [":", 'empty group (a single ":" at the start or end, or ":::")'],
    [":::", 'empty group (a single ":" at the start or end, or ":::")'],
    ["1:::2", 'empty group (a single ":" at the start or end, or ":::")'],
    [":1:2:3:4:5:6:7", 'empty group (a single ":" at the start or end, or ":::")'],
    ["1:2:3:4:5:6:7:", 'empty group (a single ":" at the start or end, or ":::")'],
    [":1::", 'empty group (a single ":" at the start or end, or ":::")'],
    ["::1:", 'empty group (a single ":" at the start or end, or ":::")'],
    ["1::2::3", '"::" may appear only once'],
    ["::::", '"::" may appear only once'],
    ["1:2:3:4:5:6:7", 'expected 8 groups (or "::" for a run of zero groups), got 7'],
    ["1:2:3:4:5:6:7:8:9", 'expected 8 groups (or "::" for a run of zero groups), got 9'],
    ["1:2:3:4:5:6:7:1.2.3.4", 'expected 8 groups (or "::" for a run of zero groups), got 9'],
    ["1:2:3:4:5:1.2.3.4", 'expected 8 groups (or "::" for a run of zero groups), got 7'],
    [
      "1:2:3:4:5:6:7:8::",
      '"::" must stand for at least one zero group, but 8 groups are already given',
    ],
    [
      "::1:2:3:4:5:6:7:8",
      '"::" must stand for at least one zero group, but 8 groups are already given',
    ],
    [
      "1:2:3:4::5:6:1.2.3.4",
      '"::" must stand for at least one zero group, but 8 groups are already given',
    ],
    ["12345::", 'group "12345" has more than 4 hex digits'],
    ["::00000", 'group "00000" has more than 4 hex digits'],
    ["g::", 'group "g" is not hexadecimal'],
    ["0x1::", 'group "0x1" is not hexadecimal'],
    ["+1::", 'group "+1" is not hexadecimal'],
    ["-1::", 'group "-1" is not hexadecimal'],
    [" ::1", 'group " " is not hexadecimal'],
    ["::1 ", 'group "1 " is not hexadecimal'],
    ["[::1]", 'group "[" is not hexadecimal'],
    ["2001:db8::/64", 'group "/64" is not hexadecimal'],
    ["1.2.3.4::", 'the embedded IPv4 address "1.2.3.4" must come last'],
    ["::1.2.3.4:5", 'the embedded IPv4 address "1.2.3.4" must come last'],
    ["1:2:3:4:5:6:1.2.3.4:8", 'the embedded IPv4 address "1.2.3.4" must come last'],
    [
      "fe80::1%eth0",
      'zone index "%eth0" is not accepted here: give the address without it and name the interface separately',
    ],
    [
      "fe80::1%",
      'zone index "%" is not accepted here: give the address without it and name the interface separately',
    ],
  ];
  for (const [text, problem] of cases) {
    assert.throws(
      () => parseIpv6(text),
      new TypeError(`Invalid IPv6 address "${text}": ${problem}`),
      JSON.stringify(text),
    );
  }
});

Deno.test("parseIpv6() names an invalid embedded IPv4 address and keeps IPv4's reason as the cause", () => {
  const cases: [string, string, string][] = [
    ["::1.2.3", "1.2.3", "expected 4 dot-separated decimal octets like 192.0.2.1, got 3"],
    ["::ffff:256.0.0.1", "256.0.0.1", 'octet 1 "256" is above 255'],
    [
      "::ffff:1.2.3.04",
      "1.2.3.04",
      'octet 4 "04" has a leading zero, which some tools read as octal',
    ],
    ["::1.2.3.4.5", "1.2.3.4.5", "expected 4 dot-separated decimal octets like 192.0.2.1, got 5"],
  ];
  for (const [text, tail, cause] of cases) {
    assert.throws(() => parseIpv6(text), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.equal(
        err.message,
        `Invalid IPv6 address "${text}": the embedded IPv4 address "${tail}" is not four decimal octets 0-255 without leading zeros`,
      );
      assert.ok(err.cause instanceof TypeError);
      assert.equal(err.cause.message, `Invalid IPv4 address "${tail}": ${cause}`);
      return true;
    });
  }
});

Deno.test("formatIpv6() follows the RFC 5952 examples", () => {
  const cases: [string, string][] = [
    // 4.1: no leading zeros.
    ["2001:0db8::0001", "2001:db8::1"],
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"],
    // 4.2.1: shorten as much as possible.
    ["2001:db8:0:0:0:0:2:1", "2001:db8::2:1"],
    // 4.2.2: never "::" for a single zero group.
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    // 4.2.3: the longest run; the first one on a tie.
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    // 4.3: lowercase.
    ["2001:DB8::ABCD:EF", "2001:db8::abcd:ef"],
    // Both ends and the extremes.
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["1:0:0:0:0:0:0:1", "1::1"],
    ["0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"],
    ["1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"],
    ["0:0:1:0:0:0:1:0", "0:0:1::1:0"],
    ["1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"],
    ["1:2:3:4:5:6:0:0", "1:2:3:4:5:6::"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    ["ff0e:0:0:0:0:1:2:3", "ff0e::1:2:3"],
    ["fe80:0:0:0:0:0:0:1", "fe80::1"],
    // Section 5: IPv4-mapped addresses end in a dotted quad; nothing else does.
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
    ["0:0:0:0:0:ffff:0:0", "::ffff:0.0.0.0"],
    ["::fffe:c000:201", "::fffe:c000:201"],
    ["::1:ffff:c000:201", "::1:ffff:c000:201"],
    ["::c000:201", "::c000:201"],
    ["64:ff9b::c000:201", "64:ff9b::c000:201"],
  ];
  for (const [text, canonical] of cases) assert.equal(formatIpv6(parseIpv6(text)), canonical, text);
});

Deno.test("formatIpv6() reads in place and round-trips parseIpv6() on random addresses", () => {
  const packet = new Uint8Array(40);
  packet.set(SRC, 8);
  packet.set(GROUP, 24);
  assert.equal(formatIpv6(packet, 8), "2001:db8::1");
  assert.equal(formatIpv6(packet, 24), "ff0e::1:2:3");
  for (let i = 0; i < 500; i++) {
    // Random words, many of them zero so that runs of every length occur.
    const address = crypto.getRandomValues(new Uint8Array(16));
    for (let w = 0; w < 8; w++) if (Math.random() < 0.5) address.fill(0, 2 * w, 2 * w + 2);
    const text = formatIpv6(address);
    assert.deepEqual(parseIpv6(text), address, text);
    assert.equal(text, text.toLowerCase());
    assert.ok(!/(^|:)0[0-9a-f]/.test(text), `leading zero in ${text}`);
  }
});

Deno.test("IPv6 address helpers reject offsets that do not leave room for 16 bytes", () => {
  const bytes = new Uint8Array(20);
  bytes[2] = 0xff;
  for (const fn of [formatIpv6, isIpv6Multicast, ipv6MulticastScope, ipv6MulticastMac]) {
    for (const offset of [-1, 0.5, NaN, 5, 20]) {
      assert.throws(
        () => fn(bytes, offset),
        new RangeError(
          `IPv6 address at offset ${offset} is out of bounds: it needs 16 bytes and the buffer has 20`,
        ),
      );
    }
    fn(bytes, 2); // the last offset that fits
  }
});

Deno.test("isIpv6Multicast() is true exactly for ff00::/8", () => {
  const cases: [string, boolean][] = [
    ["ff00::", true],
    ["ff02::1", true],
    ["ff0e::1:2:3", true],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    ["feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false],
    ["fe80::1", false],
    ["::ffff:239.1.1.1", false],
    ["::", false],
  ];
  for (const [text, multicast] of cases) {
    assert.equal(isIpv6Multicast(parseIpv6(text)), multicast, text);
  }
});

Deno.test("ipv6MulticastScope() returns the low 4 bits of the second byte, whatever the flags", () => {
  const cases: [string, number][] = [
    ["ff01::1", Ipv6MulticastScope.INTERFACE_LOCAL],
    ["ff02::1", Ipv6MulticastScope.LINK_LOCAL],
    ["ff02::1:ff00:1", Ipv6MulticastScope.LINK_LOCAL],
    ["ff04::1", Ipv6MulticastScope.ADMIN_LOCAL],
    ["ff05::1:3", Ipv6MulticastScope.SITE_LOCAL],
    ["ff08::1", Ipv6MulticastScope.ORGANIZATION_LOCAL],
    ["ff0e::1:2:3", Ipv6MulticastScope.GLOBAL],
    ["ff3e::8000:1", Ipv6MulticastScope.GLOBAL], // SSM: flags P and T set
    ["ff12::1", Ipv6MulticastScope.LINK_LOCAL], // transient
    ["ff00::", 0],
    ["ff0f::", 15],
  ];
  for (const [text, scope] of cases) assert.equal(ipv6MulticastScope(parseIpv6(text)), scope, text);
});

Deno.test("ipv6MulticastMac() maps the low 32 bits of a group under 33:33", () => {
  const cases: [string, string][] = [
    ["ff02::1", "33:33:00:00:00:01"],
    ["ff02::1:ff00:1", "33:33:ff:00:00:01"],
    ["ff0e::1:2:3", "33:33:00:02:00:03"],
    ["ff05::abcd:ef01", "33:33:ab:cd:ef:01"],
    ["ff3e::ffff:ffff", "33:33:ff:ff:ff:ff"],
  ];
  for (const [group, mac] of cases) {
    assert.equal(formatMac(ipv6MulticastMac(parseIpv6(group))), mac);
  }
  const packet = new Uint8Array(40);
  packet.set(GROUP, 24);
  const mac = ipv6MulticastMac(packet, 24);
  assert.equal(formatMac(mac), "33:33:00:02:00:03");
  assert.notEqual(mac.buffer, packet.buffer);
});

Deno.test("ipv6MulticastScope() and ipv6MulticastMac() refuse unicast addresses", () => {
  for (const text of ["2001:db8::1", "fe80::1", "::", "feff::1"]) {
    for (const fn of [ipv6MulticastScope, ipv6MulticastMac]) {
      assert.throws(
        () => fn(parseIpv6(text)),
        new RangeError(`Invalid IPv6 multicast group "${text}": expected an address in ff00::/8`),
      );
    }
  }
});

Deno.test("encodeIpv6() writes the fixed header bit for bit", () => {
  const packet = encodeIpv6({
    src: SRC,
    dst: GROUP,
    nextHeader: 17,
    hopLimit: 8,
    payload: new Uint8Array([1, 2, 3]),
    trafficClass: 0xb8, // DSCP EF
    flowLabel: 0xabcde,
  });
  assert.equal(
    hex(packet),
    "6b8abcde" + "0003" + "11" + "08" + hex(SRC) + hex(GROUP) + "010203",
  );
  const plain = encodeIpv6({
    src: SRC,
    dst: GROUP,
    nextHeader: 58,
    hopLimit: 255,
    payload: new Uint8Array(),
  });
  assert.equal(hex(plain.subarray(0, 8)), "60000000" + "0000" + "3a" + "ff");
  assert.equal(plain.length, 40);
});

Deno.test("encodeIpv6() and decodeIpv6() round-trip every field", () => {
  // Traffic class and flow label share bytes 0..3 with the version: try each nibble alone.
  const fields: [number, number][] = [[0, 0], [0xff, MAX_FLOW_LABEL], [0x0f, 0xf0000], [
    0xf0,
    0xffff,
  ]];
  for (const [trafficClass, flowLabel] of fields) {
    const payload = crypto.getRandomValues(new Uint8Array(37));
    const packet = encodeIpv6({
      src: SRC,
      dst: GROUP,
      nextHeader: 0,
      hopLimit: 1,
      payload,
      trafficClass,
      flowLabel,
    });
    const ip = decodeIpv6(packet);
    assert.deepEqual(
      { ...ip, src: formatIpv6(ip.src), dst: formatIpv6(ip.dst), payload: [...ip.payload] },
      {
        version: 6,
        trafficClass,
        flowLabel,
        payloadLength: 37,
        nextHeader: 0,
        hopLimit: 1,
        src: "2001:db8::1",
        dst: "ff0e::1:2:3",
        payload: [...payload],
      },
    );
  }
});

Deno.test("encodeIpv6() accepts the longest payload", () => {
  const packet = encodeIpv6({
    src: SRC,
    dst: SRC,
    nextHeader: 59,
    hopLimit: 0,
    payload: new Uint8Array(65535),
  });
  assert.equal(decodeIpv6(packet).payloadLength, 65535);
});

Deno.test("encodeIpv6() rejects bad addresses, out-of-range fields and oversized payloads", () => {
  const good = { src: SRC, dst: GROUP, nextHeader: 17, hopLimit: 8, payload: new Uint8Array(4) };
  const cases: [Partial<Parameters<typeof encodeIpv6>[0]>, string][] = [
    [{ src: new Uint8Array(4) }, "Invalid IPv6 source address: expected 16 bytes, got 4"],
    [{ dst: new Uint8Array(17) }, "Invalid IPv6 destination address: expected 16 bytes, got 17"],
    [{ nextHeader: 256 }, 'Invalid IPv6 next header "256": expected an integer from 0 to 0xff'],
    [{ hopLimit: -1 }, 'Invalid IPv6 hop limit "-1": expected an integer from 0 to 0xff'],
    [{ hopLimit: 2.5 }, 'Invalid IPv6 hop limit "2.5": expected an integer from 0 to 0xff'],
    [
      { trafficClass: 256 },
      'Invalid IPv6 traffic class "256": expected an integer from 0 to 0xff',
    ],
    [
      { flowLabel: 0x100000 },
      'Invalid IPv6 flow label "1048576": expected an integer from 0 to 0xfffff',
    ],
    [
      { payload: new Uint8Array(65536) },
      "IPv6 payload of 65536 bytes is too long: at most 65535 fit (jumbograms are not supported)",
    ],
  ];
  for (const [override, message] of cases) {
    assert.throws(() => encodeIpv6({ ...good, ...override }), new RangeError(message));
  }
});

Deno.test("decodeIpv6() returns views and leaves trailing bytes out of the payload", () => {
  const packet = encodeIpv6({
    src: SRC,
    dst: GROUP,
    nextHeader: 17,
    hopLimit: 8,
    payload: new Uint8Array([7, 8, 9]),
  });
  const buffer = new Uint8Array(100).fill(0xee);
  buffer.set(packet, 14);
  const ip = decodeIpv6(buffer.subarray(14));
  assert.deepEqual([...ip.payload], [7, 8, 9]);
  assert.equal(ip.src.buffer, buffer.buffer);
  assert.equal(ip.src.byteOffset, 22);
  assert.equal(ip.dst.byteOffset, 38);
  assert.equal(ip.payload.byteOffset, 54);
  buffer[54] = 70;
  assert.equal(ip.payload[0], 70);
});

Deno.test("decodeIpv6() reports extension headers as the next header without walking them", () => {
  // A Hop-by-Hop header with Router Alert (as MLD uses), then ICMPv6.
  const hopByHop = fromHex("3a00" + "05020000" + "0100");
  const packet = encodeIpv6({
    src: parseIpv6("fe80::1"),
    dst: parseIpv6("ff02::16"),
    nextHeader: 0,
    hopLimit: 1,
    payload: hopByHop,
  });
  const ip = decodeIpv6(packet);
  assert.equal(ip.nextHeader, 0);
  assert.deepEqual(ip.payload, hopByHop);
});

Deno.test("decodeIpv6() rejects packets shorter than the fixed header", () => {
  const packet = encodeIpv6({
    src: SRC,
    dst: GROUP,
    nextHeader: 17,
    hopLimit: 8,
    payload: new Uint8Array(),
  });
  for (const length of [0, 1, 39]) {
    assertMalformed(
      () => decodeIpv6(packet.subarray(0, length)),
      "truncated_ipv6_header",
      `IPv6 packet too short: ${length} bytes, a header needs 40`,
    );
  }
  assert.equal(decodeIpv6(packet).payloadLength, 0);
});

Deno.test("decodeIpv6() rejects versions other than 6", () => {
  for (const version of [0, 4, 15]) {
    const packet = encodeIpv6({
      src: SRC,
      dst: GROUP,
      nextHeader: 17,
      hopLimit: 8,
      payload: new Uint8Array(),
    });
    packet[0] = (version << 4) | (packet[0]! & 0x0f);
    assertMalformed(
      () => decodeIpv6(packet),
      "bad_ipv6_version",
      `IPv6 header has version "${version}", expected 6`,
    );
  }
});

Deno.test("decodeIpv6() rejects a payload length beyond the end of the buffer", () => {
  const packet = encodeIpv6({
    src: SRC,
    dst: GROUP,
    nextHeader: 17,
    hopLimit: 8,
    payload: new Uint8Array(10),
  });
  assertMalformed(
    () => decodeIpv6(packet.subarray(0, 49)),
    "truncated_ipv6_packet",
    "IPv6 packet truncated: its payload length is 10 bytes, only 9 follow the header",
  );
  assertMalformed(
    () => decodeIpv6(packet.subarray(0, 40)),
    "truncated_ipv6_packet",
    "IPv6 packet truncated: its payload length is 10 bytes, only 0 follow the header",
  );
});

Deno.test("IPv6 well-known addresses and address tests", () => {
  assert.equal(formatIpv6(IPV6_UNSPECIFIED), "::");
  assert.equal(formatIpv6(IPV6_ALL_NODES), "ff02::1");
  assert.equal(formatIpv6(IPV6_ALL_ROUTERS), "ff02::2");
  assert.ok(isIpv6Unspecified(IPV6_UNSPECIFIED));
  assert.ok(!isIpv6Unspecified(parseIpv6("::1")));
  assert.ok(isIpv6LinkLocal(parseIpv6("fe80::1")));
  assert.ok(isIpv6LinkLocal(parseIpv6("febf:ffff::1")));
  assert.ok(!isIpv6LinkLocal(parseIpv6("fec0::1")));
  assert.ok(!isIpv6LinkLocal(parseIpv6("2001:db8::1")));
  const both = new Uint8Array(33);
  both.set(parseIpv6("2001:db8::7"), 1);
  assert.ok(ipv6Equals(both, 1, parseIpv6("2001:db8::7"), 0));
  assert.ok(!ipv6Equals(both, 0, parseIpv6("2001:db8::7"), 0));
  assert.throws(() => isIpv6Unspecified(new Uint8Array(15)), RangeError);
  assert.throws(() => ipv6Equals(both, 18, IPV6_UNSPECIFIED, 0), RangeError);
});

Deno.test("solicitedNodeMulticast() keeps the low 24 bits under ff02::1:ff00:0/104", () => {
  assert.equal(
    formatIpv6(solicitedNodeMulticast(parseIpv6("fe80::5054:ff:fe12:3401"))),
    "ff02::1:ff12:3401",
  );
  assert.equal(formatIpv6(solicitedNodeMulticast(parseIpv6("2001:db8::1"))), "ff02::1:ff00:1");
  const packed = new Uint8Array(20);
  packed.set(parseIpv6("::abcd:ef01"), 4);
  assert.equal(formatIpv6(solicitedNodeMulticast(packed, 4)), "ff02::1:ffcd:ef01");
});

Deno.test("linkLocalFromMac() forms the modified EUI-64 link-local address (RFC 4291 appendix A)", () => {
  assert.equal(
    formatIpv6(linkLocalFromMac(parseMac("52:54:00:12:34:01"))),
    "fe80::5054:ff:fe12:3401",
  );
  // The universal/local bit flips both ways.
  assert.equal(
    formatIpv6(linkLocalFromMac(parseMac("00:1b:21:aa:bb:cc"))),
    "fe80::21b:21ff:feaa:bbcc",
  );
  assert.equal(formatIpv6(linkLocalFromMac(parseMac("02:00:00:00:00:01"))), "fe80::ff:fe00:1");
  assert.throws(() => linkLocalFromMac(new Uint8Array(8)), RangeError);
});
