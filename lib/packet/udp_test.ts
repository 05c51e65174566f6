import assert from "node:assert/strict";
import { internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum } from "./checksum.ts";
import { MalformedPacketError } from "./errors.ts";
import { parseIpv4 } from "./ipv4.ts";
import { parseIpv6 } from "./ipv6.ts";
import { decodeUdp, encodeUdp, UDP_HEADER_LEN, UDP_MAX_LEN } from "./udp.ts";

const SRC4 = parseIpv4("192.0.2.1");
const GROUP4 = parseIpv4("239.10.20.30");
const SRC6 = parseIpv6("2001:db8::1");
const GROUP6 = parseIpv6("ff0e::1:2:3");
const NETKIT = new TextEncoder().encode("netkit");

function word(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

function setWord(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, "0")}`;
}

function assertMalformed(fn: () => unknown, reason: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  });
}

/**
 * A payload whose datagram checksum computes to 0 (so it is sent as 0xffff): its first word is
 * the checksum of the same datagram with that word zero, which makes the one's complement sum
 * 0xffff.
 */
function zeroChecksumPayload(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const payload = new Uint8Array([0, 0, 1, 2, 3, 4]);
  const first = encodeUdp({ srcPort: 1, dstPort: 2, payload, src, dst });
  payload.set(first.subarray(6, 8));
  return payload;
}

Deno.test("UDP constants hold the RFC 768 values", () => {
  assert.equal(UDP_HEADER_LEN, 8);
  assert.equal(UDP_MAX_LEN, 65535);
});

Deno.test("encodeUdp() over IPv4 matches an independently computed datagram", () => {
  // Checksum computed with a separate implementation and confirmed by Wireshark.
  const datagram = encodeUdp({
    srcPort: 40000,
    dstPort: 5000,
    payload: NETKIT,
    src: SRC4,
    dst: GROUP4,
  });
  assert.deepEqual(
    [...datagram],
    [0x9c, 0x40, 0x13, 0x88, 0x00, 0x0e, 0x3e, 0x9a, ...NETKIT],
  );
});

Deno.test("encodeUdp() over IPv6 matches an independently computed datagram", () => {
  const datagram = encodeUdp({
    srcPort: 40000,
    dstPort: 5000,
    payload: NETKIT,
    src: SRC6,
    dst: GROUP6,
  });
  assert.deepEqual(
    [...datagram],
    [0x9c, 0x40, 0x13, 0x88, 0x00, 0x0e, 0xd6, 0xf5, ...NETKIT],
  );
});

Deno.test("encodeUdp() checksums verify to zero with the pseudo header, odd lengths included", () => {
  for (const length of [0, 1, 2, 7, 8, 99, 1472]) {
    const payload = crypto.getRandomValues(new Uint8Array(length));
    const v4 = encodeUdp({ srcPort: 1234, dstPort: 5678, payload, src: SRC4, dst: GROUP4 });
    assert.equal(v4.length, 8 + length);
    assert.equal(word(v4, 4), 8 + length);
    assert.equal(
      internetChecksum(v4, 0, v4.length, ipv4PseudoHeaderSum(SRC4, GROUP4, 17, v4.length)),
      0,
    );
    const v6 = encodeUdp({ srcPort: 1234, dstPort: 5678, payload, src: SRC6, dst: GROUP6 });
    assert.equal(
      internetChecksum(v6, 0, v6.length, ipv6PseudoHeaderSum(SRC6, GROUP6, 17, v6.length)),
      0,
    );
    assert.deepEqual(v6.subarray(8), payload);
  }
});

Deno.test("encodeUdp() sends a computed checksum of 0 as 0xffff over IPv4 and IPv6", () => {
  for (const [src, dst] of [[SRC4, GROUP4], [SRC6, GROUP6]] as const) {
    const payload = zeroChecksumPayload(src, dst);
    const datagram = encodeUdp({ srcPort: 1, dstPort: 2, payload, src, dst });
    assert.equal(word(datagram, 6), 0xffff);
    assert.equal(decodeUdp(datagram, { src, dst }).checksum, 0xffff);
  }
});

Deno.test("encodeUdp() accepts ports 0 and 65535 and the longest payload", () => {
  const edge = encodeUdp({
    srcPort: 0,
    dstPort: 65535,
    payload: new Uint8Array(),
    src: SRC4,
    dst: SRC4,
  });
  assert.deepEqual([...edge.subarray(0, 6)], [0, 0, 0xff, 0xff, 0, 8]);
  const longest = encodeUdp({
    srcPort: 1,
    dstPort: 2,
    payload: new Uint8Array(65527),
    src: SRC6,
    dst: GROUP6,
  });
  assert.equal(word(longest, 4), 65535);
  assert.equal(decodeUdp(longest, { src: SRC6, dst: GROUP6 }).payload.length, 65527);
});

Deno.test("encodeUdp() rejects bad ports, mixed or odd address lengths and oversized payloads", () => {
  const good = { srcPort: 1, dstPort: 2, payload: new Uint8Array(4), src: SRC4, dst: GROUP4 };
  const cases: [Partial<Parameters<typeof encodeUdp>[0]>, string][] = [
    [{ srcPort: -1 }, 'Invalid UDP source port "-1": expected an integer from 0 to 65535'],
    [{ srcPort: 65536 }, 'Invalid UDP source port "65536": expected an integer from 0 to 65535'],
    [{ dstPort: 1.5 }, 'Invalid UDP destination port "1.5": expected an integer from 0 to 65535'],
    [
      { dst: GROUP6 },
      "Invalid UDP pseudo header addresses: expected two 4-byte (IPv4) or two 16-byte (IPv6) addresses, got 4 and 16 bytes",
    ],
    [
      { src: SRC6 },
      "Invalid UDP pseudo header addresses: expected two 4-byte (IPv4) or two 16-byte (IPv6) addresses, got 16 and 4 bytes",
    ],
    [
      { src: new Uint8Array(6), dst: new Uint8Array(6) },
      "Invalid UDP pseudo header addresses: expected two 4-byte (IPv4) or two 16-byte (IPv6) addresses, got 6 and 6 bytes",
    ],
    [
      { payload: new Uint8Array(65528) },
      "UDP payload of 65528 bytes is too long: at most 65527 fit after the 8-byte header",
    ],
  ];
  for (const [override, message] of cases) {
    assert.throws(() => encodeUdp({ ...good, ...override }), new RangeError(message));
  }
});

Deno.test("decodeUdp() reads the header and returns the payload as a view, trailing bytes excluded", () => {
  const datagram = encodeUdp({
    srcPort: 40000,
    dstPort: 5000,
    payload: NETKIT,
    src: SRC4,
    dst: GROUP4,
  });
  const buffer = new Uint8Array(64).fill(0xee);
  buffer.set(datagram, 20);
  const bytes = buffer.subarray(20);
  const udp = decodeUdp(bytes, { src: SRC4, dst: GROUP4 });
  assert.deepEqual(
    { ...udp, payload: new TextDecoder().decode(udp.payload) },
    { srcPort: 40000, dstPort: 5000, length: 14, checksum: 0x3e9a, payload: "netkit" },
  );
  assert.equal(udp.payload.buffer, buffer.buffer);
  assert.equal(udp.payload.byteOffset, 28);
  buffer[28] = 0x4e;
  assert.equal(udp.payload[0], 0x4e);
  // Without addresses nothing checks the (now wrong) checksum.
  assert.equal(decodeUdp(bytes).payload[0], 0x4e);
});

Deno.test("decodeUdp() accepts an IPv4 checksum of 0 as none, and refuses it over IPv6", () => {
  const v4 = encodeUdp({ srcPort: 1, dstPort: 2, payload: NETKIT, src: SRC4, dst: GROUP4 });
  setWord(v4, 6, 0);
  assert.equal(decodeUdp(v4, { src: SRC4, dst: GROUP4 }).checksum, 0);
  // Any addresses at all: there is nothing to check.
  assert.equal(decodeUdp(v4, { src: GROUP4, dst: SRC4 }).checksum, 0);
  const v6 = encodeUdp({ srcPort: 1, dstPort: 2, payload: NETKIT, src: SRC6, dst: GROUP6 });
  setWord(v6, 6, 0);
  assertMalformed(
    () => decodeUdp(v6, { src: SRC6, dst: GROUP6 }),
    "bad_udp_checksum",
    "UDP checksum is 0x0000 (none), which IPv6 does not allow",
  );
  assert.equal(decodeUdp(v6).checksum, 0);
});

Deno.test("decodeUdp() rejects a wrong checksum and says what it should be", () => {
  for (const [src, dst, good] of [[SRC4, GROUP4, 0x3e9a], [SRC6, GROUP6, 0xd6f5]] as const) {
    const wrongField = encodeUdp({ srcPort: 40000, dstPort: 5000, payload: NETKIT, src, dst });
    setWord(wrongField, 6, good ^ 0x0100);
    assertMalformed(
      () => decodeUdp(wrongField, { src, dst }),
      "bad_udp_checksum",
      `UDP checksum is ${hex16(good ^ 0x0100)}, expected ${hex16(good)}`,
    );
    // A corrupted payload byte (the odd, last one): expected is the checksum of what arrived.
    const corrupted = encodeUdp({ srcPort: 40000, dstPort: 5000, payload: NETKIT, src, dst });
    corrupted[13] = 0x55;
    const payload = NETKIT.slice();
    payload[5] = 0x55;
    const expected = word(encodeUdp({ srcPort: 40000, dstPort: 5000, payload, src, dst }), 6);
    assertMalformed(
      () => decodeUdp(corrupted, { src, dst }),
      "bad_udp_checksum",
      `UDP checksum is ${hex16(good)}, expected ${hex16(expected)}`,
    );
  }
});

Deno.test("decodeUdp() rejects a checksum computed for other addresses", () => {
  const cases = [
    [SRC4, GROUP4, parseIpv4("239.10.20.31")],
    [SRC6, GROUP6, parseIpv6("ff0e::1:2:4")],
  ] as const;
  for (const [src, dst, other] of cases) {
    const init = { srcPort: 1, dstPort: 2, payload: NETKIT, src, dst };
    const datagram = encodeUdp(init);
    const expected = word(encodeUdp({ ...init, dst: other }), 6);
    assertMalformed(
      () => decodeUdp(datagram, { src, dst: other }),
      "bad_udp_checksum",
      `UDP checksum is ${hex16(word(datagram, 6))}, expected ${hex16(expected)}`,
    );
  }
});

Deno.test("decodeUdp() rejects datagrams shorter than a header", () => {
  for (const length of [0, 1, 7]) {
    assertMalformed(
      () => decodeUdp(new Uint8Array(length)),
      "truncated_udp_header",
      `UDP datagram too short: ${length} bytes, a header needs 8`,
    );
  }
});

Deno.test("decodeUdp() rejects a length field below 8", () => {
  for (const length of [0, 7]) {
    const datagram = encodeUdp({ srcPort: 1, dstPort: 2, payload: NETKIT, src: SRC4, dst: GROUP4 });
    setWord(datagram, 4, length);
    assertMalformed(
      () => decodeUdp(datagram),
      "bad_udp_length",
      `UDP length field is "${length}": it must be at least 8, the header's length`,
    );
  }
});

Deno.test("decodeUdp() rejects a length field beyond the end of the bytes", () => {
  const datagram = encodeUdp({ srcPort: 1, dstPort: 2, payload: NETKIT, src: SRC4, dst: GROUP4 });
  assertMalformed(
    () => decodeUdp(datagram.subarray(0, 13), { src: SRC4, dst: GROUP4 }),
    "truncated_udp_datagram",
    "UDP datagram truncated: its length field says 14 bytes, only 13 are present",
  );
  const empty = encodeUdp({
    srcPort: 1,
    dstPort: 2,
    payload: new Uint8Array(),
    src: SRC4,
    dst: GROUP4,
  });
  assert.equal(decodeUdp(empty, { src: SRC4, dst: GROUP4 }).payload.length, 0);
});

Deno.test("decodeUdp() rejects addresses that are not both IPv4 or both IPv6", () => {
  const datagram = encodeUdp({ srcPort: 1, dstPort: 2, payload: NETKIT, src: SRC4, dst: GROUP4 });
  assert.throws(
    () => decodeUdp(datagram, { src: SRC4, dst: GROUP6 }),
    new RangeError(
      "Invalid UDP pseudo header addresses: expected two 4-byte (IPv4) or two 16-byte (IPv6) addresses, got 4 and 16 bytes",
    ),
  );
});
