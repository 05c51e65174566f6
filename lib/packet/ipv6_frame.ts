/**
 * Whole Ethernet frames carrying IPv6: the plumbing the ICMPv6 and DHCPv6 frame builders and
 * decoders share. Building fills the payload length and picks the multicast MAC of a multicast
 * destination; decoding is total: a frame that is not well-formed IPv6 over Ethernet is answered
 * with the {@linkcode MalformedPacketError}, never thrown.
 *
 * @example
 * ```ts
 * import {
 *   decodeIpv6Frame,
 *   encodeIpv6Frame,
 *   formatMac,
 *   IpProtocol,
 *   isMalformed,
 *   parseIpv6,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const frame = encodeIpv6Frame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("ff02::1"),
 *   nextHeader: IpProtocol.ICMPV6,
 *   hopLimit: 255,
 *   payload: new Uint8Array(8),
 * });
 * const decoded = decodeIpv6Frame(frame);
 * if (!isMalformed(decoded)) formatMac(decoded.ethernet.dst); // "33:33:00:00:00:01"
 * ```
 *
 * @module
 */

import { catchMalformed, type Decoded, MalformedPacketError } from "./errors.ts";
import { decodeEthernet, encodeEthernet, type EthernetHeader, EtherType } from "./ethernet.ts";
import {
  decodeIpv6,
  encodeIpv6,
  ipv6MulticastMac,
  type Ipv6Packet,
  type Ipv6PacketInit,
  isIpv6Multicast,
} from "./ipv6.ts";

/** What {@linkcode encodeIpv6Frame} builds a frame from: the IPv6 packet plus its MACs. */
export interface Ipv6FrameInit extends Ipv6PacketInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /**
   * Destination MAC address (6 bytes). Optional for a multicast `dst` (its 33:33 MAC is used);
   * required for unicast.
   */
  dstMac?: Uint8Array | undefined;
}

/** A decoded Ethernet frame carrying IPv6. Every array in it is a view into the frame. */
export interface Ipv6Frame {
  /** The Ethernet header (VLAN tags included). */
  ethernet: EthernetHeader;
  /** The IPv6 fixed header and its payload. */
  ip: Ipv6Packet;
}

/**
 * Builds an Ethernet frame (no FCS, padded to 60 bytes) carrying one IPv6 packet. Throws a
 * `RangeError` for a unicast `dst` without `dstMac`, or for any field the Ethernet and IPv6
 * encoders refuse.
 *
 * @example
 * ```ts
 * import { encodeIpv6Frame, IpProtocol, parseIpv6, parseMac } from "./mod.ts";
 *
 * encodeIpv6Frame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("fe80::5054:ff:fe12:3401"),
 *   nextHeader: IpProtocol.ICMPV6,
 *   hopLimit: 64,
 *   payload: new Uint8Array(8),
 * }).length; // 62
 * ```
 */
export function encodeIpv6Frame(init: Ipv6FrameInit): Uint8Array<ArrayBuffer> {
  const { srcMac, dstMac, ...packet } = init;
  let dst = dstMac;
  if (dst === undefined) {
    if (packet.dst.length !== 16 || !isIpv6Multicast(packet.dst)) {
      throw new RangeError("A unicast IPv6 destination needs a destination MAC (dstMac)");
    }
    dst = ipv6MulticastMac(packet.dst);
  }
  return encodeEthernet({
    dst,
    src: srcMac,
    etherType: EtherType.IPV6,
    payload: encodeIpv6(packet),
  });
}

/**
 * Decodes an Ethernet frame (no FCS, VLAN tags allowed) carrying IPv6, without throwing: the
 * reasons of `decodeEthernet` and `decodeIpv6`, or `"not_ipv6"` for another EtherType. Extension
 * headers are not walked. Every array returned is a view into `frame`.
 *
 * @example
 * ```ts
 * import { decodeIpv6Frame, isMalformed } from "./mod.ts";
 *
 * const result = decodeIpv6Frame(new Uint8Array(10));
 * isMalformed(result) && result.reason; // "runt"
 * ```
 */
export function decodeIpv6Frame(frame: Uint8Array): Decoded<Ipv6Frame> {
  return catchMalformed(() => {
    const ethernet = decodeEthernet(frame);
    if (ethernet.etherType !== EtherType.IPV6) {
      throw new MalformedPacketError(
        "not_ipv6",
        `Frame has EtherType 0x${
          ethernet.etherType.toString(16).padStart(4, "0")
        }, not IPv6 (0x86dd)`,
      );
    }
    return { ethernet, ip: decodeIpv6(ethernet.payload) };
  });
}
