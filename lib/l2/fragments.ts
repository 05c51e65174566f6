/**
 * Frames split in two for a connection whose datagrams are too small for them, and put back
 * together at the other end of that hop (docs/l2-protocol.md §3.1). Peers and the relay use it
 * only on connections where both said so (`fragments` in `hello` and `welcome`).
 *
 * A fragment is a datagram of kind 2 ({@linkcode DatagramKind.FRAGMENT}) with the usual 8-byte
 * header; its flags say which half it carries ({@linkcode FragmentFlag}). The first half goes
 * out with sequence number `s`, the second with `s + 1`, back to back, so the receiver pairs
 * them by sequence number and its loss counter still counts datagrams. The halves are
 * `ceil(n / 2)` and `floor(n / 2)` bytes of the `n`-byte frame: no length field, no offset.
 *
 * What a stranger could make a receiver hold is bounded: at most {@linkcode MAX_HELD_FRAGMENTS}
 * halves per connection, each shorter than the room's frame, each for at most
 * {@linkcode FRAGMENT_HOLD_MS}; a pair that would make a frame longer than the room's is never
 * joined. Pure: the clock is the caller's.
 *
 * @example
 * ```ts
 * import { FragmentReassembler, splitFrame } from "./fragments.ts";
 *
 * const frame = new Uint8Array(1406).fill(7);
 * frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1]);
 * const [first, second] = splitFrame(frame, new Uint8Array(2048), 3, 100, 0xbeef);
 * const reassembler = new FragmentReassembler(1406, () => {});
 * reassembler.accept(first, 0); // null: the first half waits
 * reassembler.accept(second, 1)!.length; // 1414: header (kind 1, sequence 100) and frame
 * ```
 *
 * @module
 */

import {
  DATAGRAM_HEADER_LEN,
  DatagramKind,
  datagramSequence,
  datagramSourcePeer,
  L2_VERSION,
  type MalformedReason,
  writeDatagramHeader,
} from "./datagram.ts";

/** The flags of a fragment: which half it carries (exactly one is set). */
export const FragmentFlag = {
  /** The first `ceil(n / 2)` bytes of the frame, sequence number `s`. */
  FIRST: 1,
  /** The last `floor(n / 2)` bytes, sequence number `s + 1`. */
  SECOND: 2,
} as const;

/** Halves a receiver holds per connection, waiting for their other half. */
export const MAX_HELD_FRAGMENTS = 4;

/**
 * How long a half waits for the other, in ms. Both leave back to back, but the sender's pacing
 * can space them by a round trip over its congestion window: ~120 ms at 300 ms RTT with the
 * smallest window.
 */
export const FRAGMENT_HOLD_MS = 200;

/** Why a reassembler dropped a fragment; stable, for drop counters. */
export type FragmentDropReason =
  /** Its other half did not come within {@linkcode FRAGMENT_HOLD_MS}. */
  | "fragment_timeout"
  /** {@linkcode MAX_HELD_FRAGMENTS} were held already: the oldest went. */
  | "fragment_overflow"
  /** The same half of the same frame came twice (QUIC itself drops repeated packets). */
  | "fragment_duplicate"
  /** The two halves make a frame longer than the room's: a lie, never joined. */
  | "fragment_oversize";

/**
 * The largest frame that two datagrams of at most `datagramMax` bytes carry (each half behind
 * its own header).
 */
export function largestFrameInTwo(datagramMax: number): number {
  return Math.max(0, 2 * (datagramMax - DATAGRAM_HEADER_LEN));
}

/**
 * Writes the two fragments of `frame` into `out` (at least `frame.length + 16` bytes) and
 * returns them as views of it: the first with `sequence`, the second with `sequence + 1`. A
 * frame of `n` bytes is cut after `ceil(n / 2)`. Throws a `RangeError` when `out` is too short
 * or the frame has fewer than 2 bytes (callers' bugs).
 */
export function splitFrame(
  frame: Uint8Array,
  out: Uint8Array,
  sourcePeer: number,
  sequence: number,
  roomTag: number,
): [Uint8Array, Uint8Array] {
  const length = frame.length;
  if (length < 2 || out.length < length + 2 * DATAGRAM_HEADER_LEN) {
    throw new RangeError(
      `Cannot split a ${length}-byte frame into a buffer of ${out.length} bytes`,
    );
  }
  const half = Math.ceil(length / 2);
  const firstEnd = DATAGRAM_HEADER_LEN + half;
  const first = out.subarray(0, firstEnd);
  const second = out.subarray(firstEnd, length + 2 * DATAGRAM_HEADER_LEN);
  const kind = DatagramKind.FRAGMENT;
  writeDatagramHeader(first, sourcePeer, sequence, roomTag, kind, FragmentFlag.FIRST);
  first.set(frame.subarray(0, half), DATAGRAM_HEADER_LEN);
  writeDatagramHeader(second, sourcePeer, sequence + 1, roomTag, kind, FragmentFlag.SECOND);
  second.set(frame.subarray(half), DATAGRAM_HEADER_LEN);
  return [first, second];
}

/**
 * Checks a received fragment's header, as {@linkcode checkDatagram} does a whole frame's, and
 * returns the first broken rule or `null`:
 *
 * 1. `"runt"`: no byte of frame behind the header;
 * 2. `"bad_version"`, `"bad_kind"`, `"bad_flags"`: not version 1, kind 2, and exactly one of
 *    {@linkcode FragmentFlag};
 * 3. `"wrong_room"`, `"wrong_source_peer"` (skipped when `sourcePeer` is -1), as for a frame;
 * 4. `"oversize"`: a half as long as `frameMax` or longer (the other half has a byte at least).
 *
 * The frame's own rules (its length, its source MAC) are checked once it is whole.
 * Allocation-free and never throws.
 */
export function checkFragment(
  d: Uint8Array,
  roomTag: number,
  frameMax: number,
  sourcePeer: number,
): MalformedReason | null {
  if (d.length <= DATAGRAM_HEADER_LEN) return "runt";
  const versionKind = d[0]!;
  if (versionKind >>> 4 !== L2_VERSION) return "bad_version";
  if ((versionKind & 0x0f) !== DatagramKind.FRAGMENT) return "bad_kind";
  if (d[1] !== FragmentFlag.FIRST && d[1] !== FragmentFlag.SECOND) return "bad_flags";
  if (((d[6]! << 8) | d[7]!) !== (roomTag & 0xffff)) return "wrong_room";
  if (sourcePeer !== -1 && datagramSourcePeer(d) !== sourcePeer) return "wrong_source_peer";
  if (d.length - DATAGRAM_HEADER_LEN >= frameMax) return "oversize";
  return null;
}

/** One half waiting for the other. */
interface HeldHalf {
  /** The sequence number of the frame's first half. */
  key: number;
  first: boolean;
  /** The half's bytes (a copy: the caller's buffer may be reused). */
  bytes: Uint8Array;
  sourcePeer: number;
  roomTag: number;
  since: number;
}

/** Options for {@linkcode FragmentReassembler}. */
export interface ReassemblerOptions {
  /** Halves held at most (default {@linkcode MAX_HELD_FRAGMENTS}). */
  maxHeld?: number;
  /** How long a half waits for the other, in ms (default {@linkcode FRAGMENT_HOLD_MS}). */
  holdMs?: number;
}

/**
 * Puts the frames of one connection back together from their two halves, in either order.
 * Each loss is reported to `drop` once, with its {@linkcode FragmentDropReason}: a half given up
 * (timeout, overflow, duplicate), or a pair refused (oversize).
 */
export class FragmentReassembler {
  readonly #frameMax: number;
  readonly #drop: (reason: FragmentDropReason) => void;
  readonly #maxHeld: number;
  readonly #holdMs: number;
  /** Oldest first: what is evicted when full, and what expires first. */
  readonly #held: HeldHalf[] = [];
  #reassembled = 0;

  /**
   * A reassembler for frames of at most `frameMax` bytes (the room's `frame_max`), reporting
   * drops to `drop`.
   */
  constructor(
    frameMax: number,
    drop: (reason: FragmentDropReason) => void,
    options: ReassemblerOptions = {},
  ) {
    this.#frameMax = frameMax;
    this.#drop = drop;
    this.#maxHeld = options.maxHeld ?? MAX_HELD_FRAGMENTS;
    this.#holdMs = options.holdMs ?? FRAGMENT_HOLD_MS;
  }

  /** Frames put back together so far. */
  get reassembled(): number {
    return this.#reassembled;
  }

  /** Halves waiting now. */
  get held(): number {
    return this.#held.length;
  }

  /** Bytes of the halves waiting now. */
  get heldBytes(): number {
    let sum = 0;
    for (const half of this.#held) sum += half.bytes.length;
    return sum;
  }

  /**
   * Takes one fragment that {@linkcode checkFragment} accepted, received at `now` (ms). Returns
   * the whole frame as a new datagram (kind 1, flags 0, the first half's sequence number, the
   * fragments' source peer and room tag) when this fragment completes one, else null. Halves
   * older than the hold time are dropped first.
   */
  accept(d: Uint8Array, now: number): Uint8Array | null {
    this.expire(now);
    const sequence = datagramSequence(d);
    const first = d[1] === FragmentFlag.FIRST;
    const key = first ? sequence : (sequence - 1) & 0xffff;
    const sourcePeer = datagramSourcePeer(d);
    const roomTag = (d[6]! << 8) | d[7]!;
    // Halves that disagree on where the frame came from are not one frame.
    const index = this.#held.findIndex((h) =>
      h.key === key && h.sourcePeer === sourcePeer && h.roomTag === roomTag
    );
    if (index >= 0) {
      const other = this.#held[index]!;
      if (other.first === first) {
        this.#drop("fragment_duplicate");
        return null;
      }
      this.#held.splice(index, 1);
      const bytes = d.subarray(DATAGRAM_HEADER_LEN);
      const length = other.bytes.length + bytes.length;
      if (length > this.#frameMax) {
        this.#drop("fragment_oversize");
        return null;
      }
      const whole = new Uint8Array(DATAGRAM_HEADER_LEN + length);
      writeDatagramHeader(whole, sourcePeer, key, roomTag);
      const [head, tail] = first ? [bytes, other.bytes] : [other.bytes, bytes];
      whole.set(head, DATAGRAM_HEADER_LEN);
      whole.set(tail, DATAGRAM_HEADER_LEN + head.length);
      this.#reassembled++;
      return whole;
    }
    if (this.#held.length >= this.#maxHeld) {
      this.#held.shift();
      this.#drop("fragment_overflow");
    }
    this.#held.push({
      key,
      first,
      bytes: d.slice(DATAGRAM_HEADER_LEN),
      sourcePeer,
      roomTag,
      since: now,
    });
    return null;
  }

  /** Drops the halves that waited longer than the hold time by `now`. */
  expire(now: number): void {
    while (this.#held.length > 0 && now - this.#held[0]!.since > this.#holdMs) {
      this.#held.shift();
      this.#drop("fragment_timeout");
    }
  }
}
