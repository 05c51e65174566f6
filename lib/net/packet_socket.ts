/**
 * AF_PACKET raw sockets bound to one interface: memberships instead of interface flags,
 * receive metadata (`sockaddr_ll`), 802.1Q tags restored, and batched I/O. Requires
 * `--allow-ffi` and CAP_NET_RAW (CAP_NET_ADMIN is not needed for memberships).
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { unwrap } from "../errors.ts";
import { VNET_HDR_LEN } from "../packet/gso.ts";
import { FRAME_META, FrameBatch } from "./frame_batch.ts";
import { getInterface, interfaceName } from "./interfaces.ts";
import { OwnedFd } from "./owned_fd.ts";

/** `ETH_P_ALL`: every protocol. */
export const ETH_P_ALL = 0x0003;

/** `sll_pkttype` values. */
export const PacketType = {
  HOST: 0,
  BROADCAST: 1,
  MULTICAST: 2,
  OTHERHOST: 3,
  /** Sent by this host (by another socket or the stack), seen on the way out. */
  OUTGOING: 4,
} as const;

const PACKET_MR_MULTICAST = 0;
const PACKET_MR_PROMISC = 1;
const PACKET_MR_ALLMULTI = 2;

/** Options for {@linkcode PacketSocket.open}. */
export interface PacketSocketOptions {
  /** Interface name (or index) to bind to. */
  interface: string | number;
  /** EtherType to receive (default {@linkcode ETH_P_ALL}). */
  etherType?: number;
  /** Receive buffer in bytes (default: the kernel's). */
  rcvbuf?: number;
  /** Largest frame {@linkcode PacketSocket.receive} returns whole (default 65535). */
  maxFrame?: number;
  /**
   * `PACKET_VNET_HDR`: a frame the kernel merged (GRO on the interface, TSO from this host, a
   * VM or a veth peer) arrives whole with its GSO type and segment size
   * ({@linkcode FrameBatch.gsoType}), and sends carry a header saying "no offload". Receive
   * slots must then hold {@linkcode VNET_HDR_LEN} more bytes.
   */
  vnetHeader?: boolean;
  /**
   * Also receive `etherType` frames that carry a VLAN tag, with the tag ({@linkcode
   * ReceivedFrame.vlanTci}). A socket bound to one EtherType gets such frames only after the
   * kernel has cleared the tag (VID 0, or no VLAN device for the VID), so they look untagged.
   * This binds to every protocol behind a kernel filter instead, and never sees frames this host
   * sends. Not with `vnetHeader`.
   */
  includeTagged?: boolean;
}

/** One frame from {@linkcode PacketSocket.receive}, with its `sockaddr_ll` metadata. */
export interface ReceivedFrame {
  /** The frame as on the wire (a copy), 802.1Q tag included. */
  frame: Uint8Array;
  /** The interface it arrived on (or left, for outgoing copies). */
  ifindex: number;
  /** `sll_protocol`: EtherType after any VLAN tag. */
  protocol: number;
  /** See {@linkcode PacketType}. */
  pktType: number;
  /** Source MAC from the kernel. */
  source: Uint8Array;
  /** The 802.1Q TCI, or -1 when untagged. */
  vlanTci: number;
  /** The frame was larger than `maxFrame`. */
  truncated: boolean;
}

/** A raw packet socket on one interface. */
export class PacketSocket extends OwnedFd {
  readonly #single: FrameBatch;
  /** 1 with `vnetHeader`: every receive and send passes it to C. */
  readonly #vnet: number;
  /** Interface name. */
  readonly ifname: string;
  /** Interface index the socket is bound to. */
  readonly ifindex: number;

  private constructor(
    fd: number,
    ifname: string,
    ifindex: number,
    maxFrame: number,
    vnet: boolean,
  ) {
    super(fd);
    this.ifname = ifname;
    this.ifindex = ifindex;
    this.#vnet = vnet ? 1 : 0;
    this.#single = new FrameBatch({
      slots: 1,
      slotSize: maxFrame + 4 + (vnet ? VNET_HDR_LEN : 0),
    });
  }

  /** Opens a nonblocking, close-on-exec socket bound to the interface. */
  static open(options: PacketSocketOptions): PacketSocket {
    const info = typeof options.interface === "string"
      ? getInterface(options.interface)
      : { name: interfaceName(options.interface), ifindex: options.interface };
    const etherType = options.etherType ?? ETH_P_ALL;
    const vnet = options.vnetHeader ?? false;
    if (options.includeTagged && (vnet || etherType === ETH_P_ALL)) {
      throw new RangeError("includeTagged needs one EtherType and no vnetHeader");
    }
    const fd = unwrap(
      options.includeTagged
        ? nk.nk_packet_open_tagged(info.ifindex, etherType)
        : nk.nk_packet_open(info.ifindex, etherType, vnet ? 1 : 0),
      `open packet socket on "${info.name}"`,
    );
    const socket = new PacketSocket(fd, info.name, info.ifindex, options.maxFrame ?? 65535, vnet);
    try {
      if (options.rcvbuf !== undefined) {
        unwrap(nk.nk_set_rcvbuf(fd, options.rcvbuf), `set receive buffer on "${info.name}"`);
      }
    } catch (err) {
      socket.close();
      throw err;
    }
    return socket;
  }

  /** Receives frames sent to multicast `mac` (e.g. 01:80:c2:00:00:02) without promiscuity. */
  addMulticast(mac: Uint8Array): void {
    this.#membership(PACKET_MR_MULTICAST, mac, true, "join multicast");
  }

  /** Undoes {@linkcode addMulticast}. */
  dropMulticast(mac: Uint8Array): void {
    this.#membership(PACKET_MR_MULTICAST, mac, false, "leave multicast");
  }

  /**
   * Receives frames for any MAC through a promiscuous membership: the interface's own
   * IFF_PROMISC flag is untouched and the kernel ends the membership when the socket closes.
   */
  addPromisc(): void {
    this.#membership(PACKET_MR_PROMISC, null, true, "enable promiscuous membership");
  }

  /** Undoes {@linkcode addPromisc}. */
  dropPromisc(): void {
    this.#membership(PACKET_MR_PROMISC, null, false, "disable promiscuous membership");
  }

  /** Receives every multicast frame through an all-multicast membership. */
  addAllMulticast(): void {
    this.#membership(PACKET_MR_ALLMULTI, null, true, "enable all-multicast membership");
  }

  #membership(type: number, mac: Uint8Array | null, add: boolean, what: string): void {
    if (mac !== null && mac.length !== 6) throw new RangeError(`MAC address must be 6 bytes`);
    unwrap(
      nk.nk_packet_membership(this.fd, this.ifindex, type, mac, add ? 1 : 0),
      `${what} on "${this.ifname}"`,
    );
  }

  /** Receives one frame, or returns null when none is queued. */
  receive(): ReceivedFrame | null {
    const batch = this.#single;
    const n = nk.nk_packet_recv(this.fd, batch.data, batch.slotSize, batch.meta, this.#vnet);
    if (unwrap(n, "receive from packet socket") === 0) return null;
    // One allocation for frame and source: every typed array costs a backing store in Deno.
    const length = batch.length(0);
    const copy = new Uint8Array(length + 6);
    copy.set(batch.frame(0));
    copy.set(batch.source(0), length);
    return {
      frame: copy.subarray(0, length),
      ifindex: batch.ifindex(0),
      protocol: batch.protocol(0),
      pktType: batch.pktType(0),
      source: copy.subarray(length),
      vlanTci: batch.vlanTci(0),
      truncated: batch.truncated(0),
    };
  }

  /** Fills `batch` with as many queued frames as fit (one system call); returns the count. */
  receiveBatch(batch: FrameBatch): number {
    const n = nk.nk_packet_recv_batch(
      this.fd,
      batch.data,
      batch.slotSize,
      batch.slots,
      batch.meta,
      this.#vnet,
    );
    batch.count = n > 0 ? n : 0;
    return unwrap(n, "receive from packet socket");
  }

  /** Sends one complete frame; returns false when the socket's queue is full. */
  send(frame: Uint8Array): boolean {
    const n = nk.nk_packet_send(this.fd, frame, frame.length, this.#vnet);
    if (n === -Errno.EAGAIN || n === -Errno.ENOBUFS) return false;
    unwrap(n, `send on "${this.ifname}"`);
    return true;
  }

  /**
   * Sends `count` slots of `batch` from slot `first` (default 0; one system call); returns how
   * many went out.
   */
  sendBatch(batch: FrameBatch, count: number, first = 0): number {
    if (count < 0 || first < 0 || first + count > batch.slots) {
      throw new RangeError(`Cannot send ${count} frames from a batch of ${batch.slots}`);
    }
    const n = nk.nk_packet_send_batch(
      this.fd,
      first === 0 ? batch.data : batch.data.subarray(first * batch.slotSize),
      batch.slotSize,
      count,
      first === 0 ? batch.meta : batch.meta.subarray(first * FRAME_META.size),
      this.#vnet,
    );
    if (n === -Errno.ENOBUFS) return 0;
    return unwrap(n, `send batch on "${this.ifname}"`);
  }

  /**
   * Stops the kernel from queuing the frames sent on the interface (this socket's own, and the
   * host's) to this socket: each would otherwise wake the reader for a frame it throws away.
   * False where the kernel is older than 4.20 (ENOPROTOOPT): they still come, as
   * {@linkcode PacketType.OUTGOING}.
   */
  ignoreOutgoing(): boolean {
    const rc = nk.nk_packet_ignore_outgoing(this.fd);
    if (rc === -Errno.ENOPROTOOPT) return false;
    unwrap(rc, `ignore outgoing frames on "${this.ifname}"`);
    return true;
  }

  /** Kernel counters since the last call: frames queued and frames dropped for lack of room. */
  stats(): { packets: number; drops: number } {
    const out = new Uint32Array(2);
    unwrap(nk.nk_packet_stats(this.fd, new Uint8Array(out.buffer)), "read packet statistics");
    return { packets: out[0]!, drops: out[1]! };
  }
}
