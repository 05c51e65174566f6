/**
 * TAP devices: a virtual Ethernet interface whose other side is a file descriptor.
 * Requires `--allow-ffi` and CAP_NET_ADMIN.
 *
 * @module
 */

import { cString, readCString } from "../../ffi/c_string.ts";
import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";
import { getInterface, setInterfaceMac, setInterfaceMtu, setInterfaceUp } from "./interfaces.ts";
import { OwnedFd } from "./owned_fd.ts";
import { VNET_HDR_LEN } from "../packet/gso.ts";
import type { FrameBatch } from "./frame_batch.ts";
import { readFrameBatch, writeFrameBatch } from "./tun.ts";

/** Options for {@linkcode TapDevice.open}. */
export interface TapOptions {
  /** Device name; an existing persistent TAP of that name is attached. Default: `tap%d`. */
  name?: string;
  /** MTU to set, in bytes; left as the device has it when absent (1500 for a new TAP). */
  mtu?: number;
  /** Hardware address (6 bytes). */
  mac?: Uint8Array;
  /** Bring the link up (default true). */
  up?: boolean;
  /**
   * `TUN_F_*` offloads to offer the stack ({@linkcode TunOffload}); non-zero turns on
   * `IFF_VNET_HDR`: every {@linkcode TapDevice.read} then starts with a {@linkcode VNET_HDR_LEN}
   * header (GSO type, segment size, checksum pending) and every write gets one. Bits the kernel
   * does not know (USO before 6.2) are left out.
   */
  offloads?: number;
}

/** `TUN_F_*` (linux/if_tun.h): what a TAP lets the stack hand over unfinished. */
export const TunOffload = {
  /** Partial TCP/UDP checksums (`NEEDS_CSUM`); required by the others. */
  CSUM: 0x01,
  TSO4: 0x02,
  TSO6: 0x04,
  TSO_ECN: 0x08,
  USO4: 0x20,
  USO6: 0x40,
} as const;

/** A TAP device (`IFF_TAP | IFF_NO_PI`): each read or write is one Ethernet frame. */
export class TapDevice extends OwnedFd {
  /** The device's name. */
  readonly name: string;
  /** The device's interface index. */
  readonly ifindex: number;
  /** Bytes of vnet header in front of each frame {@linkcode read} returns (0 or 10). */
  readonly headerLength: number;

  private constructor(fd: number, name: string, ifindex: number, vnet: boolean) {
    super(fd);
    this.name = name;
    this.ifindex = ifindex;
    this.headerLength = vnet ? VNET_HDR_LEN : 0;
  }

  /** Creates (or attaches) the device and configures it; the device goes when it is closed. */
  static open(options: TapOptions = {}): TapDevice {
    const nameOut = new Uint8Array(16);
    const fd = unwrap(
      nk.nk_tap_open(cString(options.name ?? ""), nameOut, options.offloads ?? 0),
      options.name === undefined ? "create TAP device" : `create TAP device "${options.name}"`,
    );
    const name = readCString(nameOut);
    try {
      if (options.mac !== undefined) setInterfaceMac(name, options.mac);
      if (options.mtu !== undefined) setInterfaceMtu(name, options.mtu);
      if (options.up ?? true) setInterfaceUp(name, true);
      return new TapDevice(fd, name, getInterface(name).ifindex, (options.offloads ?? 0) !== 0);
    } catch (err) {
      nk.nk_close(fd);
      throw err;
    }
  }

  /**
   * Reads one frame into `buffer` (behind its vnet header, when there is one: the frame starts
   * at {@linkcode headerLength}); returns the bytes read, or null when none is queued. 0 stands
   * for a frame the kernel dropped because its GSO type has no vnet header (never offered).
   */
  read(buffer: Uint8Array): number | null {
    const n = nk.nk_read(this.fd, buffer, buffer.length);
    if (n === -Errno.EAGAIN) return null;
    // A frame whose GSO type no vnet header can describe: the kernel dropped it, read on.
    if (n === -Errno.EINVAL && this.headerLength !== 0) return 0;
    return unwrap(n, `read from TAP "${this.name}"`);
  }

  /** Writes one complete frame to the kernel; returns false when it would block. */
  write(frame: Uint8Array): boolean {
    const n = this.headerLength === 0
      ? nk.nk_write(this.fd, frame, frame.length)
      : nk.nk_tap_write_vnet(this.fd, frame, frame.length);
    if (n === -Errno.EAGAIN) return false;
    unwrap(n, `write to TAP "${this.name}"`);
    return true;
  }

  /**
   * Reads up to `batch.slots` frames (one FFI call) behind `headroom` bytes of each slot;
   * returns the count (0: none queued). Only without a vnet header.
   */
  readBatch(batch: FrameBatch, headroom = 0): number {
    if (this.headerLength !== 0) throw new RangeError("readBatch needs a TAP without vnet header");
    return readFrameBatch(this.fd, batch, headroom, `TAP "${this.name}"`);
  }

  /**
   * Writes slots `first` to `first + count - 1` of `batch` (one FFI call); see
   * {@linkcode writeFrameBatch}. Only without a vnet header.
   */
  writeBatch(batch: FrameBatch, first: number, count: number): { handled: number; failed: number } {
    if (this.headerLength !== 0) throw new RangeError("writeBatch needs a TAP without vnet header");
    return writeFrameBatch(this.fd, batch, first, count, `TAP "${this.name}"`);
  }
}

/** Throws unless `/dev/net/tun` can be opened (TAP devices can be made). Requires `--allow-ffi`. */
export function probeTun(): void {
  unwrap(nk.nk_tun_probe(), "open /dev/net/tun");
}
