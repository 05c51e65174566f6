import assert from "node:assert/strict";
import {
  decodeEthernet,
  decodeVlanTci,
  encodeEthernet,
  encodeVlanTci,
  ETH_HEADER_LEN,
  ETH_MIN_FRAME,
  ethernetHeaderLengthAt,
  EtherType,
  etherTypeAt,
  isVlanTpid,
  type VlanTag,
  writeEthernetHeader,
} from "./ethernet.ts";
import { MalformedPacketError } from "./errors.ts";
import { BROADCAST_MAC, formatMac, parseMac } from "./mac.ts";

const DST = parseMac("02:00:00:00:00:02");
const SRC = parseMac("02:00:00:00:00:01");

/** dst, src, then the given 16-bit words, then `tail`. */
function rawFrame(words: number[], tail: number[] = []): Uint8Array {
  const bytes = [...DST, ...SRC];
  for (const word of words) bytes.push(word >>> 8, word & 0xff);
  return new Uint8Array([...bytes, ...tail]);
}

function assertMalformed(fn: () => unknown, reason: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.name, "MalformedPacketError");
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  });
}

Deno.test("EtherType holds the IEEE-assigned values", () => {
  assert.equal(EtherType.IPV4, 0x0800);
  assert.equal(EtherType.ARP, 0x0806);
  assert.equal(EtherType.VLAN, 0x8100);
  assert.equal(EtherType.QINQ, 0x88a8);
  assert.equal(EtherType.IPV6, 0x86dd);
  assert.equal(EtherType.SLOW_PROTOCOLS, 0x8809);
  assert.equal(EtherType.LOCAL_EXPERIMENTAL, 0x88b5);
  assert.equal(EtherType.LLDP, 0x88cc);
  assert.equal(EtherType.EAPOL, 0x888e);
  assert.equal(EtherType.QINQ_LEGACY, 0x9100);
  assert.equal(ETH_HEADER_LEN, 14);
  assert.equal(ETH_MIN_FRAME, 60);
});

Deno.test("decodeEthernet() reads an untagged frame as views into it", () => {
  const frame = rawFrame([EtherType.IPV4], [0x45, 0, 0, 20]);
  const eth = decodeEthernet(frame);
  assert.equal(formatMac(eth.dst), "02:00:00:00:00:02");
  assert.equal(formatMac(eth.src), "02:00:00:00:00:01");
  assert.deepEqual(eth.vlanTags, []);
  assert.equal(eth.etherType, EtherType.IPV4);
  assert.equal(eth.isLengthField, false);
  assert.equal(eth.headerLength, 14);
  assert.deepEqual([...eth.payload], [0x45, 0, 0, 20]);
  // Views, not copies: a write through the frame shows in the decoded fields.
  frame[0] = 0x33;
  frame[14] = 0x46;
  assert.equal(eth.dst[0], 0x33);
  assert.equal(eth.payload[0], 0x46);
  assert.equal(eth.src.buffer, frame.buffer);
});

Deno.test("decodeEthernet() reads a frame that sits at an offset in a larger buffer", () => {
  const buffer = new Uint8Array(100);
  const inner = rawFrame([0x8100, 0x0064, EtherType.ARP], [1, 2]);
  buffer.set(inner, 30);
  const eth = decodeEthernet(buffer.subarray(30, 30 + inner.length));
  assert.deepEqual(eth.vlanTags, [{ tpid: 0x8100, pcp: 0, dei: false, vid: 100 }]);
  assert.equal(eth.etherType, EtherType.ARP);
  assert.equal(eth.src.byteOffset, 36);
  assert.deepEqual([...eth.payload], [1, 2]);
});

Deno.test("decodeEthernet() accepts an exactly 14-byte frame with an empty payload", () => {
  const eth = decodeEthernet(rawFrame([EtherType.LLDP]));
  assert.equal(eth.headerLength, 14);
  assert.equal(eth.payload.length, 0);
});

Deno.test("decodeEthernet() reads an 802.1Q tag's PCP, DEI and VID", () => {
  const eth = decodeEthernet(rawFrame([0x8100, (5 << 13) | 0x1000 | 100, EtherType.IPV6], [9]));
  assert.deepEqual(eth.vlanTags, [{ tpid: 0x8100, pcp: 5, dei: true, vid: 100 }]);
  assert.equal(eth.etherType, EtherType.IPV6);
  assert.equal(eth.headerLength, 18);
  assert.deepEqual([...eth.payload], [9]);
});

Deno.test("decodeEthernet() reads stacked tags outermost first for every TPID", () => {
  const eth = decodeEthernet(
    rawFrame([0x88a8, (3 << 13) | 200, 0x9100, 4095, 0x8100, (7 << 13) | 1, 0x88b5]),
  );
  assert.deepEqual(eth.vlanTags, [
    { tpid: 0x88a8, pcp: 3, dei: false, vid: 200 },
    { tpid: 0x9100, pcp: 0, dei: false, vid: 4095 },
    { tpid: 0x8100, pcp: 7, dei: false, vid: 1 },
  ]);
  assert.equal(eth.etherType, 0x88b5);
  assert.equal(eth.headerLength, 26);
  assert.equal(eth.payload.length, 0);
});

Deno.test("decodeEthernet() flags type values below 0x0600 as 802.3 length fields", () => {
  const llc = decodeEthernet(rawFrame([0x0026], [0x42, 0x42, 0x03]));
  assert.equal(llc.etherType, 0x26);
  assert.equal(llc.isLengthField, true);
  assert.deepEqual([...llc.payload], [0x42, 0x42, 0x03]);
  assert.equal(decodeEthernet(rawFrame([0x05ff])).isLengthField, true);
  assert.equal(decodeEthernet(rawFrame([0x0600])).isLengthField, false);
  // A length field can follow a VLAN tag too.
  const tagged = decodeEthernet(rawFrame([0x8100, 10, 0x0003], [0xaa, 0xaa, 0x03]));
  assert.equal(tagged.isLengthField, true);
  assert.equal(tagged.vlanTags.length, 1);
});

Deno.test("decodeEthernet() rejects runts shorter than 14 bytes", () => {
  for (const length of [0, 1, 12, 13]) {
    assertMalformed(
      () => decodeEthernet(new Uint8Array(length)),
      "runt",
      `Ethernet frame too short: ${length} bytes, a header needs 14`,
    );
  }
});

Deno.test("decodeEthernet() rejects a VLAN tag or its inner type cut off", () => {
  const tagged = rawFrame([0x8100, 100, 0x0800]);
  for (const length of [14, 15, 16, 17]) {
    assertMalformed(
      () => decodeEthernet(tagged.subarray(0, length)),
      "truncated_vlan_tag",
      `Ethernet frame truncated in VLAN tag 1 (TPID 0x8100): ${length} bytes, the tag and the type after it need 18`,
    );
  }
  assert.equal(decodeEthernet(tagged).headerLength, 18);
  const qinq = rawFrame([0x88a8, 200, 0x8100, 100, 0x0800]);
  assertMalformed(
    () => decodeEthernet(qinq.subarray(0, 21)),
    "truncated_vlan_tag",
    "Ethernet frame truncated in VLAN tag 2 (TPID 0x8100): 21 bytes, the tag and the type after it need 22",
  );
  assertMalformed(
    () => decodeEthernet(rawFrame([0x9100])),
    "truncated_vlan_tag",
    "Ethernet frame truncated in VLAN tag 1 (TPID 0x9100): 14 bytes, the tag and the type after it need 18",
  );
});

Deno.test("etherTypeAt() and ethernetHeaderLengthAt() skip tags and agree with decodeEthernet()", () => {
  const frames = [
    rawFrame([EtherType.IPV4]),
    rawFrame([0x0026], [1, 2, 3]),
    rawFrame([0x8100, 5, EtherType.ARP], [0]),
    rawFrame([0x88a8, 5, 0x8100, 6, EtherType.LLDP]),
    rawFrame([0x9100, 5, 0x9100, 6, 0x88a8, 7, EtherType.SLOW_PROTOCOLS], [1]),
  ];
  for (const frame of frames) {
    const eth = decodeEthernet(frame);
    assert.equal(etherTypeAt(frame), eth.etherType);
    assert.equal(ethernetHeaderLengthAt(frame), eth.headerLength);
  }
});

Deno.test("etherTypeAt() and ethernetHeaderLengthAt() return -1 for runts and truncated tags", () => {
  const qinq = rawFrame([0x88a8, 200, 0x8100, 100, 0x0800]);
  for (
    const frame of [
      new Uint8Array(0),
      new Uint8Array(13),
      qinq.subarray(0, 17),
      qinq.subarray(0, 21),
    ]
  ) {
    assert.equal(etherTypeAt(frame), -1, `length ${frame.length}`);
    assert.equal(ethernetHeaderLengthAt(frame), -1, `length ${frame.length}`);
  }
  assert.equal(etherTypeAt(qinq), 0x0800);
});

Deno.test("isVlanTpid() recognises 0x8100, 0x88a8 and 0x9100 only", () => {
  assert.equal(isVlanTpid(0x8100), true);
  assert.equal(isVlanTpid(0x88a8), true);
  assert.equal(isVlanTpid(0x9100), true);
  for (const type of [0x0800, 0x86dd, 0x9200, 0x8101, 0]) assert.equal(isVlanTpid(type), false);
});

Deno.test("encodeVlanTci() packs PCP, DEI and VID", () => {
  assert.equal(encodeVlanTci({ vid: 100, pcp: 5 }), 0xa064);
  assert.equal(encodeVlanTci({ vid: 100 }), 0x0064);
  assert.equal(encodeVlanTci({ vid: 0, dei: true }), 0x1000);
  assert.equal(encodeVlanTci({ vid: 4095, pcp: 7, dei: true }), 0xffff);
  assert.equal(encodeVlanTci({ vid: 0, pcp: 0, dei: false }), 0);
});

Deno.test("encodeVlanTci() rejects VIDs outside 0..4095 and PCPs outside 0..7", () => {
  for (const vid of [-1, 4096, 1.5, NaN]) {
    assert.throws(() => encodeVlanTci({ vid }), {
      name: "RangeError",
      message: `Invalid VLAN ID "${vid}": expected an integer from 0 to 4095`,
    });
  }
  for (const pcp of [-1, 8, 0.5]) {
    assert.throws(() => encodeVlanTci({ vid: 1, pcp }), {
      name: "RangeError",
      message: `Invalid VLAN priority (PCP) "${pcp}": expected an integer from 0 to 7`,
    });
  }
});

Deno.test("decodeVlanTci() inverts encodeVlanTci() and carries the TPID", () => {
  assert.deepEqual(decodeVlanTci(0xa064), { tpid: 0x8100, pcp: 5, dei: false, vid: 100 });
  assert.deepEqual(decodeVlanTci(0xffff, 0x88a8), { tpid: 0x88a8, pcp: 7, dei: true, vid: 4095 });
  for (let tci = 0; tci <= 0xffff; tci += 97) assert.equal(encodeVlanTci(decodeVlanTci(tci)), tci);
  for (const tci of [-1, 0x10000, 2.5]) {
    assert.throws(() => decodeVlanTci(tci), {
      name: "RangeError",
      message: `Invalid VLAN TCI "${tci}": expected an integer from 0 to 0xffff`,
    });
  }
});

Deno.test("encodeEthernet() writes dst, src, type and payload, zero-padded to 60 bytes", () => {
  const frame = encodeEthernet({
    dst: BROADCAST_MAC,
    src: SRC,
    etherType: EtherType.ARP,
    payload: new Uint8Array([1, 2]),
  });
  assert.equal(frame.length, 60);
  assert.deepEqual([...frame.subarray(0, 16)], [...BROADCAST_MAC, ...SRC, 0x08, 0x06, 1, 2]);
  assert.ok(frame.subarray(16).every((b) => b === 0));
});

Deno.test("encodeEthernet() with pad false or a long payload adds no padding", () => {
  const short = encodeEthernet({
    dst: DST,
    src: SRC,
    etherType: 0x88b5,
    payload: new Uint8Array(3),
    pad: false,
  });
  assert.equal(short.length, 17);
  assert.equal(
    encodeEthernet({ dst: DST, src: SRC, etherType: 0x88b5, payload: new Uint8Array(46) }).length,
    60,
  );
  assert.equal(
    encodeEthernet({ dst: DST, src: SRC, etherType: 0x88b5, payload: new Uint8Array(47) }).length,
    61,
  );
  assert.equal(
    encodeEthernet({ dst: DST, src: SRC, etherType: 0x88b5, payload: new Uint8Array(1500) }).length,
    1514,
  );
});

Deno.test("encodeEthernet() writes VLAN tags outermost first with defaults for omitted fields", () => {
  const frame = encodeEthernet({
    dst: DST,
    src: SRC,
    etherType: EtherType.IPV4,
    vlanTags: [{ tpid: 0x88a8, vid: 200, pcp: 3 }, { vid: 100, dei: true }],
    payload: new Uint8Array([0x45]),
    pad: false,
  });
  assert.deepEqual([...frame.subarray(12)], [
    0x88,
    0xa8,
    0x60,
    0xc8,
    0x81,
    0x00,
    0x10,
    0x64,
    0x08,
    0x00,
    0x45,
  ]);
});

Deno.test("encodeEthernet() copies the payload and round-trips through decodeEthernet()", () => {
  const payload = new Uint8Array(100).map((_, i) => i);
  const vlanTags: VlanTag[] = [{ tpid: 0x88a8, pcp: 6, dei: true, vid: 4094 }, {
    tpid: 0x8100,
    pcp: 1,
    dei: false,
    vid: 2,
  }];
  const frame = encodeEthernet({
    dst: DST,
    src: SRC,
    etherType: EtherType.IPV6,
    vlanTags,
    payload,
  });
  payload[0] = 0xee;
  const eth = decodeEthernet(frame);
  assert.deepEqual(eth.dst, DST);
  assert.deepEqual(eth.src, SRC);
  assert.deepEqual(eth.vlanTags, vlanTags);
  assert.equal(eth.etherType, EtherType.IPV6);
  assert.equal(eth.headerLength, 22);
  assert.equal(eth.payload[0], 0);
  assert.deepEqual(eth.payload.subarray(1), payload.subarray(1));
});

Deno.test("encodeEthernet() rejects MACs that are not 6 bytes and types outside 16 bits", () => {
  const base = { dst: DST, src: SRC, etherType: 0x0800, payload: new Uint8Array(0) };
  assert.throws(() => encodeEthernet({ ...base, dst: new Uint8Array(5) }), {
    name: "RangeError",
    message: "Invalid destination MAC address: expected 6 bytes, got 5",
  });
  assert.throws(() => encodeEthernet({ ...base, src: new Uint8Array(7) }), {
    name: "RangeError",
    message: "Invalid source MAC address: expected 6 bytes, got 7",
  });
  for (const etherType of [-1, 0x10000, 1.5]) {
    assert.throws(() => encodeEthernet({ ...base, etherType }), {
      name: "RangeError",
      message: `Invalid EtherType "${etherType}": expected an integer from 0 to 0xffff`,
    });
  }
  assert.throws(() => encodeEthernet({ ...base, vlanTags: [{ tpid: 0x10000, vid: 1 }] }), {
    name: "RangeError",
    message: 'Invalid TPID "65536": expected an integer from 0 to 0xffff',
  });
  assert.throws(() => encodeEthernet({ ...base, vlanTags: [{ vid: 1 }, { vid: 4096 }] }), {
    name: "RangeError",
    message: 'Invalid VLAN ID "4096": expected an integer from 0 to 4095',
  });
  assert.throws(() => encodeEthernet({ ...base, vlanTags: [{ vid: 1, pcp: 8 }] }), {
    name: "RangeError",
    message: 'Invalid VLAN priority (PCP) "8": expected an integer from 0 to 7',
  });
});

Deno.test("writeEthernetHeader() writes at an offset and returns the header length", () => {
  const buffer = new Uint8Array(40).fill(0xee);
  const length = writeEthernetHeader(buffer, 4, {
    dst: DST,
    src: SRC,
    etherType: 0x88cc,
    vlanTags: [{ vid: 7 }],
  });
  assert.equal(length, 18);
  assert.deepEqual([...buffer.subarray(0, 4)], [0xee, 0xee, 0xee, 0xee]);
  assert.deepEqual([...buffer.subarray(4, 22)], [
    ...DST,
    ...SRC,
    0x81,
    0x00,
    0x00,
    0x07,
    0x88,
    0xcc,
  ]);
  assert.equal(buffer[22], 0xee);
});

Deno.test("writeEthernetHeader() rejects a header that does not fit and leaves the buffer untouched on a bad tag", () => {
  const header = { dst: DST, src: SRC, etherType: 0x0800 };
  assert.equal(writeEthernetHeader(new Uint8Array(14), 0, header), 14);
  assert.throws(() => writeEthernetHeader(new Uint8Array(20), 7, header), {
    name: "RangeError",
    message: "Ethernet header of 14 bytes does not fit at offset 7 in a buffer of 20",
  });
  assert.throws(() => writeEthernetHeader(new Uint8Array(20), -1, header), RangeError);
  const buffer = new Uint8Array(30);
  assert.throws(
    () => writeEthernetHeader(buffer, 0, { ...header, vlanTags: [{ vid: 1 }, { vid: 5000 }] }),
    RangeError,
  );
  assert.ok(buffer.every((b) => b === 0));
});
