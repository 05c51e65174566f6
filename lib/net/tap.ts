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

/** Options for {@linkcode TapDevice.open}. */
export interface TapOptions {
  /** Device name; an existing persistent TAP of that name is attached. Default: `tap%d`. */
  name?: string;
  mtu?: number;
  /** Hardware address (6 bytes). */
  mac?: Uint8Array;
  /** Bring the link up (default true). */
  up?: boolean;
}

/** A TAP device (`IFF_TAP | IFF_NO_PI`): each read or write is one Ethernet frame. */
export class TapDevice extends OwnedFd {
  /** The device's name. */
  readonly name: string;
  /** The device's interface index. */
  readonly ifindex: number;

  private constructor(fd: number, name: string, ifindex: number) {
    super(fd);
    this.name = name;
    this.ifindex = ifindex;
  }

  /** Creates (or attaches) the device and configures it; the device goes when it is closed. */
  static open(options: TapOptions = {}): TapDevice {
    const nameOut = new Uint8Array(16);
    const fd = unwrap(
      nk.nk_tap_open(cString(options.name ?? ""), nameOut),
      options.name === undefined ? "create TAP device" : `create TAP device "${options.name}"`,
    );
    const name = readCString(nameOut);
    try {
      if (options.mac !== undefined) setInterfaceMac(name, options.mac);
      if (options.mtu !== undefined) setInterfaceMtu(name, options.mtu);
      if (options.up ?? true) setInterfaceUp(name, true);
      return new TapDevice(fd, name, getInterface(name).ifindex);
    } catch (err) {
      nk.nk_close(fd);
      throw err;
    }
  }

  /** Reads one frame into `buffer`; returns its length, or null when none is queued. */
  read(buffer: Uint8Array): number | null {
    const n = nk.nk_read(this.fd, buffer, buffer.length);
    if (n === -Errno.EAGAIN) return null;
    return unwrap(n, `read from TAP "${this.name}"`);
  }

  /** Writes one frame to the kernel; returns false when it would block. */
  write(frame: Uint8Array): boolean {
    const n = nk.nk_write(this.fd, frame, frame.length);
    if (n === -Errno.EAGAIN) return false;
    unwrap(n, `write to TAP "${this.name}"`);
    return true;
  }
}

/** Throws unless `/dev/net/tun` can be opened (TAP devices can be made). Requires `--allow-ffi`. */
export function probeTun(): void {
  unwrap(nk.nk_tun_probe(), "open /dev/net/tun");
}
