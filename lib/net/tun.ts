/**
 * TUN devices (`IFF_TUN | IFF_NO_PI`: each read or write is one IP packet, no Ethernet) and the
 * batched reads and writes TAP and TUN descriptors share: one FFI call moves up to 256 frames
 * between the device and {@linkcode FrameBatch} slots (a TAP or TUN has no `recvmmsg`, so the
 * calls loop in C). Requires `--allow-ffi` and CAP_NET_ADMIN.
 *
 * @module
 */

import { cString, readCString } from "../../ffi/c_string.ts";
import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";
import { FRAME_META, type FrameBatch } from "./frame_batch.ts";
import { getInterface, setInterfaceMtu, setInterfaceUp } from "./interfaces.ts";
import { OwnedFd } from "./owned_fd.ts";

/**
 * Reads up to `batch.slots` frames from `fd` (one FFI call), each into its slot behind
 * `headroom` bytes left free for a header to prepend in place; returns the count (0: none
 * queued) and sets `batch.count`.
 */
export function readFrameBatch(
  fd: number,
  batch: FrameBatch,
  headroom: number,
  what: string,
): number {
  const n = nk.nk_tap_read_batch(fd, batch.data, batch.slotSize, headroom, batch.slots, batch.meta);
  batch.count = n > 0 ? n : 0;
  return unwrap(n, `read from ${what}`);
}

/** Where {@linkcode writeFrameBatch} reports frames the kernel refused (not EAGAIN). */
const failedOut = new Uint32Array(1);
/** {@linkcode failedOut} as the FFI call takes it, made once: writes are on the hot path. */
const failedOutBytes = new Uint8Array(failedOut.buffer);

/**
 * Writes slots `first` to `first + count - 1` of `batch` to `fd` (one FFI call; each slot's
 * length and offset as set for sending). Returns how many the kernel took or refused (a full
 * queue stops it early: retry the rest later) and how many of those it refused (EIO while the
 * interface is down, for one).
 */
export function writeFrameBatch(
  fd: number,
  batch: FrameBatch,
  first: number,
  count: number,
  what: string,
): { handled: number; failed: number } {
  if (first < 0 || count < 0 || first + count > batch.slots) {
    throw new RangeError(`Cannot write slots ${first}..${first + count - 1} of ${batch.slots}`);
  }
  const n = nk.nk_tap_write_batch(
    fd,
    first === 0 ? batch.data : batch.data.subarray(first * batch.slotSize),
    batch.slotSize,
    count,
    first === 0 ? batch.meta : batch.meta.subarray(first * FRAME_META.size),
    failedOutBytes,
  );
  return { handled: unwrap(n, `write to ${what}`), failed: failedOut[0]! };
}

/** Options for {@linkcode TunDevice.open}. */
export interface TunOptions {
  /** Device name; an existing persistent TUN of that name is attached. Default: `tun%d`. */
  name?: string;
  /** MTU to set; left as the device has it when absent (1500 for a new TUN). */
  mtu?: number;
  /** Bring the link up (default true). */
  up?: boolean;
}

/** A TUN device: the host's kernel on the other side, IP packets without a link header. */
export class TunDevice extends OwnedFd {
  /** The device's name. */
  readonly name: string;
  /** The device's interface index. */
  readonly ifindex: number;
  /** The device's MTU when it was opened. */
  readonly mtu: number;

  private constructor(fd: number, name: string, ifindex: number, mtu: number) {
    super(fd);
    this.name = name;
    this.ifindex = ifindex;
    this.mtu = mtu;
  }

  /** Creates (or attaches) the device and configures it; a created device goes when closed. */
  static open(options: TunOptions = {}): TunDevice {
    const nameOut = new Uint8Array(16);
    const fd = unwrap(
      nk.nk_tun_open(cString(options.name ?? ""), nameOut),
      options.name === undefined ? "create TUN device" : `create TUN device "${options.name}"`,
    );
    const name = readCString(nameOut);
    try {
      if (options.mtu !== undefined) setInterfaceMtu(name, options.mtu);
      if (options.up ?? true) setInterfaceUp(name, true);
      const info = getInterface(name);
      return new TunDevice(fd, name, info.ifindex, info.mtu);
    } catch (err) {
      nk.nk_close(fd);
      throw err;
    }
  }

  /** {@linkcode readFrameBatch} from this device: IP packets behind `headroom` bytes. */
  readBatch(batch: FrameBatch, headroom: number): number {
    return readFrameBatch(this.fd, batch, headroom, `TUN "${this.name}"`);
  }

  /** {@linkcode writeFrameBatch} to this device: slots holding IP packets. */
  writeBatch(batch: FrameBatch, first: number, count: number): { handled: number; failed: number } {
    return writeFrameBatch(this.fd, batch, first, count, `TUN "${this.name}"`);
  }
}
