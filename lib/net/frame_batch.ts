/**
 * A batch of frame slots plus their metadata, the unit of batched packet I/O: one FFI call
 * receives or sends a whole batch, and results are read through a `DataView` without copies.
 *
 * @module
 */

import type { BufferArena } from "./buffer_arena.ts";

/** Size of `struct nk_frame_meta` and its field offsets (checked against C in the tests). */
export const FRAME_META = {
  size: 40,
  len: 0,
  wireLen: 4,
  ifindex: 8,
  protocol: 12,
  pktType: 14,
  flags: 15,
  vlanTci: 16,
  vlanTpid: 18,
  src: 20,
  offset: 26,
  gsoSize: 28,
  gsoType: 30,
  csumStart: 32,
  csumOffset: 34,
} as const;

/** Most frames one batch call handles (`NK_BATCH_MAX`). */
export const MAX_BATCH = 256;
/** Room every receive slot keeps for an 802.1Q tag the kernel had stripped. */
export const VLAN_HEADROOM = 4;

const FLAG_VLAN = 0x01;
const FLAG_TRUNCATED = 0x02;
const FLAG_CSUM_PENDING = 0x04;
const FLAG_UNDESCRIBED = 0x08;

/** Options for {@linkcode FrameBatch}. */
export interface FrameBatchOptions {
  /** Number of slots (1 to 256). */
  slots: number;
  /** Bytes per slot, including {@linkcode VLAN_HEADROOM} (default 2048). */
  slotSize?: number;
  /** Take the memory from this arena (e.g. huge pages) instead of the JS heap. */
  arena?: BufferArena;
}

/** Frame slots and metadata; after a receive, `count` slots hold frames. */
export class FrameBatch {
  /** All slots, back to back. */
  readonly data: Uint8Array;
  /** `slots` metadata records of {@linkcode FRAME_META.size} bytes. */
  readonly meta: Uint8Array;
  readonly #view: DataView;
  /** Number of slots. */
  readonly slots: number;
  /** Bytes per slot. */
  readonly slotSize: number;
  /** Frames held after the last receive. */
  count = 0;

  /** Allocates the slots and metadata. */
  constructor(options: FrameBatchOptions) {
    const slotSize = options.slotSize ?? 2048;
    if (!Number.isInteger(options.slots) || options.slots < 1 || options.slots > MAX_BATCH) {
      throw new RangeError(`Batch slots must be 1 to ${MAX_BATCH}, got ${options.slots}`);
    }
    if (!Number.isInteger(slotSize) || slotSize <= VLAN_HEADROOM + 14 || slotSize > 1 << 20) {
      throw new RangeError(
        `Batch slot size must be ${VLAN_HEADROOM + 15} to 1048576 bytes, got ${slotSize}`,
      );
    }
    this.slots = options.slots;
    this.slotSize = slotSize;
    const dataBytes = options.slots * slotSize;
    const metaBytes = options.slots * FRAME_META.size;
    this.data = options.arena ? options.arena.allocate(dataBytes) : new Uint8Array(dataBytes);
    this.meta = options.arena ? options.arena.allocate(metaBytes) : new Uint8Array(metaBytes);
    this.#view = new DataView(this.meta.buffer, this.meta.byteOffset, this.meta.byteLength);
  }

  /** The frame in slot `i` (a view, valid until the slot is reused). */
  frame(i: number): Uint8Array {
    const start = i * this.slotSize + this.offset(i);
    return this.data.subarray(start, start + this.length(i));
  }

  /** Length of the frame in slot `i`. */
  length(i: number): number {
    return this.#view.getUint32(i * FRAME_META.size + FRAME_META.len, true);
  }

  /** Length the kernel had for slot `i` (larger than {@linkcode length} when truncated). */
  wireLength(i: number): number {
    return this.#view.getUint32(i * FRAME_META.size + FRAME_META.wireLen, true);
  }

  /** Where the frame starts inside slot `i`. */
  offset(i: number): number {
    return this.#view.getUint16(i * FRAME_META.size + FRAME_META.offset, true);
  }

  /** Interface the frame in slot `i` was received on. */
  ifindex(i: number): number {
    return this.#view.getUint32(i * FRAME_META.size + FRAME_META.ifindex, true);
  }

  /** `sll_protocol` of slot `i` (the EtherType the kernel saw, tags removed). */
  protocol(i: number): number {
    return this.#view.getUint16(i * FRAME_META.size + FRAME_META.protocol, true);
  }

  /** `sll_pkttype` of slot `i`: see `PacketType`. */
  pktType(i: number): number {
    return this.#view.getUint8(i * FRAME_META.size + FRAME_META.pktType);
  }

  /** The 802.1Q TCI the kernel had stripped (and netkit restored) for slot `i`, or -1. */
  vlanTci(i: number): number {
    const base = i * FRAME_META.size;
    return (this.#view.getUint8(base + FRAME_META.flags) & FLAG_VLAN) !== 0
      ? this.#view.getUint16(base + FRAME_META.vlanTci, true)
      : -1;
  }

  /** True when slot `i` was too small for its frame. */
  truncated(i: number): boolean {
    return (this.#view.getUint8(i * FRAME_META.size + FRAME_META.flags) & FLAG_TRUNCATED) !== 0;
  }

  /**
   * True when the kernel left the TCP/UDP checksum of slot `i` for hardware to fill in
   * (`TP_STATUS_CSUMNOTREADY`, or the vnet header's `NEEDS_CSUM`: sent by this host or a veth
   * peer with checksum offload, or merged by GRO): the
   * field holds only the pseudo-header sum, and a frame forwarded elsewhere needs it completed.
   */
  checksumPending(i: number): boolean {
    return (this.#view.getUint8(i * FRAME_META.size + FRAME_META.flags) & FLAG_CSUM_PENDING) !== 0;
  }

  /**
   * The `VIRTIO_NET_HDR_GSO_*` type of slot `i` (see lib/packet/gso.ts): non-zero for a frame
   * the kernel merged (GRO, or TSO from a local or veth sender), to be cut into segments of
   * {@linkcode gsoSize} payload bytes. Always 0 on a socket without `vnetHeader`.
   */
  gsoType(i: number): number {
    return this.#view.getUint8(i * FRAME_META.size + FRAME_META.gsoType);
  }

  /**
   * True when slot `i` is empty and stands for a frame the kernel dropped because a vnet header
   * cannot describe its GSO type (tunnel GSO, for one): to be counted, not read.
   */
  undescribed(i: number): boolean {
    return (this.#view.getUint8(i * FRAME_META.size + FRAME_META.flags) & FLAG_UNDESCRIBED) !== 0;
  }

  /**
   * For a {@linkcode checksumPending} frame of a vnet socket: where the checksum to complete
   * starts (it covers the rest of the frame, from a tunnel's inner header maybe); 0 without one.
   */
  checksumStart(i: number): number {
    return this.#view.getUint16(i * FRAME_META.size + FRAME_META.csumStart, true);
  }

  /** Where that checksum goes, relative to {@linkcode checksumStart}. */
  checksumOffset(i: number): number {
    return this.#view.getUint16(i * FRAME_META.size + FRAME_META.csumOffset, true);
  }

  /** Payload bytes per segment of the merged frame in slot `i`. */
  gsoSize(i: number): number {
    return this.#view.getUint16(i * FRAME_META.size + FRAME_META.gsoSize, true);
  }

  /** Source MAC of slot `i` as the kernel reported it (a view). */
  source(i: number): Uint8Array {
    const start = i * FRAME_META.size + FRAME_META.src;
    return this.meta.subarray(start, start + 6);
  }

  /** Copies `frame` into slot `i` for sending. */
  setFrame(i: number, frame: Uint8Array): void {
    if (frame.length > this.slotSize) {
      throw new RangeError(
        `Frame of ${frame.length} bytes does not fit a ${this.slotSize}-byte slot`,
      );
    }
    this.data.set(frame, i * this.slotSize);
    this.setLength(i, frame.length);
  }

  /** The whole of slot `i`, to build a frame in place before {@linkcode setLength}. */
  slot(i: number): Uint8Array {
    return this.data.subarray(i * this.slotSize, (i + 1) * this.slotSize);
  }

  /** Marks slot `i` as holding a `length`-byte frame at its start, for sending. */
  setLength(i: number, length: number): void {
    const base = i * FRAME_META.size;
    this.#view.setUint32(base + FRAME_META.len, length, true);
    this.#view.setUint16(base + FRAME_META.offset, 0, true);
  }
}
