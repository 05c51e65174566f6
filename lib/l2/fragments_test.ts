import assert from "node:assert/strict";
import {
  checkDatagram,
  DATAGRAM_HEADER_LEN,
  datagramFrame,
  DatagramKind,
  datagramKind,
  datagramSequence,
  datagramSourcePeer,
  SequenceTracker,
  writeDatagramHeader,
} from "./datagram.ts";
import {
  checkFragment,
  FRAGMENT_HOLD_MS,
  type FragmentDropReason,
  FragmentFlag,
  FragmentReassembler,
  largestFrameInTwo,
  MAX_HELD_FRAGMENTS,
  splitFrame,
} from "./fragments.ts";

const ROOM_TAG = 0xbeef;
const FRAME_MAX = 1406;
const PEER = 0x0102;

/** A frame of `length` bytes from 02:00:00:00:00:01 whose bytes differ along its length. */
function frame(length: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (i * 7 + length) & 0xff;
  if (length >= 12) f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01]);
  return f;
}

/** The two fragments of `f` as separate copies (the split writes into one shared buffer). */
function halves(f: Uint8Array, sequence = 100, peer = PEER, tag = ROOM_TAG): Uint8Array[] {
  const out = new Uint8Array(f.length + 2 * DATAGRAM_HEADER_LEN);
  return splitFrame(f, out, peer, sequence, tag).map((d) => d.slice());
}

/** A reassembler for FRAME_MAX whose drops are recorded in order. */
function reassembler(): { r: FragmentReassembler; drops: FragmentDropReason[] } {
  const drops: FragmentDropReason[] = [];
  return { r: new FragmentReassembler(FRAME_MAX, (reason) => drops.push(reason)), drops };
}

Deno.test("splitFrame writes two kind-2 fragments with consecutive sequence numbers and one flag each", () => {
  const f = frame(1001);
  const [first, second] = halves(f, 7);
  const expected = [[first!, FragmentFlag.FIRST, 7], [second!, FragmentFlag.SECOND, 8]] as const;
  for (const [d, flag, seq] of expected) {
    assert.equal(datagramKind(d), DatagramKind.FRAGMENT);
    assert.equal(d[0]! >>> 4, 1);
    assert.equal(d[1], flag);
    assert.equal(datagramSourcePeer(d), PEER);
    assert.equal(datagramSequence(d), seq);
    assert.deepEqual([...d.subarray(6, 8)], [0xbe, 0xef]);
    assert.equal(checkFragment(d, ROOM_TAG, FRAME_MAX, PEER), null);
  }
  // ceil(n / 2) then floor(n / 2): the first half is the longer one.
  assert.equal(first!.length, DATAGRAM_HEADER_LEN + 501);
  assert.equal(second!.length, DATAGRAM_HEADER_LEN + 500);
  // A v1 receiver that knows no fragments finds them malformed, never a frame.
  assert.equal(checkDatagram(first!, ROOM_TAG, FRAME_MAX, PEER), "bad_kind");
});

Deno.test("splitFrame refuses a buffer too short for both fragments", () => {
  assert.throws(() => splitFrame(frame(100), new Uint8Array(115), PEER, 1, ROOM_TAG), RangeError);
  assert.throws(() => splitFrame(frame(1), new Uint8Array(64), PEER, 1, ROOM_TAG), RangeError);
});

Deno.test("largestFrameInTwo is twice what one datagram carries behind its header", () => {
  assert.equal(largestFrameInTwo(1162), 2308);
  assert.equal(largestFrameInTwo(711), 1406);
  assert.equal(largestFrameInTwo(4), 0);
  // The boundary holds: a frame of that size splits into two datagrams of at most 711 bytes.
  const [a, b] = halves(frame(1406));
  assert.ok(a!.length <= 711 && b!.length <= 711);
});

Deno.test("FragmentReassembler puts every frame size back together, in either order", () => {
  const { r, drops } = reassembler();
  let now = 0;
  for (let length = 2; length <= FRAME_MAX; length++) {
    const f = frame(length);
    const [first, second] = halves(f, length * 2);
    const inOrder = length % 2 === 0;
    assert.equal(r.accept(inOrder ? first! : second!, now), null, `size ${length}: half waits`);
    const whole = r.accept(inOrder ? second! : first!, ++now);
    assert.ok(whole !== null, `size ${length}: whole`);
    assert.equal(datagramKind(whole), DatagramKind.ETHERNET);
    assert.equal(whole[1], 0);
    assert.equal(datagramSequence(whole), (length * 2) & 0xffff, "the first half's number");
    assert.equal(datagramSourcePeer(whole), PEER);
    assert.deepEqual(datagramFrame(whole), f);
    if (length >= 14) assert.equal(checkDatagram(whole, ROOM_TAG, FRAME_MAX, PEER), null);
  }
  assert.equal(r.reassembled, FRAME_MAX - 1);
  assert.equal(r.held, 0);
  assert.deepEqual(drops, []);
});

Deno.test("FragmentReassembler pairs halves across the sequence wrap", () => {
  const { r } = reassembler();
  const f = frame(1300);
  const [first, second] = halves(f, 0xffff);
  assert.equal(datagramSequence(second!), 0);
  assert.equal(r.accept(second!, 0), null);
  const whole = r.accept(first!, 0);
  assert.deepEqual(datagramFrame(whole!), f);
  assert.equal(datagramSequence(whole!), 0xffff);
});

Deno.test("FragmentReassembler keeps interleaved frames apart", () => {
  const { r, drops } = reassembler();
  const [a, b, c] = [frame(1200), frame(1300), frame(1400)];
  const [a1, a2] = halves(a, 10);
  const [b1, b2] = halves(b, 12);
  const [c1, c2] = halves(c, 14);
  const out: Uint8Array[] = [];
  for (const d of [b1, a1, c2, a2, c1, b2]) {
    const whole = r.accept(d!, 0);
    if (whole !== null) out.push(datagramFrame(whole));
  }
  assert.deepEqual(out, [a, c, b]);
  assert.deepEqual(drops, []);
});

Deno.test("FragmentReassembler drops a repeated half and still completes the frame", () => {
  const { r, drops } = reassembler();
  const f = frame(1406);
  const [first, second] = halves(f);
  assert.equal(r.accept(first!, 0), null);
  assert.equal(r.accept(first!, 1), null);
  assert.deepEqual(drops, ["fragment_duplicate"]);
  assert.equal(r.held, 1);
  assert.deepEqual(datagramFrame(r.accept(second!, 2)!), f);
  assert.equal(r.reassembled, 1);
});

Deno.test("FragmentReassembler drops a half whose other half never comes, after the hold time", () => {
  const { r, drops } = reassembler();
  const [lonely] = halves(frame(1406), 1);
  assert.equal(r.accept(lonely!, 1000), null);
  r.expire(1000 + FRAGMENT_HOLD_MS);
  assert.equal(r.held, 1, "held for exactly the hold time");
  assert.deepEqual(drops, []);
  // The next fragment, of another frame, expires it first.
  const [, otherSecond] = halves(frame(1406), 50);
  assert.equal(r.accept(otherSecond!, 1001 + FRAGMENT_HOLD_MS), null);
  assert.deepEqual(drops, ["fragment_timeout"]);
  assert.equal(r.held, 1);
  // A first half arriving after its second expired starts over, alone.
  const [late] = halves(frame(1406), 50);
  assert.equal(r.accept(late!, 1002 + 2 * FRAGMENT_HOLD_MS), null);
  assert.deepEqual(drops, ["fragment_timeout", "fragment_timeout"]);
  assert.equal(r.reassembled, 0);
});

Deno.test("FragmentReassembler holds at most four halves: the oldest goes first", () => {
  const { r, drops } = reassembler();
  const frames = [0, 1, 2, 3, 4].map((i) => halves(frame(1400 + i), i * 2));
  for (const [first] of frames) r.accept(first!, 0);
  assert.equal(r.held, MAX_HELD_FRAGMENTS);
  assert.deepEqual(drops, ["fragment_overflow"]);
  // Frame 0's first half was evicted: its second half waits alone; frame 4 completes.
  assert.equal(r.accept(frames[0]![1]!, 0), null);
  assert.deepEqual(drops, ["fragment_overflow", "fragment_overflow"]);
  assert.deepEqual(datagramFrame(r.accept(frames[4]![1]!, 0)!), frame(1404));
});

Deno.test("FragmentReassembler holds bounded memory against endless first halves", () => {
  const { r, drops } = reassembler();
  const biggest = new Uint8Array(DATAGRAM_HEADER_LEN + FRAME_MAX - 1);
  let maxBytes = 0;
  for (let i = 0; i < 20_000; i++) {
    writeDatagramHeader(biggest, PEER, i * 2, ROOM_TAG, DatagramKind.FRAGMENT, FragmentFlag.FIRST);
    assert.equal(checkFragment(biggest, ROOM_TAG, FRAME_MAX, PEER), null);
    assert.equal(r.accept(biggest, i / 100), null);
    maxBytes = Math.max(maxBytes, r.heldBytes);
  }
  assert.equal(r.held, MAX_HELD_FRAGMENTS);
  assert.ok(maxBytes <= MAX_HELD_FRAGMENTS * FRAME_MAX, `${maxBytes} bytes held`);
  assert.equal(drops.length, 20_000 - MAX_HELD_FRAGMENTS);
  assert.ok(drops.every((d) => d === "fragment_overflow"));
  // None of it was ever a frame, and a real frame still gets through.
  assert.equal(r.reassembled, 0);
  const f = frame(1406);
  const [first, second] = halves(f, 3);
  r.accept(first!, 200);
  assert.deepEqual(datagramFrame(r.accept(second!, 200)!), f);
});

Deno.test("FragmentReassembler never joins halves into a frame longer than the room's", () => {
  const { r, drops } = reassembler();
  const half = new Uint8Array(DATAGRAM_HEADER_LEN + 704);
  writeDatagramHeader(half, PEER, 20, ROOM_TAG, DatagramKind.FRAGMENT, FragmentFlag.FIRST);
  const other = new Uint8Array(DATAGRAM_HEADER_LEN + 703);
  writeDatagramHeader(other, PEER, 21, ROOM_TAG, DatagramKind.FRAGMENT, FragmentFlag.SECOND);
  assert.equal(r.accept(half, 0), null);
  assert.equal(r.accept(other, 0), null, "704 + 703 > 1406");
  assert.deepEqual(drops, ["fragment_oversize"]);
  assert.equal(r.held, 0, "neither half stays");
  assert.equal(r.reassembled, 0);
});

Deno.test("FragmentReassembler does not pair halves that disagree on their source peer or room", () => {
  const { r } = reassembler();
  const f = frame(1406);
  const [first] = halves(f, 30, PEER);
  const [, strangerSecond] = halves(f, 30, PEER + 1);
  const [, otherRoomSecond] = halves(f, 30, PEER, ROOM_TAG + 1);
  assert.equal(r.accept(first!, 0), null);
  assert.equal(r.accept(strangerSecond!, 0), null);
  assert.equal(r.accept(otherRoomSecond!, 0), null);
  assert.equal(r.held, 3);
  assert.equal(r.reassembled, 0);
});

Deno.test("checkFragment refuses what is not one half of a frame of this room and peer", () => {
  const [good] = halves(frame(1000), 5);
  const check = (d: Uint8Array, peer = PEER) => checkFragment(d, ROOM_TAG, FRAME_MAX, peer);
  const edit = (offset: number, value: number) => {
    const d = good!.slice();
    d[offset] = value;
    return d;
  };
  assert.equal(check(good!), null);
  assert.equal(check(good!, -1), null, "-1 skips the source peer");
  assert.equal(check(good!.subarray(0, DATAGRAM_HEADER_LEN)), "runt");
  assert.equal(check(edit(0, 0x22)), "bad_version");
  assert.equal(check(edit(0, 0x11)), "bad_kind");
  assert.equal(check(edit(1, 0)), "bad_flags");
  assert.equal(check(edit(1, FragmentFlag.FIRST | FragmentFlag.SECOND)), "bad_flags");
  assert.equal(check(edit(6, 0)), "wrong_room");
  assert.equal(check(edit(3, 9)), "wrong_source_peer");
  const whole = new Uint8Array(DATAGRAM_HEADER_LEN + FRAME_MAX);
  writeDatagramHeader(whole, PEER, 1, ROOM_TAG, DatagramKind.FRAGMENT, FragmentFlag.FIRST);
  assert.equal(check(whole), "oversize", "a half as long as a whole frame");
  assert.equal(check(whole.subarray(0, whole.length - 1)), null);
});

Deno.test("a receiver's sequence counter counts a lost fragment as one gap", () => {
  const seq = new SequenceTracker();
  const [a1, a2] = halves(frame(1406), 10);
  const [, b2] = halves(frame(1406), 12); // b1 (12) was lost
  for (const d of [a1, a2, b2]) seq.observe(datagramSequence(d!));
  assert.equal(seq.gaps, 1);
});
