import assert from "node:assert/strict";
import { internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSum } from "../packet/checksum.ts";
import { encodeEthernet, EtherType, type VlanTagInit } from "../packet/ethernet.ts";
import { encodeIpv4, IpProtocol, parseIpv4 } from "../packet/ipv4.ts";
import { encodeIpv6, parseIpv6 } from "../packet/ipv6.ts";
import { parseMac } from "../packet/mac.ts";
import { clampMss, mssForMtu } from "./mss_clamp.ts";

const SRC4 = parseIpv4("192.0.2.10");
const DST4 = parseIpv4("198.51.100.20");
const SRC6 = parseIpv6("2001:db8::10");
const DST6 = parseIpv6("2001:db8:1::20");
const SYN = 0x02;
const SYN_ACK = 0x12;
const ACK = 0x10;
const TAP_MTU = 1380; // MSS 1340 over IPv4, 1320 over IPv6

/** MSS option followed by what Linux sends after it: SACK permitted, timestamps, window scale. */
function linuxOptions(mss: number): number[] {
  return [2, 4, mss >>> 8, mss & 0xff, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
}

interface SegmentInit {
  flags?: number;
  options?: number[];
  payload?: number;
  ipv6?: boolean;
  vlanTags?: VlanTagInit[];
  /** IPv4 option bytes, a multiple of 4. */
  ipOptions?: number[];
}

/** A TCP segment with a correct checksum for the addresses of its IP version. */
function tcpSegment(init: SegmentInit): Uint8Array<ArrayBuffer> {
  const { flags = SYN, options = linuxOptions(1460), payload = 0, ipv6 = false } = init;
  assert.equal(options.length % 4, 0, "TCP options must fill whole words");
  const headerLength = 20 + options.length;
  const segment = new Uint8Array(headerLength + payload);
  segment.set([0xc3, 0x50, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78]); // ports 50000 -> 80, sequence
  segment[12] = (headerLength / 4) << 4;
  segment[13] = flags;
  segment.set([0xfa, 0xf0], 14); // window
  segment.set(options, 20);
  for (let i = headerLength; i < segment.length; i++) segment[i] = (i * 37) & 0xff;
  const pseudo = ipv6
    ? ipv6PseudoHeaderSum(SRC6, DST6, IpProtocol.TCP, segment.length)
    : ipv4PseudoHeaderSum(SRC4, DST4, IpProtocol.TCP, segment.length);
  const checksum = internetChecksum(segment, 0, segment.length, pseudo);
  segment[16] = checksum >>> 8;
  segment[17] = checksum & 0xff;
  return segment;
}

function withIpv4Options(packet: Uint8Array, options: number[]): Uint8Array {
  const out = new Uint8Array(packet.length + options.length);
  out.set(packet.subarray(0, 20));
  out.set(options, 20);
  out.set(packet.subarray(20), 20 + options.length);
  out[0] = 0x40 | ((20 + options.length) / 4);
  out[2] = out.length >>> 8;
  out[3] = out.length & 0xff;
  out[10] = 0;
  out[11] = 0;
  const checksum = internetChecksum(out, 0, 20 + options.length);
  out[10] = checksum >>> 8;
  out[11] = checksum & 0xff;
  return out;
}

function tcpFrame(init: SegmentInit = {}): Uint8Array<ArrayBuffer> {
  const segment = tcpSegment(init);
  let ip: Uint8Array;
  if (init.ipv6) {
    ip = encodeIpv6({
      src: SRC6,
      dst: DST6,
      nextHeader: IpProtocol.TCP,
      hopLimit: 64,
      payload: segment,
    });
  } else {
    ip = encodeIpv4({ src: SRC4, dst: DST4, protocol: IpProtocol.TCP, ttl: 64, payload: segment });
    if (init.ipOptions) ip = withIpv4Options(ip, init.ipOptions);
  }
  return encodeEthernet({
    dst: parseMac("02:00:00:00:00:02"),
    src: parseMac("02:00:00:00:00:01"),
    etherType: init.ipv6 ? EtherType.IPV6 : EtherType.IPV4,
    vlanTags: init.vlanTags ?? [],
    payload: ip,
  });
}

/** Offset of the TCP header in a frame built by {@linkcode tcpFrame}. */
function tcpOffset(init: SegmentInit): number {
  const ethernet = 14 + 4 * (init.vlanTags?.length ?? 0);
  return ethernet + (init.ipv6 ? 40 : 20 + (init.ipOptions?.length ?? 0));
}

/** The MSS found at `offset` from the TCP header. */
function mssAt(frame: Uint8Array, init: SegmentInit, offset = 22): number {
  const at = tcpOffset(init) + offset;
  return (frame[at]! << 8) | frame[at + 1]!;
}

/** Recomputes the TCP checksum over the whole segment: 0 when the stored checksum is right. */
function tcpChecksumResidue(frame: Uint8Array, init: SegmentInit): number {
  const tcp = tcpOffset(init);
  const length = tcpSegment(init).length;
  const pseudo = init.ipv6
    ? ipv6PseudoHeaderSum(SRC6, DST6, IpProtocol.TCP, length)
    : ipv4PseudoHeaderSum(SRC4, DST4, IpProtocol.TCP, length);
  return internetChecksum(frame, tcp, tcp + length, pseudo);
}

function assertClamped(init: SegmentInit, expectedMss: number, mssOffset = 22): void {
  const frame = tcpFrame(init);
  assert.equal(tcpChecksumResidue(frame, init), 0, "the test frame starts with a valid checksum");
  assert.equal(clampMss(frame, TAP_MTU), true);
  assert.equal(mssAt(frame, init, mssOffset), expectedMss);
  assert.equal(tcpChecksumResidue(frame, init), 0, "checksum still valid after clamping");
}

function assertUntouched(init: SegmentInit, tapMtu = TAP_MTU): void {
  const frame = tcpFrame(init);
  const before = frame.slice();
  assert.equal(clampMss(frame, tapMtu), false);
  assert.deepEqual(frame, before);
}

Deno.test("mssForMtu leaves room for the IPv4 or IPv6 and TCP headers", () => {
  assert.equal(mssForMtu(1500, false), 1460);
  assert.equal(mssForMtu(1500, true), 1440);
  assert.equal(mssForMtu(TAP_MTU, false), 1340);
});

Deno.test("clampMss lowers the MSS of an IPv4 SYN and keeps its checksum valid", () => {
  assertClamped({ flags: SYN }, 1340);
});

Deno.test("clampMss lowers the MSS of a SYN-ACK too", () => {
  assertClamped({ flags: SYN_ACK }, 1340);
});

Deno.test("clampMss fixes the checksum when the MSS sits at an odd offset after a NOP", () => {
  const options = [1, 2, 4, 0x05, 0xb4, 1, 1, 1];
  assertClamped({ options }, 1340, 23);
});

Deno.test("clampMss keeps checksums valid across MSS values, alignments and payloads", () => {
  for (const mss of [1341, 1460, 8960, 0xffff]) {
    for (const nops of [0, 1, 2, 3]) {
      for (const payload of [0, 1, 7]) {
        const options = [...Array(nops).fill(1), 2, 4, mss >>> 8, mss & 0xff];
        while (options.length % 4 !== 0) options.push(0);
        assertClamped({ options, payload }, 1340, 22 + nops);
      }
    }
  }
});

Deno.test("clampMss lowers the MSS of an IPv6 SYN to the IPv6 limit", () => {
  assertClamped({ ipv6: true }, 1320);
  assertUntouched({ ipv6: true, options: linuxOptions(1320) });
});

Deno.test("clampMss finds the TCP header in an 802.1Q-tagged frame", () => {
  assertClamped({ vlanTags: [{ vid: 100 }] }, 1340);
  assertClamped({ vlanTags: [{ tpid: EtherType.QINQ, vid: 10 }, { vid: 20 }], ipv6: true }, 1320);
});

Deno.test("clampMss finds the TCP header after IPv4 options", () => {
  assertClamped({ ipOptions: [0x94, 0x04, 0x00, 0x00] }, 1340);
});

Deno.test("clampMss leaves segments without SYN alone", () => {
  assertUntouched({ flags: ACK });
});

Deno.test("clampMss leaves an MSS that already fits alone", () => {
  assertUntouched({ options: linuxOptions(1340) });
  assertUntouched({ options: linuxOptions(536) });
});

Deno.test("clampMss leaves non-first IPv4 fragments alone", () => {
  const frame = tcpFrame();
  frame[14 + 7] = 0x10; // fragment offset 128: these bytes are payload, not a TCP header
  const before = frame.slice();
  assert.equal(clampMss(frame, TAP_MTU), false);
  assert.deepEqual(frame, before);
});

Deno.test("clampMss leaves IPv6 packets with extension headers before TCP alone", () => {
  const frame = tcpFrame({ ipv6: true });
  frame[14 + 6] = IpProtocol.IPV6_DEST_OPTIONS;
  const before = frame.slice();
  assert.equal(clampMss(frame, TAP_MTU), false);
  assert.deepEqual(frame, before);
});

Deno.test("clampMss stops at the end-of-list option", () => {
  assertUntouched({ options: [0, 0, 0, 0, 2, 4, 0x05, 0xb4] });
});

Deno.test("clampMss stops at an option whose length is below 2 or runs past the header", () => {
  assertUntouched({ options: [8, 0, 0, 0, 2, 4, 0x05, 0xb4] });
  // Stepping one byte past a length-1 option would land on a NOP and then a valid MSS.
  assertUntouched({ options: [8, 1, 1, 2, 4, 0x05, 0xb4, 1] });
  // An MSS option cut by the header end must not take its value from the payload.
  assertUntouched({ options: [1, 1, 1, 1, 1, 1, 2, 4], payload: 4 });
  assertUntouched({ options: [1, 1, 1, 1, 1, 1, 1, 2], payload: 4 });
});

Deno.test("clampMss ignores an MSS option whose length is not 4", () => {
  assertUntouched({ options: [2, 6, 0x05, 0xb4, 0, 0, 1, 1] });
});

Deno.test("clampMss does not read TCP options from Ethernet padding", () => {
  // The TCP header claims 24 bytes but the IPv4 total length holds only 20 of them.
  const init: SegmentInit = { options: [] };
  const frame = tcpFrame(init);
  assert.equal(frame.length, 60); // 54 bytes of headers, padded
  frame[14 + 20 + 12] = 6 << 4;
  frame.set([2, 4, 0x05, 0xb4], 54);
  const before = frame.slice();
  assert.equal(clampMss(frame, TAP_MTU), false);
  assert.deepEqual(frame, before);
});

Deno.test("clampMss leaves frames alone for an MTU too small to carry TCP", () => {
  assertUntouched({}, 40);
  assertUntouched({ ipv6: true }, 60);
});

Deno.test("clampMss leaves non-IP frames alone", () => {
  const frame = tcpFrame();
  frame[12] = 0x08;
  frame[13] = 0x06; // ARP
  const before = frame.slice();
  assert.equal(clampMss(frame, TAP_MTU), false);
  assert.deepEqual(frame, before);
});

Deno.test("clampMss does not throw or change truncated frames", () => {
  for (const init of [{}, { ipv6: true }, { vlanTags: [{ vid: 1 }] }] satisfies SegmentInit[]) {
    const full = tcpFrame(init);
    const mssEnd = tcpOffset(init) + 24;
    for (let length = 0; length < mssEnd; length++) {
      const frame = full.slice(0, length);
      assert.equal(clampMss(frame, TAP_MTU), false, `${length} bytes`);
      assert.deepEqual(frame, full.slice(0, length));
    }
    assert.equal(clampMss(full.slice(0, mssEnd), TAP_MTU), true);
  }
});
