import assert from "node:assert/strict";
import { MalformedPacketError } from "./errors.ts";
import { EtherType } from "./ethernet.ts";
import {
  decodeLacpdu,
  decodeMarker,
  encodeLacpdu,
  encodeMarker,
  ETHERTYPE_SLOW,
  formatStateLetters,
  LACP_FRAME_LENGTH,
  type Lacpdu,
  LACPDU_LENGTH,
  type LacpPortInfo,
  LacpState,
  LacpTlvType,
  type MarkerPdu,
  markerResponse,
  parseStateLetters,
  SLOW_PROTOCOLS_MAC,
  SlowSubtype,
  slowSubtypeAt,
  STATE_FLAG_NAMES,
  STATE_LETTERS,
  stateFlagNames,
} from "./lacp.ts";
import { formatMac, parseMac } from "./mac.ts";

const SRC = parseMac("02:a1:b2:c3:d4:01");

const ACTOR: LacpPortInfo = {
  systemPriority: 0x1234,
  system: parseMac("02:00:00:00:00:0a"),
  key: 0x5678,
  portPriority: 0x9abc,
  port: 0xdef0,
  state: 0x3d,
};
const PARTNER: LacpPortInfo = {
  systemPriority: 0x8000,
  system: parseMac("02:00:00:00:00:0b"),
  key: 0x0102,
  portPriority: 0x0304,
  port: 0x0506,
  state: 0x47,
};
const PDU: Lacpdu = {
  version: 1,
  actor: ACTOR,
  partner: PARTNER,
  collectorMaxDelay: 0x0a0b,
  extraTlvs: [],
};
const MARKER: MarkerPdu = {
  version: 1,
  tlv: "information",
  requesterPort: 0x0102,
  requesterSystem: parseMac("02:00:00:00:00:0c"),
  transactionId: 0xdeadbeef,
};

/** Bytes from hex digits; whitespace and line breaks are ignored. */
function fromHex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  assert.equal(digits.length % 2, 0, "odd number of hex digits");
  return new Uint8Array(digits.length / 2).map((_, i) =>
    parseInt(digits.slice(2 * i, 2 * i + 2), 16)
  );
}

function u16At(frame: Uint8Array, offset: number): number {
  return (frame[offset]! << 8) | frame[offset + 1]!;
}

/** A copy of `frame` with `bytes` written at `offset`. */
function patched(frame: Uint8Array, offset: number, bytes: number[]): Uint8Array {
  const copy = frame.slice();
  copy.set(bytes, offset);
  return copy;
}

/** `frame` with an 802.1Q tag (TPID `tpid`, VID 100) inserted before the EtherType. */
function tagged(frame: Uint8Array, tpid = 0x8100): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12));
  out.set([tpid >>> 8, tpid & 0xff, 0x00, 0x64], 12);
  out.set(frame.subarray(12), 16);
  return out;
}

function assertMalformed(fn: () => unknown, reason: string, message?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.reason, reason, err.message);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

Deno.test("Slow Protocols constants hold the IEEE values", () => {
  assert.equal(formatMac(SLOW_PROTOCOLS_MAC), "01:80:c2:00:00:02");
  assert.equal(ETHERTYPE_SLOW, 0x8809);
  assert.equal(ETHERTYPE_SLOW, EtherType.SLOW_PROTOCOLS);
  assert.deepEqual(SlowSubtype, { LACP: 1, MARKER: 2 });
  assert.equal(LACPDU_LENGTH, 110);
  assert.equal(LACP_FRAME_LENGTH, 124);
  assert.equal(LacpTlvType.TERMINATOR, 0);
  assert.equal(LacpTlvType.ACTOR, 1);
  assert.equal(LacpTlvType.PARTNER, 2);
  assert.equal(LacpTlvType.COLLECTOR, 3);
  assert.equal(LacpTlvType.PORT_ALGORITHM, 4);
  assert.equal(LacpTlvType.PORT_CONVERSATION_ID_DIGEST, 5);
  assert.equal(LacpTlvType.PORT_CONVERSATION_MASK_1, 6);
  assert.equal(LacpTlvType.PORT_CONVERSATION_MASK_4, 9);
  assert.equal(LacpTlvType.PORT_CONVERSATION_SERVICE_MAPPING, 10);
});

Deno.test("LacpState, STATE_LETTERS and STATE_FLAG_NAMES agree bit by bit", () => {
  assert.deepEqual(LacpState, {
    ACTIVE: 0x01,
    SHORT_TIMEOUT: 0x02,
    AGGREGATION: 0x04,
    SYNCHRONIZATION: 0x08,
    COLLECTING: 0x10,
    DISTRIBUTING: 0x20,
    DEFAULTED: 0x40,
    EXPIRED: 0x80,
  });
  assert.equal(STATE_LETTERS, "ATGSCDFE");
  assert.deepEqual(STATE_FLAG_NAMES, [
    "ACTIVE",
    "SHORT_TIMEOUT",
    "AGGREGATION",
    "SYNCHRONIZATION",
    "COLLECTING",
    "DISTRIBUTING",
    "DEFAULTED",
    "EXPIRED",
  ]);
  STATE_FLAG_NAMES.forEach((name, bit) => {
    assert.equal(LacpState[name], 1 << bit);
    assert.equal(formatStateLetters(1 << bit), STATE_LETTERS[bit]);
    assert.deepEqual(stateFlagNames(1 << bit), [name]);
  });
});

Deno.test("formatStateLetters() prints set bits in ATGSCDFE order and N for none", () => {
  assert.equal(formatStateLetters(0x3d), "AGSCD");
  assert.equal(formatStateLetters(0x3f), "ATGSCD");
  assert.equal(formatStateLetters(0x45), "AGF");
  assert.equal(formatStateLetters(0xc0), "FE");
  assert.equal(formatStateLetters(0xff), "ATGSCDFE");
  assert.equal(formatStateLetters(0), "N");
});

Deno.test("stateFlagNames() lists set bits in bit order", () => {
  assert.deepEqual(stateFlagNames(0), []);
  assert.deepEqual(stateFlagNames(0x05), ["ACTIVE", "AGGREGATION"]);
  assert.deepEqual(stateFlagNames(0x3d), [
    "ACTIVE",
    "AGGREGATION",
    "SYNCHRONIZATION",
    "COLLECTING",
    "DISTRIBUTING",
  ]);
  assert.deepEqual(stateFlagNames(0xff), [...STATE_FLAG_NAMES]);
});

Deno.test("formatStateLetters() and stateFlagNames() reject values outside 0..0xff", () => {
  for (const state of [-1, 256, 1.5, NaN]) {
    const error = {
      name: "RangeError",
      message: `Invalid LACP state "${state}": expected an integer from 0 to 0xff`,
    };
    assert.throws(() => formatStateLetters(state), error);
    assert.throws(() => stateFlagNames(state), error);
  }
});

Deno.test("parseStateLetters() reads letters in any order and case, and N alone as 0", () => {
  assert.equal(parseStateLetters("AGSCD"), 0x3d);
  assert.equal(parseStateLetters("dcsga"), 0x3d);
  assert.equal(parseStateLetters("EFDCSGTA"), 0xff);
  assert.equal(parseStateLetters("AA"), 0x01);
  assert.equal(parseStateLetters("N"), 0);
  assert.equal(parseStateLetters("n"), 0);
  for (let state = 0; state <= 0xff; state++) {
    assert.equal(parseStateLetters(formatStateLetters(state)), state);
  }
});

Deno.test("parseStateLetters() rejects unknown letters, N mixed with others and an empty string", () => {
  assert.throws(() => parseStateLetters("AX"), {
    name: "TypeError",
    message: 'Invalid LACP state letters "AX": "X" is not one of ATGSCDFE (N alone means none)',
  });
  assert.throws(() => parseStateLetters("an"), {
    name: "TypeError",
    message: 'Invalid LACP state letters "an": "N" is not one of ATGSCDFE (N alone means none)',
  });
  assert.throws(() => parseStateLetters("0x3d"), TypeError);
  assert.throws(() => parseStateLetters(" A"), TypeError);
  assert.throws(() => parseStateLetters(""), {
    name: "TypeError",
    message: 'Invalid LACP state letters "": expected letters from ATGSCDFE or N for none',
  });
});

Deno.test("encodeLacpdu() writes every version 1 field at its offset in a 124-byte frame", () => {
  const frame = encodeLacpdu(PDU, SRC);
  assert.equal(frame.length, 124);
  assert.deepEqual([...frame.subarray(0, 6)], [0x01, 0x80, 0xc2, 0x00, 0x00, 0x02]);
  assert.deepEqual(frame.subarray(6, 12), SRC);
  assert.equal(u16At(frame, 12), 0x8809);
  assert.equal(frame[14], 1); // subtype LACP
  assert.equal(frame[15], 1); // version
  // Actor Information TLV
  assert.equal(frame[16], 1);
  assert.equal(frame[17], 20);
  assert.equal(u16At(frame, 18), 0x1234);
  assert.deepEqual(frame.subarray(20, 26), ACTOR.system);
  assert.equal(u16At(frame, 26), 0x5678);
  assert.equal(u16At(frame, 28), 0x9abc);
  assert.equal(u16At(frame, 30), 0xdef0);
  assert.equal(frame[32], 0x3d);
  // Partner Information TLV
  assert.equal(frame[36], 2);
  assert.equal(frame[37], 20);
  assert.equal(u16At(frame, 38), 0x8000);
  assert.deepEqual(frame.subarray(40, 46), PARTNER.system);
  assert.equal(u16At(frame, 46), 0x0102);
  assert.equal(u16At(frame, 48), 0x0304);
  assert.equal(u16At(frame, 50), 0x0506);
  assert.equal(frame[52], 0x47);
  // Collector Information TLV
  assert.equal(frame[56], 3);
  assert.equal(frame[57], 16);
  assert.equal(u16At(frame, 58), 0x0a0b);
  // Terminator TLV
  assert.equal(frame[72], 0);
  assert.equal(frame[73], 0);
  // Reserved: 3 after each state, 12 after CollectorMaxDelay, 50 after the Terminator.
  for (const [start, end] of [[33, 36], [53, 56], [60, 72], [74, 124]] as const) {
    assert.ok(frame.subarray(start, end).every((b) => b === 0), `reserved ${start}..${end - 1}`);
  }
});

// An LACPDU as Open vSwitch sends it once a bond is up, written out by hand from the 802.1AX
// LACPDU table: actor OVS (priority 65534, state 0x3f = ATGSCD), partner in collecting and
// distributing with long timeouts (0x3d = AGSCD).
const GOLDEN_LACPDU = fromHex(`
  0180c2000002 02a1b2c3d401 8809
  01 01
  01 14 fffe 02a1b2c3d400 0003 ffff 0002 3f 000000
  02 14 8000 020000000001 0001 8000 0001 3d 000000
  03 10 0000 000000000000000000000000
  00 00
  00000000000000000000000000000000000000000000000000
  00000000000000000000000000000000000000000000000000
`);
const GOLDEN_PDU: Lacpdu = {
  version: 1,
  actor: {
    systemPriority: 65534,
    system: parseMac("02:a1:b2:c3:d4:00"),
    key: 3,
    portPriority: 65535,
    port: 2,
    state: LacpState.ACTIVE | LacpState.SHORT_TIMEOUT | LacpState.AGGREGATION |
      LacpState.SYNCHRONIZATION | LacpState.COLLECTING | LacpState.DISTRIBUTING,
  },
  partner: {
    systemPriority: 32768,
    system: parseMac("02:00:00:00:00:01"),
    key: 1,
    portPriority: 32768,
    port: 1,
    state: 0x3d,
  },
  collectorMaxDelay: 0,
  extraTlvs: [],
};

Deno.test("encodeLacpdu() reproduces a hand-written golden frame byte for byte", () => {
  assert.equal(GOLDEN_LACPDU.length, 124);
  assert.deepEqual(encodeLacpdu(GOLDEN_PDU, SRC), GOLDEN_LACPDU);
});

Deno.test("decodeLacpdu() reads a hand-written golden frame", () => {
  const pdu = decodeLacpdu(GOLDEN_LACPDU);
  assert.deepEqual(pdu, GOLDEN_PDU);
  assert.equal(formatMac(pdu.actor.system), "02:a1:b2:c3:d4:00");
  assert.equal(formatStateLetters(pdu.actor.state), "ATGSCD");
  assert.equal(formatStateLetters(pdu.partner.state), "AGSCD");
});

Deno.test("decodeLacpdu() inverts encodeLacpdu() at the edges of every field range", () => {
  const zero: LacpPortInfo = {
    systemPriority: 0,
    system: new Uint8Array(6),
    key: 0,
    portPriority: 0,
    port: 0,
    state: 0,
  };
  const max: LacpPortInfo = {
    systemPriority: 0xffff,
    system: new Uint8Array(6).fill(0xff),
    key: 0xffff,
    portPriority: 0xffff,
    port: 0xffff,
    state: 0xff,
  };
  const cases: Lacpdu[] = [
    PDU,
    { ...PDU, actor: zero, partner: max, collectorMaxDelay: 0 },
    { ...PDU, actor: max, partner: zero, collectorMaxDelay: 0xffff },
    { ...PDU, version: 255 },
  ];
  for (let state = 0; state <= 0xff; state += 17) {
    cases.push({
      ...PDU,
      actor: { ...ACTOR, state },
      partner: { ...PARTNER, state: state ^ 0xff },
    });
  }
  for (const pdu of cases) assert.deepEqual(decodeLacpdu(encodeLacpdu(pdu, SRC)), pdu);
});

Deno.test("decodeLacpdu() returns systems that are copies, not views into the frame", () => {
  const frame = encodeLacpdu(PDU, SRC);
  const pdu = decodeLacpdu(frame);
  frame.fill(0xee, 16, 60);
  assert.deepEqual(pdu.actor.system, ACTOR.system);
  assert.deepEqual(pdu.partner.system, PARTNER.system);
  assert.notEqual(pdu.actor.system.buffer, frame.buffer);
  assert.equal(pdu.actor.system.byteLength, pdu.actor.system.buffer.byteLength);
});

Deno.test("decodeLacpdu() reads a frame at an offset in a larger buffer", () => {
  const buffer = new Uint8Array(300).fill(0x55);
  buffer.set(GOLDEN_LACPDU, 37);
  assert.deepEqual(decodeLacpdu(buffer.subarray(37, 37 + 124)), GOLDEN_PDU);
});

Deno.test("decodeLacpdu() does not check the destination MAC", () => {
  const unicast = patched(GOLDEN_LACPDU, 0, [0x02, 0, 0, 0, 0, 0x99]);
  assert.deepEqual(decodeLacpdu(unicast), GOLDEN_PDU);
  const broadcast = patched(GOLDEN_LACPDU, 0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  assert.deepEqual(decodeLacpdu(broadcast), GOLDEN_PDU);
});

Deno.test("decodeLacpdu() accepts non-zero reserved octets and ignores them", () => {
  const frame = GOLDEN_LACPDU.slice();
  for (const [start, end] of [[33, 36], [53, 56], [60, 72], [74, 124]] as const) {
    frame.fill(0xa5, start, end);
  }
  assert.deepEqual(decodeLacpdu(frame), GOLDEN_PDU);
});

Deno.test("decodeLacpdu() accepts frames longer than 124 bytes, such as ones with an FCS", () => {
  const long = new Uint8Array(128).fill(0x77);
  long.set(GOLDEN_LACPDU);
  assert.deepEqual(decodeLacpdu(long), GOLDEN_PDU);
});

Deno.test("decodeLacpdu() accepts versions above 1 without extra TLVs", () => {
  for (const version of [2, 3, 255]) {
    const pdu = decodeLacpdu(patched(GOLDEN_LACPDU, 15, [version]));
    assert.deepEqual(pdu, { ...GOLDEN_PDU, version });
  }
});

Deno.test("encodeLacpdu() writes a version 2 Port Algorithm TLV before the Terminator", () => {
  const pdu: Lacpdu = {
    ...PDU,
    version: 2,
    extraTlvs: [{ type: LacpTlvType.PORT_ALGORITHM, value: new Uint8Array([0, 0, 0, 5]) }],
  };
  const frame = encodeLacpdu(pdu, SRC);
  assert.equal(frame.length, 124);
  assert.equal(frame[15], 2);
  assert.deepEqual([...frame.subarray(72, 80)], [4, 6, 0, 0, 0, 5, 0, 0]);
  assert.ok(frame.subarray(80).every((b) => b === 0));
  // Everything before the extra TLV is the version 1 layout.
  assert.deepEqual(
    frame.subarray(16, 72),
    encodeLacpdu({ ...pdu, version: 1, extraTlvs: [] }, SRC).subarray(16, 72),
  );
});

Deno.test("decodeLacpdu() accepts version 2 with a Port Algorithm TLV", () => {
  const frame = patched(GOLDEN_LACPDU, 72, [0x04, 0x06, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00]);
  frame[15] = 2;
  const pdu = decodeLacpdu(frame);
  assert.deepEqual(pdu, {
    ...GOLDEN_PDU,
    version: 2,
    extraTlvs: [{ type: LacpTlvType.PORT_ALGORITHM, value: new Uint8Array([0, 0, 0, 5]) }],
  });
  assert.deepEqual(encodeLacpdu(pdu, SRC), frame);
  // The TLV value is a copy too.
  frame[77] = 0xff;
  assert.equal(pdu.extraTlvs[0]?.value[3], 5);
});

Deno.test("decodeLacpdu() of version 2 ignores octets after the Terminator", () => {
  const frame = patched(GOLDEN_LACPDU, 72, [0x04, 0x06, 0, 0, 0, 1, 0x00, 0x00]);
  frame[15] = 2;
  frame.fill(0xff, 80);
  assert.deepEqual(decodeLacpdu(frame).extraTlvs, [{
    type: 4,
    value: new Uint8Array([0, 0, 0, 1]),
  }]);
});

Deno.test("encodeLacpdu() shrinks the reserved tail for extra TLVs and grows the frame only past 124", () => {
  const withTlvs = (...lengths: number[]): Lacpdu => ({
    ...PDU,
    version: 2,
    extraTlvs: lengths.map((length, i) => ({
      type: 0x10 + i,
      value: new Uint8Array(length - 2).fill(i + 1),
    })),
  });
  // [TLV lengths, frame length]: 72 + TLVs + 2 for the Terminator, never below 124.
  const cases: [number[], number][] = [
    [[6, 20, 18], 124],
    [[48], 124],
    [[50], 124],
    [[51], 125],
    [[2], 124],
    [[131, 130], 335],
    [[255], 329],
  ];
  for (const [lengths, expected] of cases) {
    const pdu = withTlvs(...lengths);
    const frame = encodeLacpdu(pdu, SRC);
    assert.equal(frame.length, expected, `TLV lengths ${lengths}`);
    const end = 72 + lengths.reduce((a, b) => a + b, 0);
    assert.deepEqual([...frame.subarray(end, end + 2)], [0, 0], "Terminator");
    assert.ok(frame.subarray(end + 2).every((b) => b === 0), "reserved tail");
    assert.deepEqual(decodeLacpdu(frame), pdu);
  }
});

Deno.test("decodeLacpdu() keeps several version 2 TLVs in wire order, including a v1 type repeated", () => {
  const pdu: Lacpdu = {
    ...PDU,
    version: 2,
    extraTlvs: [
      { type: LacpTlvType.PORT_ALGORITHM, value: new Uint8Array([0, 0, 0, 1]) },
      { type: LacpTlvType.PORT_CONVERSATION_ID_DIGEST, value: new Uint8Array(18).fill(0xd1) },
      { type: LacpTlvType.ACTOR, value: new Uint8Array(0) },
      { type: 0xff, value: new Uint8Array([9]) },
    ],
  };
  assert.deepEqual(decodeLacpdu(encodeLacpdu(pdu, SRC)), pdu);
});

Deno.test("encodeLacpdu() writes version 0 as given so a test peer can send it", () => {
  const frame = encodeLacpdu({ ...PDU, version: 0 }, SRC);
  assert.equal(frame[15], 0);
  assertMalformed(() => decodeLacpdu(frame), "bad_version");
});

Deno.test("decodeLacpdu() rejects frames shorter than 124 bytes as runts", () => {
  for (const length of [0, 13, 14, 15, 60, 72, 74, 123]) {
    assertMalformed(
      () => decodeLacpdu(GOLDEN_LACPDU.subarray(0, length)),
      "runt",
      `LACPDU frame too short: ${length} bytes, it needs 124`,
    );
  }
});

Deno.test("decodeLacpdu() rejects other EtherTypes and 802.3 length fields", () => {
  assertMalformed(
    () => decodeLacpdu(patched(GOLDEN_LACPDU, 12, [0x08, 0x00])),
    "not_slow_protocols",
    "LACPDU frame has EtherType 0x0800, not Slow Protocols (0x8809)",
  );
  assertMalformed(
    () => decodeLacpdu(patched(GOLDEN_LACPDU, 12, [0x00, 0x6e])),
    "not_slow_protocols",
  );
  // A short frame of another protocol is reported as such, not as a runt.
  assertMalformed(
    () => decodeLacpdu(patched(GOLDEN_LACPDU, 12, [0x08, 0x06]).subarray(0, 60)),
    "not_slow_protocols",
  );
});

Deno.test("decodeLacpdu() rejects VLAN-tagged frames", () => {
  assertMalformed(
    () => decodeLacpdu(tagged(GOLDEN_LACPDU)),
    "vlan_tagged",
    "LACPDU frame is VLAN tagged (TPID 0x8100): Slow Protocols frames are untagged",
  );
  assertMalformed(() => decodeLacpdu(tagged(GOLDEN_LACPDU, 0x88a8)), "vlan_tagged");
  assertMalformed(() => decodeLacpdu(tagged(GOLDEN_LACPDU, 0x9100)), "vlan_tagged");
});

Deno.test("decodeLacpdu() rejects subtypes other than 1", () => {
  for (const subtype of [0, 2, 3, 10, 255]) {
    assertMalformed(
      () => decodeLacpdu(patched(GOLDEN_LACPDU, 14, [subtype])),
      "wrong_subtype",
      `LACPDU frame has Slow Protocols subtype "${subtype}", expected 1`,
    );
  }
});

Deno.test("decodeLacpdu() rejects version 0", () => {
  assertMalformed(
    () => decodeLacpdu(patched(GOLDEN_LACPDU, 15, [0])),
    "bad_version",
    'LACPDU has version "0": version 1 or later expected',
  );
});

Deno.test("decodeLacpdu() rejects Actor, Partner and Collector TLVs of the wrong type or length", () => {
  const cases: [number, [number, number], string, string][] = [
    [16, [2, 20], "bad_actor_tlv", "Actor Information"],
    [16, [1, 19], "bad_actor_tlv", "Actor Information"],
    [16, [1, 0], "bad_actor_tlv", "Actor Information"],
    [36, [1, 20], "bad_partner_tlv", "Partner Information"],
    [36, [2, 21], "bad_partner_tlv", "Partner Information"],
    [56, [4, 16], "bad_collector_tlv", "Collector Information"],
    [56, [3, 20], "bad_collector_tlv", "Collector Information"],
  ];
  for (const version of [1, 2]) {
    for (const [offset, [type, length], reason, name] of cases) {
      const frame = patched(GOLDEN_LACPDU, offset, [type, length]);
      frame[15] = version;
      const [wantType, wantLength] = [GOLDEN_LACPDU[offset], GOLDEN_LACPDU[offset + 1]];
      assertMalformed(
        () => decodeLacpdu(frame),
        reason,
        `${name} TLV at offset ${offset} has type "${type}" and length "${length}", expected ${wantType} and ${wantLength}`,
      );
    }
  }
});

Deno.test("decodeLacpdu() of version 1 rejects anything but a 0/0 Terminator at offset 72", () => {
  for (const bytes of [[4, 6], [0, 1], [0, 2], [1, 0]]) {
    assertMalformed(
      () => decodeLacpdu(patched(GOLDEN_LACPDU, 72, bytes)),
      "bad_terminator",
      `Terminator TLV at offset 72 has type "${bytes[0]}" and length "${
        bytes[1]
      }", expected 0 and 0`,
    );
  }
});

Deno.test("decodeLacpdu() of version 2 rejects TLVs shorter than 2 or past the frame's end", () => {
  const v2 = patched(GOLDEN_LACPDU, 15, [2]);
  for (const length of [0, 1]) {
    assertMalformed(
      () => decodeLacpdu(patched(v2, 72, [4, length])),
      "bad_tlv_length",
      `LACPDU TLV type 4 at offset 72 has length "${length}": it must be at least 2 and fit in the 124-byte frame`,
    );
  }
  assertMalformed(() => decodeLacpdu(patched(v2, 72, [9, 53])), "bad_tlv_length");
  assertMalformed(() => decodeLacpdu(patched(v2, 72, [9, 255])), "bad_tlv_length");
  // A bad length in the second TLV.
  assertMalformed(
    () => decodeLacpdu(patched(v2, 72, [4, 6, 0, 0, 0, 0, 5, 1])),
    "bad_tlv_length",
    'LACPDU TLV type 5 at offset 78 has length "1": it must be at least 2 and fit in the 124-byte frame',
  );
});

Deno.test("decodeLacpdu() of version 2 rejects a Terminator with a length and a missing Terminator", () => {
  const v2 = patched(GOLDEN_LACPDU, 15, [2]);
  assertMalformed(
    () => decodeLacpdu(patched(v2, 72, [4, 6, 0, 0, 0, 0, 0, 5])),
    "bad_terminator",
    'Terminator TLV at offset 78 has length "5", expected 0',
  );
  // TLVs that end exactly at, or one byte before, the end of the frame leave no room for it.
  assertMalformed(
    () => decodeLacpdu(patched(v2, 72, [9, 52])),
    "missing_terminator",
    "LACPDU has no Terminator TLV: the TLVs run to the end of the 124-byte frame",
  );
  assertMalformed(() => decodeLacpdu(patched(v2, 72, [9, 51])), "missing_terminator");
  // With two more bytes the Terminator fits.
  const longer = new Uint8Array(126);
  longer.set(patched(v2, 72, [9, 52]));
  assert.deepEqual(decodeLacpdu(longer).extraTlvs, [{ type: 9, value: new Uint8Array(50) }]);
});

Deno.test("encodeLacpdu() rejects fields outside their ranges", () => {
  const cases: [Lacpdu, string][] = [
    [{ ...PDU, version: 256 }, 'Invalid LACPDU version "256": expected an integer from 0 to 0xff'],
    [{ ...PDU, version: -1 }, 'Invalid LACPDU version "-1": expected an integer from 0 to 0xff'],
    [
      { ...PDU, actor: { ...ACTOR, systemPriority: 0x10000 } },
      'Invalid actor system priority "65536": expected an integer from 0 to 0xffff',
    ],
    [
      { ...PDU, actor: { ...ACTOR, key: -1 } },
      'Invalid actor key "-1": expected an integer from 0 to 0xffff',
    ],
    [
      { ...PDU, actor: { ...ACTOR, portPriority: NaN } },
      'Invalid actor port priority "NaN": expected an integer from 0 to 0xffff',
    ],
    [
      { ...PDU, partner: { ...PARTNER, port: 1.5 } },
      'Invalid partner port "1.5": expected an integer from 0 to 0xffff',
    ],
    [
      { ...PDU, partner: { ...PARTNER, state: 256 } },
      'Invalid partner state "256": expected an integer from 0 to 0xff',
    ],
    [
      { ...PDU, actor: { ...ACTOR, state: -1 } },
      'Invalid actor state "-1": expected an integer from 0 to 0xff',
    ],
    [
      { ...PDU, actor: { ...ACTOR, system: new Uint8Array(5) } },
      "Invalid actor system: expected 6 bytes, got 5",
    ],
    [
      { ...PDU, partner: { ...PARTNER, system: new Uint8Array(7) } },
      "Invalid partner system: expected 6 bytes, got 7",
    ],
    [
      { ...PDU, collectorMaxDelay: 0x10000 },
      'Invalid collector max delay "65536": expected an integer from 0 to 0xffff',
    ],
    [
      { ...PDU, extraTlvs: [{ type: 4, value: new Uint8Array(4) }] },
      'Invalid LACPDU version "1" for extra TLVs: they need version 2 or later',
    ],
    [
      { ...PDU, version: 2, extraTlvs: [{ type: 0, value: new Uint8Array(4) }] },
      'Invalid LACPDU TLV type "0": expected an integer from 1 to 0xff',
    ],
    [
      { ...PDU, version: 2, extraTlvs: [{ type: 256, value: new Uint8Array(4) }] },
      'Invalid LACPDU TLV type "256": expected an integer from 1 to 0xff',
    ],
    [
      { ...PDU, version: 2, extraTlvs: [{ type: 6, value: new Uint8Array(254) }] },
      "Invalid LACPDU TLV type 6: its value has 254 bytes, at most 253 fit",
    ],
  ];
  for (const [pdu, message] of cases) {
    assert.throws(() => encodeLacpdu(pdu, SRC), { name: "RangeError", message });
  }
  assert.throws(() => encodeLacpdu(PDU, new Uint8Array(5)), {
    name: "RangeError",
    message: "Invalid source MAC address: expected 6 bytes, got 5",
  });
});

Deno.test("slowSubtypeAt() returns the subtype of untagged Slow Protocols frames and -1 otherwise", () => {
  assert.equal(slowSubtypeAt(GOLDEN_LACPDU), SlowSubtype.LACP);
  assert.equal(slowSubtypeAt(encodeMarker(MARKER, SRC)), SlowSubtype.MARKER);
  // OAM (subtype 3) and other short PDUs: the length is the decoders' business.
  const oam = patched(GOLDEN_LACPDU, 14, [3]).subarray(0, 60);
  assert.equal(slowSubtypeAt(oam), 3);
  assert.equal(slowSubtypeAt(GOLDEN_LACPDU.subarray(0, 15)), 1);
  assert.equal(slowSubtypeAt(GOLDEN_LACPDU.subarray(0, 14)), -1);
  assert.equal(slowSubtypeAt(new Uint8Array(0)), -1);
  assert.equal(slowSubtypeAt(tagged(GOLDEN_LACPDU)), -1);
  assert.equal(slowSubtypeAt(patched(GOLDEN_LACPDU, 12, [0x88, 0xcc])), -1);
});

// A Marker Information PDU written out by hand from the 802.1AX Marker PDU layout.
const GOLDEN_MARKER = fromHex(`
  0180c2000002 02a1b2c3d401 8809
  02 01
  01 10 0102 02000000000c deadbeef 0000
  00 00
  000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
  000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
`);

Deno.test("encodeMarker() reproduces a hand-written golden Marker Information frame", () => {
  assert.equal(GOLDEN_MARKER.length, 124);
  assert.deepEqual(encodeMarker(MARKER, SRC), GOLDEN_MARKER);
});

Deno.test("decodeMarker() reads Marker Information and Response PDUs", () => {
  assert.deepEqual(decodeMarker(GOLDEN_MARKER), MARKER);
  const response = decodeMarker(patched(GOLDEN_MARKER, 16, [2]));
  assert.deepEqual(response, { ...MARKER, tlv: "response" });
});

Deno.test("decodeMarker() inverts encodeMarker() at the edges of every field range", () => {
  const cases: MarkerPdu[] = [
    MARKER,
    { ...MARKER, tlv: "response" },
    {
      version: 255,
      tlv: "information",
      requesterPort: 0,
      requesterSystem: new Uint8Array(6),
      transactionId: 0,
    },
    {
      version: 1,
      tlv: "response",
      requesterPort: 0xffff,
      requesterSystem: new Uint8Array(6).fill(0xff),
      transactionId: 0xffff_ffff,
    },
    { ...MARKER, transactionId: 0x8000_0000 },
  ];
  for (const pdu of cases) assert.deepEqual(decodeMarker(encodeMarker(pdu, SRC)), pdu);
});

Deno.test("decodeMarker() returns a copied system and ignores the Pad, reserved octets and destination", () => {
  const frame = GOLDEN_MARKER.slice();
  frame.fill(0x5a, 30, 32); // Pad
  frame.fill(0xa5, 34); // reserved
  frame.set([0x02, 0, 0, 0, 0, 0x99], 0);
  const pdu = decodeMarker(frame);
  assert.deepEqual(pdu, MARKER);
  frame.fill(0, 20, 26);
  assert.deepEqual(pdu.requesterSystem, MARKER.requesterSystem);
});

Deno.test("markerResponse() answers with the same fields and a response TLV", () => {
  const request = decodeMarker(GOLDEN_MARKER);
  const response = markerResponse(request);
  assert.deepEqual(response, { ...MARKER, tlv: "response" });
  assert.equal(request.tlv, "information");
  assert.notEqual(response.requesterSystem, request.requesterSystem);
  // On the wire the answer differs from the request in the TLV type only.
  const encoded = encodeMarker(response, SRC);
  assert.deepEqual(encoded, patched(GOLDEN_MARKER, 16, [2]));
  assert.deepEqual(markerResponse(response), response);
});

Deno.test("decodeMarker() rejects runts, other EtherTypes, tags, other subtypes and version 0", () => {
  for (const length of [0, 13, 14, 33, 123]) {
    assertMalformed(
      () => decodeMarker(GOLDEN_MARKER.subarray(0, length)),
      "runt",
      `Marker PDU frame too short: ${length} bytes, it needs 124`,
    );
  }
  assertMalformed(
    () => decodeMarker(patched(GOLDEN_MARKER, 12, [0x88, 0xcc])),
    "not_slow_protocols",
    "Marker PDU frame has EtherType 0x88cc, not Slow Protocols (0x8809)",
  );
  assertMalformed(() => decodeMarker(tagged(GOLDEN_MARKER)), "vlan_tagged");
  assertMalformed(
    () => decodeMarker(GOLDEN_LACPDU),
    "wrong_subtype",
    'Marker PDU frame has Slow Protocols subtype "1", expected 2',
  );
  assertMalformed(
    () => decodeMarker(patched(GOLDEN_MARKER, 15, [0])),
    "bad_version",
    'Marker PDU has version "0": version 1 or later expected',
  );
  assert.equal(decodeMarker(patched(GOLDEN_MARKER, 15, [2])).version, 2);
});

Deno.test("decodeMarker() rejects a TLV other than information or response of length 16", () => {
  for (
    const [type, length] of [[0, 16], [3, 16], [255, 16], [1, 15], [2, 17], [1, 0]] as const
  ) {
    assertMalformed(
      () => decodeMarker(patched(GOLDEN_MARKER, 16, [type, length])),
      "bad_marker_tlv",
      `Marker PDU TLV has type "${type}" and length "${length}", expected type 1 (information) or 2 (response) and length 16`,
    );
  }
});

Deno.test("decodeMarker() rejects anything but a 0/0 Terminator at offset 32", () => {
  for (const bytes of [[1, 0], [0, 2], [2, 16]]) {
    assertMalformed(
      () => decodeMarker(patched(GOLDEN_MARKER, 32, bytes)),
      "bad_terminator",
      `Terminator TLV at offset 32 has type "${bytes[0]}" and length "${
        bytes[1]
      }", expected 0 and 0`,
    );
  }
});

Deno.test("encodeMarker() rejects fields outside their ranges", () => {
  const cases: [MarkerPdu, string][] = [
    [
      { ...MARKER, version: 256 },
      'Invalid Marker PDU version "256": expected an integer from 0 to 0xff',
    ],
    [
      { ...MARKER, tlv: "request" as MarkerPdu["tlv"] },
      'Invalid Marker TLV "request": expected "information" or "response"',
    ],
    [
      { ...MARKER, requesterPort: 0x10000 },
      'Invalid Marker requester port "65536": expected an integer from 0 to 0xffff',
    ],
    [
      { ...MARKER, requesterSystem: new Uint8Array(0) },
      "Invalid Marker requester system: expected 6 bytes, got 0",
    ],
    [
      { ...MARKER, transactionId: 0x1_0000_0000 },
      'Invalid Marker transaction ID "4294967296": expected an integer from 0 to 0xffffffff',
    ],
    [
      { ...MARKER, transactionId: -1 },
      'Invalid Marker transaction ID "-1": expected an integer from 0 to 0xffffffff',
    ],
  ];
  for (const [pdu, message] of cases) {
    assert.throws(() => encodeMarker(pdu, SRC), { name: "RangeError", message });
  }
  assert.throws(() => encodeMarker(MARKER, new Uint8Array(8)), {
    name: "RangeError",
    message: "Invalid source MAC address: expected 6 bytes, got 8",
  });
});
