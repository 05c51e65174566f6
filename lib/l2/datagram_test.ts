import assert from "node:assert/strict";
import {
  checkDatagram,
  DATAGRAM_HEADER_LEN,
  datagramFrame,
  DatagramKind,
  datagramKind,
  datagramSequence,
  datagramSourcePeer,
  L2_VERSION,
  SequenceTracker,
  writeDatagramHeader,
} from "./datagram.ts";

const ROOM_TAG = 0xbeef;
const FRAME_MAX = 1514;
const PEER = 0x0102;

/** A valid datagram: broadcast from 02:00:00:00:00:01, `frameLength` bytes of frame. */
function datagram(frameLength = 60): Uint8Array<ArrayBuffer> {
  const d = new Uint8Array(DATAGRAM_HEADER_LEN + frameLength);
  writeDatagramHeader(d, PEER, 7, ROOM_TAG);
  d.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06], 8);
  return d;
}

function check(d: Uint8Array, sourcePeer = PEER): string | null {
  return checkDatagram(d, ROOM_TAG, FRAME_MAX, sourcePeer);
}

Deno.test("writeDatagramHeader packs version and kind into byte 0 and fields big-endian", () => {
  const buf = new Uint8Array(10).fill(0xaa);
  writeDatagramHeader(buf, 0x1234, 0x5678, 0x9abc);
  assert.deepEqual([...buf], [0x11, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xaa, 0xaa]);
  assert.equal(buf[0]! >>> 4, L2_VERSION);
  assert.equal(buf[0]! & 0x0f, DatagramKind.ETHERNET);
});

Deno.test("writeDatagramHeader writes another kind and its flags when asked, and datagramKind reads it", () => {
  const buf = new Uint8Array(DATAGRAM_HEADER_LEN);
  writeDatagramHeader(buf, 0x1234, 0x5678, 0x9abc, DatagramKind.FRAGMENT, 2);
  assert.deepEqual([...buf], [0x12, 0x02, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
  assert.equal(datagramKind(buf), DatagramKind.FRAGMENT);
  assert.equal(checkDatagram(datagram().fill(0x12, 0, 1), ROOM_TAG, FRAME_MAX, PEER), "bad_kind");
  assert.equal(datagramKind(new Uint8Array(0)), 0);
});

Deno.test("writeDatagramHeader keeps the low 16 bits of sequence and room id", () => {
  const buf = new Uint8Array(DATAGRAM_HEADER_LEN);
  writeDatagramHeader(buf, 1, 0x1_0002, 0xdead_0003);
  assert.equal(datagramSequence(buf), 2);
  assert.deepEqual([...buf.subarray(6)], [0x00, 0x03]);
});

Deno.test("writeDatagramHeader rejects a buffer shorter than the header", () => {
  assert.throws(
    () => writeDatagramHeader(new Uint8Array(7), 1, 1, 1),
    { name: "RangeError", message: "Datagram buffer of 7 bytes cannot hold the 8-byte header" },
  );
});

Deno.test("checkDatagram accepts a well-formed datagram and reads its fields", () => {
  const d = datagram();
  assert.equal(check(d), null);
  assert.equal(datagramSourcePeer(d), PEER);
  assert.equal(datagramSequence(d), 7);
  const frame = datagramFrame(d);
  assert.equal(frame.length, 60);
  assert.equal(frame.buffer, d.buffer, "the frame is a view, not a copy");
  assert.equal(frame.byteOffset, DATAGRAM_HEADER_LEN);
});

Deno.test("checkDatagram accepts a frame of exactly frameMax and minimum length", () => {
  assert.equal(check(datagram(FRAME_MAX)), null);
  assert.equal(check(datagram().subarray(0, 22)), null);
});

Deno.test("checkDatagram reports a datagram shorter than 8 + 14 bytes as a runt", () => {
  assert.equal(check(datagram().subarray(0, 21)), "runt");
  assert.equal(check(new Uint8Array(0)), "runt");
});

Deno.test("checkDatagram reports a wrong version, kind or flags", () => {
  const version = datagram();
  version[0] = 0x21;
  assert.equal(check(version), "bad_version");
  const kind = datagram();
  kind[0] = 0x12; // kind 2 (fragment) is reserved in v1
  assert.equal(check(kind), "bad_kind");
  const flags = datagram();
  flags[1] = 0x80;
  assert.equal(check(flags), "bad_flags");
});

Deno.test("checkDatagram compares the room tag with the low 16 bits of the room id", () => {
  assert.equal(checkDatagram(datagram(), 0x7_0000 | ROOM_TAG, FRAME_MAX, PEER), null);
  assert.equal(checkDatagram(datagram(), ROOM_TAG + 1, FRAME_MAX, PEER), "wrong_room");
});

Deno.test("checkDatagram checks the source peer id unless told -1", () => {
  assert.equal(check(datagram(), PEER + 1), "wrong_source_peer");
  assert.equal(check(datagram(), 0), "wrong_source_peer");
  assert.equal(check(datagram(), -1), null);
});

Deno.test("checkDatagram reports a frame longer than frameMax as oversize", () => {
  assert.equal(check(datagram(FRAME_MAX + 1)), "oversize");
});

Deno.test("checkDatagram rejects a multicast or all-zero source MAC", () => {
  const multicast = datagram();
  multicast[DATAGRAM_HEADER_LEN + 6] = 0x01;
  assert.equal(check(multicast), "invalid_source_mac");
  const zero = datagram();
  zero.fill(0, DATAGRAM_HEADER_LEN + 6, DATAGRAM_HEADER_LEN + 12);
  assert.equal(check(zero), "invalid_source_mac");
  const lastByteOnly = datagram();
  lastByteOnly.fill(0, DATAGRAM_HEADER_LEN + 6, DATAGRAM_HEADER_LEN + 12);
  lastByteOnly[DATAGRAM_HEADER_LEN + 11] = 1;
  assert.equal(check(lastByteOnly), null);
});

Deno.test("checkDatagram reports the first broken rule in document order", () => {
  const d = datagram(FRAME_MAX + 1);
  d[0] = 0x22; // bad version and kind
  d[1] = 1;
  d[DATAGRAM_HEADER_LEN + 6] = 0x01;
  assert.equal(checkDatagram(d, 1, FRAME_MAX, 9), "bad_version");
  d[0] = 0x11;
  assert.equal(checkDatagram(d, 1, FRAME_MAX, 9), "bad_flags");
  d[1] = 0;
  assert.equal(checkDatagram(d, 1, FRAME_MAX, 9), "wrong_room");
  assert.equal(checkDatagram(d, ROOM_TAG, FRAME_MAX, 9), "wrong_source_peer");
  assert.equal(checkDatagram(d, ROOM_TAG, FRAME_MAX, PEER), "oversize");
  assert.equal(checkDatagram(d, ROOM_TAG, FRAME_MAX + 1, PEER), "invalid_source_mac");
});

Deno.test("datagram field readers return 0 instead of throwing on a short buffer", () => {
  assert.equal(datagramSourcePeer(new Uint8Array(2)), 0);
  assert.equal(datagramSequence(new Uint8Array(0)), 0);
  assert.equal(datagramFrame(new Uint8Array(3)).length, 0);
});

Deno.test("SequenceTracker counts the numbers skipped by a jump", () => {
  const t = new SequenceTracker();
  t.observe(5);
  t.observe(6);
  assert.equal(t.gaps, 0);
  t.observe(9);
  assert.equal(t.gaps, 2);
  t.observe(13);
  assert.equal(t.gaps, 5);
  assert.equal(t.reordered, 0);
});

Deno.test("SequenceTracker takes its first number as the start, not as a gap", () => {
  const t = new SequenceTracker();
  t.observe(40_000);
  t.observe(40_001);
  assert.equal(t.gaps, 0);
  assert.equal(t.reordered, 0);
});

Deno.test("SequenceTracker treats 65535 to 0 as the next number", () => {
  const t = new SequenceTracker();
  t.observe(65534);
  t.observe(65535);
  t.observe(0);
  t.observe(1);
  assert.equal(t.gaps, 0);
  t.observe(3); // skips 2
  assert.equal(t.gaps, 1);
  const across = new SequenceTracker();
  across.observe(65534);
  across.observe(1); // skips 65535 and 0
  assert.equal(across.gaps, 2);
  assert.equal(across.reordered, 0);
});

Deno.test("SequenceTracker counts late and repeated numbers as reordered, not as gaps", () => {
  const t = new SequenceTracker();
  t.observe(5);
  t.observe(9);
  t.observe(7); // late
  t.observe(9); // repeated
  assert.equal(t.reordered, 2);
  assert.equal(t.gaps, 3);
  t.observe(10); // still counted from 9: no new gap
  assert.equal(t.gaps, 3);
});

Deno.test("SequenceTracker takes a number 0x8000 behind as late and 0x7fff ahead as progress", () => {
  const late = new SequenceTracker();
  late.observe(0x9000);
  late.observe(0x1000); // 0x8000 behind
  assert.equal(late.reordered, 1);
  assert.equal(late.gaps, 0);
  const ahead = new SequenceTracker();
  ahead.observe(0x9000);
  ahead.observe(0x9000 + 0x7fff - 0x10000);
  assert.equal(ahead.reordered, 0);
  assert.equal(ahead.gaps, 0x7ffe);
});

Deno.test("SequenceTracker late before wrap-around is not a gap", () => {
  const t = new SequenceTracker();
  t.observe(65535);
  t.observe(1); // skips 0
  t.observe(0); // late, from before the wrap
  assert.equal(t.gaps, 1);
  assert.equal(t.reordered, 1);
});

Deno.test("SequenceTracker.reset starts afresh on the next number and keeps the counts", () => {
  const t = new SequenceTracker();
  t.observe(10);
  t.observe(12);
  t.observe(11);
  t.reset();
  t.observe(500); // would be a gap of 487 without the reset
  t.observe(3); // 497 behind: late
  assert.equal(t.gaps, 1);
  assert.equal(t.reordered, 2);
  t.reset();
  t.observe(3);
  t.observe(4);
  assert.equal(t.gaps, 1);
  assert.equal(t.reordered, 2);
});
