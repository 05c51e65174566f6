import assert from "node:assert/strict";
import {
  foldOnesComplementSum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  onesComplementSum,
  updateChecksum,
} from "./checksum.ts";

const RFC1071_EXAMPLE = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);

// A real IPv4 header (192.168.0.1 -> 192.168.0.199, UDP, TTL 64) whose checksum is 0xb861.
const IPV4_HEADER = new Uint8Array([
  0x45,
  0x00,
  0x00,
  0x73,
  0x00,
  0x00,
  0x40,
  0x00,
  0x40,
  0x11,
  0xb8,
  0x61,
  0xc0,
  0xa8,
  0x00,
  0x01,
  0xc0,
  0xa8,
  0x00,
  0xc7,
]);

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  return bytes;
}

function word(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

function setWord(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

Deno.test("onesComplementSum() and internetChecksum() match the RFC 1071 example", () => {
  assert.equal(onesComplementSum(RFC1071_EXAMPLE), 0x2ddf0);
  assert.equal(foldOnesComplementSum(0x2ddf0), 0xddf2);
  assert.equal(internetChecksum(RFC1071_EXAMPLE), 0x220d);
});

Deno.test("internetChecksum() reproduces a real IPv4 header checksum", () => {
  const header = IPV4_HEADER.slice();
  setWord(header, 10, 0);
  assert.equal(internetChecksum(header), 0xb861);
  assert.equal(internetChecksum(IPV4_HEADER), 0, "a header with its checksum verifies to 0");
  header[8] = 0x3f; // TTL 63 without fixing the checksum
  setWord(header, 10, 0xb861);
  assert.notEqual(internetChecksum(header), 0);
});

Deno.test("onesComplementSum() pads an odd trailing byte with zero", () => {
  assert.equal(onesComplementSum(new Uint8Array([0x01])), 0x0100);
  assert.equal(onesComplementSum(new Uint8Array([0x12, 0x34, 0x56])), 0x1234 + 0x5600);
  assert.equal(internetChecksum(new Uint8Array([0x12, 0x34, 0x56])), ~(0x1234 + 0x5600) & 0xffff);
  assert.equal(onesComplementSum(RFC1071_EXAMPLE, 0, 7), 0x0001 + 0xf203 + 0xf4f5 + 0xf600);
});

Deno.test("internetChecksum() covers only start..end and an empty range sums to zero", () => {
  const padded = new Uint8Array([0xaa, 0xbb, ...RFC1071_EXAMPLE, 0xcc]);
  assert.equal(internetChecksum(padded, 2, 10), 0x220d);
  assert.equal(onesComplementSum(padded, 4, 4), 0);
  assert.equal(internetChecksum(padded, 4, 4), 0xffff);
  assert.equal(internetChecksum(new Uint8Array(0)), 0xffff);
  assert.equal(onesComplementSum(padded, 2, 10, 5), 0x2ddf0 + 5);
});

Deno.test("internetChecksum() composes partial sums through initial", () => {
  for (let i = 0; i < 50; i++) {
    const data = randomBytes(2 + Math.floor(Math.random() * 200));
    const split = 2 * Math.floor(Math.random() * (data.length / 2)); // even split point
    const head = onesComplementSum(data, 0, split);
    assert.equal(internetChecksum(data, split, data.length, head), internetChecksum(data));
  }
});

Deno.test("foldOnesComplementSum() folds sums beyond 32 bits modulo 0xffff", () => {
  assert.equal(foldOnesComplementSum(0), 0);
  assert.equal(foldOnesComplementSum(0xffff), 0xffff);
  assert.equal(foldOnesComplementSum(0x10000), 1);
  assert.equal(foldOnesComplementSum(0x1_0000_0000), 1);
  for (let i = 0; i < 100; i++) {
    const sum = 1 + Math.floor(Math.random() * 2 ** 52);
    const folded = foldOnesComplementSum(sum);
    assert.ok(folded >= 1 && folded <= 0xffff, `${sum} folded to ${folded}`);
    assert.equal(folded % 0xffff, sum % 0xffff);
  }
});

Deno.test("internetChecksum() over data that includes its checksum is 0, for random data", () => {
  for (let i = 0; i < 200; i++) {
    const data = randomBytes(2 + Math.floor(Math.random() * 300)); // odd and even lengths
    const at = 2 * Math.floor(Math.random() * Math.floor(data.length / 2));
    setWord(data, at, 0);
    setWord(data, at, internetChecksum(data));
    assert.equal(internetChecksum(data), 0, `length ${data.length}, checksum at ${at}`);
  }
  const zeros = new Uint8Array(10);
  setWord(zeros, 4, internetChecksum(zeros));
  assert.equal(word(zeros, 4), 0xffff);
  assert.equal(internetChecksum(zeros), 0);
});

Deno.test("onesComplementSum() rejects ranges outside the buffer and bad initial sums", () => {
  const bytes = new Uint8Array(8);
  for (const [start, end] of [[-1, 4], [5, 4], [0, 9], [1.5, 4], [0, NaN]] as const) {
    assert.throws(() => onesComplementSum(bytes, start, end), {
      name: "RangeError",
      message:
        `Invalid checksum range ${start}..${end}: expected 0 <= start <= end <= 8 (the buffer length)`,
    });
    assert.throws(() => internetChecksum(bytes, start, end), RangeError);
  }
  for (const initial of [-1, 0.5, 2 ** 53]) {
    assert.throws(() => onesComplementSum(bytes, 0, 8, initial), {
      name: "RangeError",
      message: `Invalid initial sum "${initial}": expected a non-negative integer`,
    });
  }
});

Deno.test("ipv4PseudoHeaderSum() gives a UDP checksum matching an independent computation", () => {
  const src = new Uint8Array([192, 0, 2, 1]);
  const dst = new Uint8Array([198, 51, 100, 7]);
  // UDP 40000 -> 5353, length 14, checksum field zero, payload "netkit".
  const udp = new Uint8Array([
    0x9c,
    0x40,
    0x14,
    0xe9,
    0x00,
    0x0e,
    0x00,
    0x00,
    ...new TextEncoder().encode("netkit"),
  ]);
  const pseudo = ipv4PseudoHeaderSum(src, dst, 17, udp.length);
  assert.equal(pseudo, 0xc000 + 0x0201 + 0xc633 + 0x6407 + 17 + 14);
  assert.equal(internetChecksum(udp, 0, udp.length, pseudo), 0x1627);
  setWord(udp, 6, 0x1627);
  assert.equal(internetChecksum(udp, 0, udp.length, pseudo), 0);
});

Deno.test("ipv4PseudoHeaderSum() rejects bad addresses, protocols and lengths", () => {
  const a = new Uint8Array(4);
  assert.throws(() => ipv4PseudoHeaderSum(new Uint8Array(16), a, 17, 8), {
    name: "RangeError",
    message: "Invalid IPv4 source address: expected 4 bytes, got 16",
  });
  assert.throws(() => ipv4PseudoHeaderSum(a, new Uint8Array(3), 17, 8), {
    name: "RangeError",
    message: "Invalid IPv4 destination address: expected 4 bytes, got 3",
  });
  assert.throws(() => ipv4PseudoHeaderSum(a, a, 256, 8), {
    name: "RangeError",
    message: 'Invalid IP protocol "256": expected an integer from 0 to 255',
  });
  assert.throws(() => ipv4PseudoHeaderSum(a, a, 17, 65536), {
    name: "RangeError",
    message: 'Invalid upper-layer length "65536": expected an integer from 0 to 65535',
  });
  assert.throws(() => ipv4PseudoHeaderSum(a, a, -1, 8), RangeError);
  assert.equal(ipv4PseudoHeaderSum(a, a, 255, 65535), 255 + 65535);
});

Deno.test("ipv6PseudoHeaderSum() gives an ICMPv6 checksum matching an independent computation", () => {
  const src = new Uint8Array(16);
  src.set([0xfe, 0x80]);
  src[15] = 1; // fe80::1
  const dst = new Uint8Array(16);
  dst.set([0xff, 0x02]);
  dst[15] = 1; // ff02::1
  // Echo request, id 0x1234, seq 1, payload "abcd".
  const icmp = new Uint8Array([128, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64]);
  const pseudo = ipv6PseudoHeaderSum(src, dst, 58, icmp.length);
  assert.equal(internetChecksum(icmp, 0, icmp.length, pseudo), 0xab37);
});

Deno.test("ipv6PseudoHeaderSum() splits a 32-bit length into two words", () => {
  const zero = new Uint8Array(16);
  assert.equal(ipv6PseudoHeaderSum(zero, zero, 0, 0x0001_0002), 0x0001 + 0x0002);
  assert.equal(ipv6PseudoHeaderSum(zero, zero, 6, 0xffff_ffff), 0xffff + 0xffff + 6);
});

Deno.test("ipv6PseudoHeaderSum() rejects bad addresses, next headers and lengths", () => {
  const a = new Uint8Array(16);
  assert.throws(() => ipv6PseudoHeaderSum(new Uint8Array(4), a, 58, 8), {
    name: "RangeError",
    message: "Invalid IPv6 source address: expected 16 bytes, got 4",
  });
  assert.throws(() => ipv6PseudoHeaderSum(a, new Uint8Array(15), 58, 8), {
    name: "RangeError",
    message: "Invalid IPv6 destination address: expected 16 bytes, got 15",
  });
  assert.throws(() => ipv6PseudoHeaderSum(a, a, 256, 8), {
    name: "RangeError",
    message: 'Invalid IPv6 next header "256": expected an integer from 0 to 255',
  });
  assert.throws(() => ipv6PseudoHeaderSum(a, a, 58, 2 ** 32), {
    name: "RangeError",
    message: 'Invalid upper-layer length "4294967296": expected an integer from 0 to 4294967295',
  });
});

Deno.test("updateChecksum() matches the RFC 1624 worked example", () => {
  // Other header words sum to 0xcd7a; m changes 0x5555 -> 0x3285, so the new sum is 0xffff.
  assert.equal(updateChecksum(0xdd2f, 0x5555, 0x3285), 0x0000);
});

Deno.test("updateChecksum() equals a full recompute for random word changes", () => {
  for (let i = 0; i < 500; i++) {
    const header = randomBytes(20);
    header[0] = 0x45; // never all zeros, as for any IPv4 header
    setWord(header, 10, 0);
    setWord(header, 10, internetChecksum(header));
    const at = 2 * [0, 1, 2, 3, 4, 6, 7, 8, 9][Math.floor(Math.random() * 9)]!; // any word but the checksum
    const oldWord = word(header, at);
    const newWord = Math.floor(Math.random() * 0x10000);
    const updated = updateChecksum(word(header, 10), oldWord, newWord);
    setWord(header, at, newWord);
    setWord(header, 10, 0);
    assert.equal(updated, internetChecksum(header), `word ${at / 2}: ${oldWord} -> ${newWord}`);
  }
});

Deno.test("updateChecksum() keeps a decremented TTL's header valid", () => {
  const header = IPV4_HEADER.slice();
  const before = word(header, 8);
  header[8] = header[8]! - 1;
  setWord(header, 10, updateChecksum(0xb861, before, word(header, 8)));
  assert.equal(word(header, 10), 0xb961);
  assert.equal(internetChecksum(header), 0);
});

Deno.test("updateChecksum() yields 0x0000 when the data becomes all zeros", () => {
  // The one case where RFC 1624 equation 3 differs from a recompute (0xffff).
  assert.equal(updateChecksum(~0x1234 & 0xffff, 0x1234, 0), 0x0000);
  assert.equal(internetChecksum(new Uint8Array(2)), 0xffff);
});

Deno.test("updateChecksum() rejects values outside 16 bits", () => {
  assert.throws(() => updateChecksum(0x10000, 0, 0), {
    name: "RangeError",
    message: 'Invalid checksum "65536": expected an integer from 0 to 65535',
  });
  assert.throws(() => updateChecksum(0, -1, 0), {
    name: "RangeError",
    message: 'Invalid old word "-1": expected an integer from 0 to 65535',
  });
  assert.throws(() => updateChecksum(0, 0, 1.5), {
    name: "RangeError",
    message: 'Invalid new word "1.5": expected an integer from 0 to 65535',
  });
});
