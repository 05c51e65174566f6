/**
 * The 8-byte header in front of every Ethernet frame sent as a QUIC datagram (netkit-l2 v1,
 * docs/l2-protocol.md §3), and loss counting over its 16-bit sequence numbers.
 *
 * Everything here runs once per datagram at 100k+ datagrams/s, so nothing allocates (except
 * the view {@linkcode datagramFrame} returns) and bad input is reported by a return value,
 * never an exception.
 *
 * ```
 *  0       4       8              16                              32
 * +-------+-------+---------------+-------------------------------+
 * |  ver  | kind  |     flags     |         source peer id        |
 * +-------+-------+---------------+-------------------------------+
 * |        sequence (u16)         |        room tag (u16)         |
 * +-------------------------------+-------------------------------+
 * | Ethernet frame: dst MAC, src MAC, [802.1Q], EtherType, payload
 * ```
 *
 * @example
 * ```ts
 * import {
 *   checkDatagram,
 *   DATAGRAM_HEADER_LEN,
 *   datagramFrame,
 *   writeDatagramHeader,
 * } from "./datagram.ts";
 *
 * const frame = new Uint8Array(60);
 * frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1]);
 * const datagram = new Uint8Array(DATAGRAM_HEADER_LEN + frame.length);
 * writeDatagramHeader(datagram, 7, 1, 0x1234);
 * datagram.set(frame, DATAGRAM_HEADER_LEN);
 * checkDatagram(datagram, 0x1234, 1514, 7); // null: valid
 * datagramFrame(datagram).length; // 60
 * ```
 *
 * @module
 */

import { ETH_HEADER_LEN } from "../packet/ethernet.ts";
import { isMulticastMac, MAC_LEN } from "../packet/mac.ts";

/** Length of the datagram header in bytes. */
export const DATAGRAM_HEADER_LEN = 8;

/** The header version of netkit-l2 v1. */
export const L2_VERSION = 1;

/** Values of the header's `kind` field. */
export const DatagramKind = {
  /** One whole Ethernet frame (no FCS) follows the header. */
  ETHERNET: 1,
  /**
   * Half of a frame too big for the connection's datagrams (lib/l2/fragments.ts); only between
   * ends that agreed on it in `hello` and `welcome`.
   */
  FRAGMENT: 2,
} as const;

/** Why {@linkcode checkDatagram} found a datagram malformed; stable, for drop counters. */
export type MalformedReason =
  | "runt"
  | "bad_version"
  | "bad_kind"
  | "bad_flags"
  | "wrong_room"
  | "wrong_source_peer"
  | "oversize"
  | "invalid_source_mac";

const MIN_DATAGRAM_LEN = DATAGRAM_HEADER_LEN + ETH_HEADER_LEN;
const SOURCE_MAC_OFFSET = DATAGRAM_HEADER_LEN + MAC_LEN;
// `ver` and `kind` are the high and low nibbles of byte 0 (the diagram's ruler counts bits).
const VERSION_KIND = (L2_VERSION << 4) | DatagramKind.ETHERNET;

/**
 * Writes a v1 header into `buf[0..8)`: version 1 and `kind` (default 1, Ethernet frame: byte 0
 * is `0x11`), `flags` (default 0), then `sourcePeer`, `sequence` and `roomTag` big-endian, each
 * taken modulo 2^16 so a running counter and a whole `room_id` can be passed as they are. Throws
 * a `RangeError` only when `buf` is shorter than the header (a caller's bug, not bad input).
 */
export function writeDatagramHeader(
  buf: Uint8Array,
  sourcePeer: number,
  sequence: number,
  roomTag: number,
  kind: number = DatagramKind.ETHERNET,
  flags = 0,
): void {
  if (buf.length < DATAGRAM_HEADER_LEN) {
    throw new RangeError(
      `Datagram buffer of ${buf.length} bytes cannot hold the ${DATAGRAM_HEADER_LEN}-byte header`,
    );
  }
  buf[0] = kind === DatagramKind.ETHERNET ? VERSION_KIND : (L2_VERSION << 4) | (kind & 0x0f);
  buf[1] = flags & 0xff;
  buf[2] = (sourcePeer >>> 8) & 0xff;
  buf[3] = sourcePeer & 0xff;
  buf[4] = (sequence >>> 8) & 0xff;
  buf[5] = sequence & 0xff;
  buf[6] = (roomTag >>> 8) & 0xff;
  buf[7] = roomTag & 0xff;
}

/**
 * Checks a received datagram against the rules of §3, in the order the document lists them,
 * and returns the first broken one, or `null` when the datagram is valid:
 *
 * 1. `"runt"`: shorter than the header plus an Ethernet header (8 + 14 bytes);
 * 2. `"bad_version"`, `"bad_kind"`, `"bad_flags"`: not version 1, kind 1, flags 0;
 * 3. `"wrong_room"`: the room tag is not `roomTag & 0xffff` (a whole `room_id` may be passed);
 * 4. `"wrong_source_peer"`: the source peer id is not `sourcePeer` (pass -1 to skip this, e.g.
 *    where the sender's id is not known);
 * 5. `"oversize"`: the frame (`d.length - 8`) is longer than `frameMax`;
 * 6. `"invalid_source_mac"`: the frame's source MAC is multicast or all-zero.
 *
 * Allocation-free and never throws.
 */
export function checkDatagram(
  d: Uint8Array,
  roomTag: number,
  frameMax: number,
  sourcePeer: number,
): MalformedReason | null {
  if (d.length < MIN_DATAGRAM_LEN) return "runt";
  const versionKind = d[0]!;
  if (versionKind >>> 4 !== L2_VERSION) return "bad_version";
  if ((versionKind & 0x0f) !== DatagramKind.ETHERNET) return "bad_kind";
  if (d[1] !== 0) return "bad_flags";
  if (((d[6]! << 8) | d[7]!) !== (roomTag & 0xffff)) return "wrong_room";
  if (sourcePeer !== -1 && ((d[2]! << 8) | d[3]!) !== sourcePeer) return "wrong_source_peer";
  if (d.length - DATAGRAM_HEADER_LEN > frameMax) return "oversize";
  if (isMulticastMac(d, SOURCE_MAC_OFFSET)) return "invalid_source_mac";
  for (let i = SOURCE_MAC_OFFSET; i < SOURCE_MAC_OFFSET + MAC_LEN; i++) {
    if (d[i] !== 0) return null;
  }
  return "invalid_source_mac";
}

/** The `kind` of a datagram (low nibble of byte 0; 0 if empty), before any other check. */
export function datagramKind(d: Uint8Array): number {
  return d.length === 0 ? 0 : d[0]! & 0x0f;
}

/** The source peer id of a datagram that {@linkcode checkDatagram} accepted (0 if too short). */
export function datagramSourcePeer(d: Uint8Array): number {
  // An out-of-range index reads `undefined`, which `<<` and `|` turn into 0: no throw.
  return (d[2]! << 8) | d[3]!;
}

/** The sequence number of a datagram that {@linkcode checkDatagram} accepted (0 if too short). */
export function datagramSequence(d: Uint8Array): number {
  return (d[4]! << 8) | d[5]!;
}

/** The Ethernet frame behind the header: a view into `d`, not a copy. */
export function datagramFrame(d: Uint8Array): Uint8Array {
  return d.subarray(DATAGRAM_HEADER_LEN);
}

/** Half the u16 space: a sequence number further ahead than this is taken as a late one. */
const SEQUENCE_WINDOW = 0x8000;

/**
 * Counts lost and late datagrams from their 16-bit sequence numbers, as a receiver measures its
 * link (`seq_gaps` in `stats`). Sequence arithmetic is modulo 2^16, so 65535 → 0 is the next
 * number, not a gap, and 65534 → 1 skips two numbers (65535 and 0).
 *
 * A number up to 0x7fff ahead of the last one is taken as progress: the numbers between are
 * counted in {@linkcode SequenceTracker.gaps}. A number equal to the last one or up to 0x8000
 * behind it (that is, any other) is a late or repeated datagram: it is counted in
 * {@linkcode SequenceTracker.reordered} and does not move the tracker back. A late datagram
 * does not lower `gaps`, which counts numbers missing when they were due. A loss of 0x8000 or
 * more datagrams in a row cannot be told apart from reordering and is miscounted.
 *
 * @example
 * ```ts
 * import { SequenceTracker } from "./datagram.ts";
 *
 * const seq = new SequenceTracker();
 * for (const n of [5, 9, 7, 10]) seq.observe(n);
 * seq.gaps; // 3 (6, 7 and 8 were missing when 9 came)
 * seq.reordered; // 1 (7)
 * ```
 */
export class SequenceTracker {
  #last = -1;
  #gaps = 0;
  #reordered = 0;

  /** Records sequence number `seq` (taken modulo 2^16); the first one only sets the start. */
  observe(seq: number): void {
    const s = seq & 0xffff;
    if (this.#last < 0) {
      this.#last = s;
      return;
    }
    const ahead = (s - this.#last) & 0xffff;
    if (ahead === 0 || ahead >= SEQUENCE_WINDOW) {
      this.#reordered++;
      return;
    }
    this.#gaps += ahead - 1;
    this.#last = s;
  }

  /**
   * Forgets the last sequence number, so the next one starts afresh (a new connection numbers
   * from anywhere); `gaps` and `reordered` keep counting.
   */
  reset(): void {
    this.#last = -1;
  }

  /** Sequence numbers skipped so far: a jump from 5 to 9 adds 3. */
  get gaps(): number {
    return this.#gaps;
  }

  /** Datagrams that came at or behind the latest sequence number (late or repeated). */
  get reordered(): number {
    return this.#reordered;
  }
}
