import assert from "node:assert/strict";
import { DEFAULT_REASSEMBLY_LIMITS, Reassembler } from "../lsoe/reassembly.ts";
import { isMalformed, MalformedPacketError } from "./errors.ts";
import { decodeEthernet, ETH_MIN_FRAME } from "./ethernet.ts";
import {
  DATAGRAM_CHUNK_LEN,
  DATAGRAM_HEADER_LEN,
  decodeDatagram,
  decodePdu,
  encodeDatagrams,
  encodeLsoeFrame,
  encodePdu,
  LSOED_ETHERTYPE,
  type LsoePdu,
  MAX_PDU_LEN,
  pduTypeName,
  sboxChecksum,
} from "./lsoe.ts";
import { parseMac } from "./mac.ts";

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.replaceAll(" ", "").match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Asserts that a total decoder refused, for `reason`. */
function assertRefused(result: unknown, reason: string, what: string): void {
  assert.ok(result instanceof MalformedPacketError, `${what}: decoded`);
  assert.equal(result.reason, reason, what);
}

/** Decodes one Ethernet payload holding a whole PDU, failing the test on any refusal. */
function decodeSingle(payload: Uint8Array): LsoePdu {
  const datagram = decodeDatagram(payload);
  if (isMalformed(datagram)) throw datagram;
  assert.equal(datagram.number, 0);
  assert.equal(datagram.last, true);
  const pdu = decodePdu(datagram.chunk);
  if (isMalformed(pdu)) throw pdu;
  return pdu;
}

/** The reference's golden vectors (§1.9: lsoed on a veth pair), Ethernet payloads. */
const GOLDEN: [string, string, LsoePdu][] = [
  ["HELLO", "0080000b ea89ca1c 000003", { type: 0 }],
  ["KEEPALIVE", "0080000b 5089ca1c 020003", { type: 2 }],
  [
    "OPEN from A",
    "0080001c a8a517ec 010014 fe7d3a34 6e6b2d612d30303030aa 00 0000",
    {
      type: 1,
      nonce: hex("fe7d3a34"),
      localId: hex("6e6b2d612d30303030aa"),
      attributes: new Uint8Array(),
    },
  ],
  [
    "ACK of OPEN",
    "00800010 6e2d9f06 030008 01 0000 0000",
    { type: 3, ackType: 1, errorType: 0, errorCode: 0, errorHint: 0 },
  ],
  [
    "ACK of IPv4",
    "00800010 6e2d9f27 030008 04 0000 0000",
    { type: 3, ackType: 4, errorType: 0, errorCode: 0, errorHint: 0 },
  ],
  [
    "IPv4 encapsulation from B",
    "00800019 de3d4f2d 040011 0002 40 7f000001 08 00 c0000202 1e",
    {
      type: 4,
      entries: [
        { flags: 0x40, address: hex("7f000001"), prefixLength: 8 },
        { flags: 0, address: hex("c0000202"), prefixLength: 30 },
      ],
    },
  ],
  ["MPLS-IPv4, empty", "0080000d e0898ff9 060005 0000", { type: 6, entries: [] }],
  ["MPLS-IPv6, empty", "0080000d de898ff9 070005 0000", { type: 7, entries: [] }],
];

Deno.test("lsoe: every golden vector decodes and re-encodes byte for byte, checksum included", () => {
  for (const [what, text, expected] of GOLDEN) {
    const payload = hex(text);
    const pdu = decodeSingle(payload);
    assert.deepEqual(pdu, expected, what);
    const datagrams = encodeDatagrams(encodePdu(pdu));
    assert.equal(datagrams.length, 1, what);
    assert.equal(toHex(datagrams[0]!), toHex(payload), what);
  }
});

Deno.test("lsoe: sboxChecksum folds the four sums as lsoed does (vectors from its definition)", () => {
  assert.equal(sboxChecksum(new Uint8Array()), 0);
  assert.equal(sboxChecksum(Uint8Array.from({ length: 256 }, (_, i) => i)), 0xbd4ddb19);
  // The largest datagram: the sums overlap and the first fold carries.
  assert.equal(sboxChecksum(new Uint8Array(MAX_PDU_LEN).fill(0xff)), 0x9191914b);
  // The HELLO's header with the checksum zeroed, then its PDU.
  assert.equal(sboxChecksum(hex("0080000b 00000000 000003")), 0xea89ca1c);
});

Deno.test("lsoe: every PDU type round-trips through encodePdu and decodePdu", () => {
  const pdus: LsoePdu[] = [
    { type: 0 },
    { type: 2 },
    {
      type: 1,
      nonce: hex("01020304"),
      localId: hex("00112233445566778899"),
      attributes: hex("aabbcc"),
    },
    { type: 3, ackType: 9, errorType: 1, errorCode: 3, errorHint: 9 },
    { type: 4, entries: [{ flags: 0x80, address: hex("c0000201"), prefixLength: 24 }] },
    {
      type: 5,
      entries: [
        { flags: 0x80, address: hex("20010db8000000000000000000000001"), prefixLength: 64 },
        { flags: 0x40, address: hex("00000000000000000000000000000001"), prefixLength: 128 },
      ],
    },
    {
      type: 6,
      entries: [
        { flags: 0, labels: [16, 0xfffff], address: hex("c6336401"), prefixLength: 32 },
        { flags: 0x80, labels: [], address: hex("c6336402"), prefixLength: 0 },
      ],
    },
    {
      type: 7,
      entries: [{
        flags: 0,
        labels: [100],
        address: hex("20010db8000000000000000000000009"),
        prefixLength: 127,
      }],
    },
    { type: 255, enterpriseNumber: 0xdeadbeef, enterpriseType: 7, data: hex("0102") },
    { type: 255, enterpriseNumber: 1, enterpriseType: 0, data: new Uint8Array() },
    { type: "unknown", pduType: 42, body: hex("0102") },
  ];
  for (const pdu of pdus) {
    const bytes = encodePdu(pdu);
    assert.equal(bytes.length, (bytes[1]! << 8) | bytes[2]!);
    assert.deepEqual(decodePdu(bytes), pdu);
  }
});

Deno.test("lsoe: MPLS labels take the top 20 bits, bottom of stack on the last", () => {
  const bytes = encodePdu({
    type: 6,
    entries: [{ flags: 0, labels: [16, 0xfffff], address: hex("c0000201"), prefixLength: 32 }],
  });
  assert.equal(
    toHex(bytes),
    "060012" + "0001" + "00" + "02" + "000100" + "fffff1" + "c0000201" + "20",
  );
  // Traffic class and bottom-of-stack bits from the peer are not part of the label.
  const decoded = decodePdu(hex("06000f 0001 00 01 00010f c0000201 20"));
  assert.ok(!isMalformed(decoded) && decoded.type === 6);
  assert.deepEqual(decoded.entries[0]!.labels, [16]);
});

Deno.test("lsoe: decodePdu refuses every length that does not match exactly", () => {
  const cases: [string, string][] = [
    ["", "pdu_runt"],
    ["0000", "pdu_runt"],
    ["000004", "pdu_length_mismatch"],
    ["000004 00 00", "pdu_length_mismatch"],
    ["000004 00", "hello_length"],
    ["020004 00", "keepalive_length"],
    ["010013 fe7d3a34 6e6b2d612d30303030aa 00 00", "open_length"],
    ["010015 fe7d3a34 6e6b2d612d30303030aa 00 0000 00", "open_length"],
    ["010014 fe7d3a34 6e6b2d612d30303030aa 01 0000", "open_length"],
    ["010015 fe7d3a34 6e6b2d612d30303030aa 00 0001 aa", "open_auth"],
    ["010014 fe7d3a34 6e6b2d612d30303030aa 00 0001", "open_auth"],
    ["030007 01 0000 00", "ack_length"],
    ["030009 01 0000 0000 00", "ack_length"],
    ["030008 01 0001 0000", "ack_code_without_error"],
    ["030008 01 0000 0001", "ack_code_without_error"],
    ["040004 00", "encapsulation_length"],
    ["040005 0001", "encapsulation_length"],
    ["04000c 0001 00 c0000201 18 00", "encapsulation_length"],
    ["04000b 0001 00 c0000201 21", "prefix_length"],
    ["050017 0001 00 20010db8000000000000000000000001 81", "prefix_length"],
    ["050016 0001 00 20010db8000000000000000000000001", "encapsulation_length"],
    ["060005 0001", "encapsulation_length"],
    ["060007 0001 00 01", "encapsulation_length"],
    ["06000e 0001 00 01 000100 c0000201", "encapsulation_length"],
    ["060010 0001 00 01 000100 c0000201 20 00", "encapsulation_length"],
    ["06000f 0001 00 01 000101 c0000201 21", "prefix_length"],
    ["07001b 0001 00 01 000101 20010db8000000000000000000000001 81", "prefix_length"],
    ["ff0007 00000001", "vendor_length"],
  ];
  for (const [text, reason] of cases) assertRefused(decodePdu(hex(text)), reason, text);
});

Deno.test("lsoe: decodePdu keeps unknown types for an ACK with an error", () => {
  assert.deepEqual(decodePdu(hex("080003")), {
    type: "unknown",
    pduType: 8,
    body: new Uint8Array(),
  });
  assert.deepEqual(decodePdu(hex("fe0005 abcd")), {
    type: "unknown",
    pduType: 0xfe,
    body: hex("abcd"),
  });
});

Deno.test("lsoe: decoded PDUs own their bytes", () => {
  const bytes = hex("010014 fe7d3a34 6e6b2d612d30303030aa 00 0000");
  const pdu = decodePdu(bytes);
  bytes.fill(0, 3);
  assert.ok(!isMalformed(pdu) && pdu.type === 1);
  assert.equal(toHex(pdu.nonce), "fe7d3a34");
});

Deno.test("lsoe: encodePdu refuses what cannot be encoded", () => {
  const open = {
    type: 1,
    nonce: hex("01020304"),
    localId: new Uint8Array(10),
    attributes: new Uint8Array(),
  } as const;
  const bad: LsoePdu[] = [
    { ...open, nonce: hex("010203") },
    { ...open, localId: new Uint8Array(9) },
    { ...open, attributes: new Uint8Array(256) },
    { type: 3, ackType: 256, errorType: 0, errorCode: 0, errorHint: 0 },
    { type: 3, ackType: 1, errorType: 16, errorCode: 0, errorHint: 0 },
    { type: 3, ackType: 1, errorType: 1, errorCode: 0x1000, errorHint: 0 },
    { type: 4, entries: [{ flags: 0, address: new Uint8Array(16), prefixLength: 8 }] },
    { type: 4, entries: [{ flags: 0, address: new Uint8Array(4), prefixLength: 33 }] },
    { type: 5, entries: [{ flags: 256, address: new Uint8Array(16), prefixLength: 8 }] },
    {
      type: 6,
      entries: [{ flags: 0, labels: [0x100000], address: new Uint8Array(4), prefixLength: 8 }],
    },
    { type: 6, entries: [{ flags: 0, labels: [-1], address: new Uint8Array(4), prefixLength: 8 }] },
    {
      type: 7,
      entries: [{
        flags: 0,
        labels: new Array(256).fill(1),
        address: new Uint8Array(16),
        prefixLength: 8,
      }],
    },
    { type: 255, enterpriseNumber: 2 ** 32, enterpriseType: 0, data: new Uint8Array() },
    { type: 255, enterpriseNumber: 1, enterpriseType: 0, data: new Uint8Array(MAX_PDU_LEN - 7) },
    { type: "unknown", pduType: 256, body: new Uint8Array() },
  ];
  for (const pdu of bad) assert.throws(() => encodePdu(pdu), RangeError, JSON.stringify(pdu.type));
  // The largest VENDOR fits.
  const largest = encodePdu({
    type: 255,
    enterpriseNumber: 1,
    enterpriseType: 0,
    data: new Uint8Array(MAX_PDU_LEN - 8),
  });
  assert.equal(largest.length, MAX_PDU_LEN);
});

Deno.test("lsoe: fragmentation at 0, 1491, 1492, 1493 and 65,535 bytes round-trips through the Reassembler", () => {
  const mac = parseMac("02:00:00:00:00:0b");
  for (const [size, count] of [[0, 1], [1491, 1], [1492, 1], [1493, 2], [65_535, 44]] as const) {
    const pdu = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
    const datagrams = encodeDatagrams(pdu);
    assert.equal(datagrams.length, count, `${size} bytes`);
    datagrams.forEach((payload, number) => {
      const last = number === count - 1;
      const chunkLength = last ? size - number * DATAGRAM_CHUNK_LEN : DATAGRAM_CHUNK_LEN;
      assert.equal(payload.length, DATAGRAM_HEADER_LEN + chunkLength);
      assert.equal(payload[0], 0);
      assert.equal(payload[1], number | (last ? 0x80 : 0));
      assert.equal((payload[2]! << 8) | payload[3]!, payload.length);
    });
    // In order, then last first (the reassembler sorts).
    for (const order of [datagrams, [...datagrams].reverse()]) {
      const reassembler = new Reassembler(DEFAULT_REASSEMBLY_LIMITS);
      const results = order.map((payload) => {
        const datagram = decodeDatagram(payload);
        if (isMalformed(datagram)) throw datagram;
        return reassembler.accept(0, 2, mac, datagram);
      });
      const final = results.pop()!;
      assert.ok(results.every((result) => result.kind === "partial"));
      assert.ok(final.kind === "pdu", `${size} bytes: ${final.kind}`);
      assert.equal(toHex(final.bytes), toHex(pdu));
    }
  }
  assert.throws(() => encodeDatagrams(new Uint8Array(MAX_PDU_LEN + 1)), RangeError);
});

Deno.test("lsoe: a changed byte anywhere in a datagram is refused", () => {
  const payload = hex(GOLDEN[5]![1]);
  for (let i = 0; i < payload.length; i++) {
    const corrupt = payload.slice();
    corrupt[i]! ^= 0x01;
    // Byte 2 makes the length exceed the payload; byte 3 makes it shorter, which still fits.
    const reason = i === 0 ? "bad_version" : i === 2 ? "bad_length" : "bad_checksum";
    assertRefused(decodeDatagram(corrupt), reason, `byte ${i}`);
  }
});

Deno.test("lsoe: decodeDatagram refuses runts, other versions and impossible lengths", () => {
  const cases: [string, string][] = [
    ["0080000bea89ca", "runt"],
    ["0180000b ea89ca1c 000003", "bad_version"],
    ["00800007 ea89ca1c 000003", "bad_length"],
    ["0080000c ea89ca1c 000003", "bad_length"],
  ];
  for (const [text, reason] of cases) assertRefused(decodeDatagram(hex(text)), reason, text);
});

Deno.test("lsoe: a 25-byte frame padded to 60 bytes decodes (padding trimmed by the datagram length)", () => {
  const frame = encodeLsoeFrame(
    parseMac("01:80:c2:00:00:0e"),
    parseMac("4a:ea:00:00:00:01"),
    LSOED_ETHERTYPE,
    hex(GOLDEN[0]![1]),
  );
  assert.equal(frame.length, 25);
  const padded = new Uint8Array(ETH_MIN_FRAME);
  padded.set(frame);
  const ethernet = decodeEthernet(padded);
  assert.equal(ethernet.etherType, LSOED_ETHERTYPE);
  const payload = padded.subarray(ethernet.headerLength);
  assert.equal(payload.length, 46);
  assert.deepEqual(decodeSingle(payload), { type: 0 });
});

Deno.test("lsoe: pduTypeName names the nine types and the rest by number", () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 255, 8].map(pduTypeName),
    [
      "hello",
      "open",
      "keepalive",
      "ack",
      "ipv4",
      "ipv6",
      "mpls_ipv4",
      "mpls_ipv6",
      "vendor",
      "type_8",
    ],
  );
});
