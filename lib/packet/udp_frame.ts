/**
 * Whole Ethernet frames carrying UDP over IPv4 or IPv6, for sending test traffic from a packet
 * socket with an exact TTL or hop limit, and for decoding what arrives. Built from the Ethernet,
 * IPv4, IPv6 and UDP codecs; IPv4 or IPv6 is chosen by the length of the addresses (4 or 16
 * bytes).
 *
 * @example Send to a group with TTL 8, then decode the frame as a receiver would
 * ```ts
 * import {
 *   decodeUdpFrame,
 *   encodeUdpMulticastFrame,
 *   formatIpv4,
 *   formatMac,
 *   parseIpv4,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const frame = encodeUdpMulticastFrame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv4("192.0.2.1"),
 *   group: parseIpv4("239.10.20.30"),
 *   srcPort: 40000,
 *   dstPort: 5000,
 *   ttl: 8,
 *   payload: new TextEncoder().encode("hello"),
 * });
 * const { ethernet, ip, udp } = decodeUdpFrame(frame);
 * formatMac(ethernet.dst); // "01:00:5e:0a:14:1e"
 * ip.version === 4 && ip.ttl; // 8
 * formatIpv4(ip.dst); // "239.10.20.30"
 * udp.dstPort; // 5000
 * ```
 *
 * @module
 */

import { MalformedPacketError } from "./errors.ts";
import { decodeEthernet, encodeEthernet, type EthernetHeader, EtherType } from "./ethernet.ts";
import {
  decodeIpv4,
  encodeIpv4,
  IpProtocol,
  IPV4_ADDRESS_LEN,
  ipv4MulticastMac,
  type Ipv4Packet,
} from "./ipv4.ts";
import { decodeIpv6, encodeIpv6, ipv6MulticastMac, type Ipv6Packet } from "./ipv6.ts";
import { decodeUdp, encodeUdp, type UdpDatagram } from "./udp.ts";

/** What {@linkcode encodeUdpMulticastFrame} builds a frame from. */
export interface UdpMulticastFrameInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Source IP address: 4 bytes (IPv4) or 16 bytes (IPv6), the same family as `group`. */
  src: Uint8Array;
  /** Destination multicast group: in 224.0.0.0/4 (4 bytes) or ff00::/8 (16 bytes). */
  group: Uint8Array;
  /** UDP source port, 0..65535. */
  srcPort: number;
  /** UDP destination port, 0..65535. */
  dstPort: number;
  /** IPv4 TTL or IPv6 hop limit, 0..255, written exactly as given. */
  ttl: number;
  /** The UDP payload. */
  payload: Uint8Array;
}

/** A decoded Ethernet frame carrying UDP. Every array in it is a view into the frame. */
export interface UdpFrame {
  /** The Ethernet header (VLAN tags included). */
  ethernet: EthernetHeader;
  /** The IP header: `version` tells IPv4 from IPv6. */
  ip: Ipv4Packet | Ipv6Packet;
  /** The UDP datagram, its checksum verified. */
  udp: UdpDatagram;
}

/**
 * Builds a whole Ethernet frame (no FCS, padded to 60 bytes) carrying one UDP datagram from `src`
 * to `group`, sent to the group's multicast MAC (01:00:5e:... for IPv4, 33:33:... for IPv6) with
 * the given TTL or hop limit. The IPv4 header has identification 0 and DF clear; the IPv6 header
 * has traffic class and flow label 0; the UDP checksum is always computed.
 *
 * Throws a `RangeError` when `src` and `group` are not both IPv4 or both IPv6, `group` is not
 * multicast, or any field is out of range (as the underlying encoders check them).
 *
 * @example IPv6, hop limit 8
 * ```ts
 * import { encodeUdpMulticastFrame, parseIpv6, parseMac } from "./mod.ts";
 *
 * const frame = encodeUdpMulticastFrame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("2001:db8::1"),
 *   group: parseIpv6("ff0e::1:2:3"),
 *   srcPort: 40000,
 *   dstPort: 5000,
 *   ttl: 8,
 *   payload: new Uint8Array(4),
 * });
 * frame.length; // 66: 14 + 40 + 8 + 4
 * ```
 */
export function encodeUdpMulticastFrame(init: UdpMulticastFrameInit): Uint8Array<ArrayBuffer> {
  const { srcMac, src, group, srcPort, dstPort, ttl, payload } = init;
  // encodeUdp checks that src and group are both IPv4 or both IPv6.
  const datagram = encodeUdp({ srcPort, dstPort, payload, src, dst: group });
  if (group.length === IPV4_ADDRESS_LEN) {
    const dst = ipv4MulticastMac(group);
    return encodeEthernet({
      dst,
      src: srcMac,
      etherType: EtherType.IPV4,
      payload: encodeIpv4({ src, dst: group, protocol: IpProtocol.UDP, ttl, payload: datagram }),
    });
  }
  const dst = ipv6MulticastMac(group);
  return encodeEthernet({
    dst,
    src: srcMac,
    etherType: EtherType.IPV6,
    payload: encodeIpv6({
      src,
      dst: group,
      nextHeader: IpProtocol.UDP,
      hopLimit: ttl,
      payload: datagram,
    }),
  });
}

/**
 * Decodes an Ethernet frame (no FCS, VLAN tags allowed) carrying UDP directly over IPv4 or IPv6,
 * verifying the IPv4 header checksum and the UDP checksum. IPv6 extension headers are not walked:
 * a next header other than UDP is `"not_udp"`. Every array returned is a view into `frame`.
 *
 * Throws {@linkcode MalformedPacketError} with the reasons of `decodeEthernet`, `decodeIpv4`,
 * `decodeIpv6` and `decodeUdp`, or `"not_ip"` (EtherType neither IPv4 nor IPv6), `"not_udp"`
 * (protocol or next header not 17) or `"ipv4_fragment"` (MF set or a non-zero fragment offset:
 * the datagram is not whole).
 *
 * @example
 * ```ts
 * import { decodeUdpFrame, encodeUdpMulticastFrame, parseIpv6, parseMac } from "./mod.ts";
 *
 * const frame = encodeUdpMulticastFrame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("fe80::1"),
 *   group: parseIpv6("ff02::fb"),
 *   srcPort: 5353,
 *   dstPort: 5353,
 *   ttl: 255,
 *   payload: new Uint8Array(12),
 * });
 * const { ip, udp } = decodeUdpFrame(frame);
 * ip.version === 6 && ip.hopLimit; // 255
 * udp.payload.length; // 12
 * ```
 */
export function decodeUdpFrame(frame: Uint8Array): UdpFrame {
  const ethernet = decodeEthernet(frame);
  let ip: Ipv4Packet | Ipv6Packet;
  let protocol: number;
  if (ethernet.etherType === EtherType.IPV4) {
    const ipv4 = decodeIpv4(ethernet.payload);
    if (ipv4.moreFragments || ipv4.fragmentOffset !== 0) {
      throw new MalformedPacketError(
        "ipv4_fragment",
        `IPv4 packet is a fragment (offset ${ipv4.fragmentOffset}, ${
          ipv4.moreFragments ? "more follow" : "the last"
        }): it holds part of a datagram only`,
      );
    }
    ip = ipv4;
    protocol = ipv4.protocol;
  } else if (ethernet.etherType === EtherType.IPV6) {
    const ipv6 = decodeIpv6(ethernet.payload);
    ip = ipv6;
    protocol = ipv6.nextHeader;
  } else {
    throw new MalformedPacketError(
      "not_ip",
      `Frame has EtherType 0x${
        ethernet.etherType.toString(16).padStart(4, "0")
      }, not IPv4 (0x0800) or IPv6 (0x86dd)`,
    );
  }
  if (protocol !== IpProtocol.UDP) {
    throw new MalformedPacketError(
      "not_udp",
      `IPv${ip.version} packet carries protocol ${protocol}, not UDP (17)`,
    );
  }
  return { ethernet, ip, udp: decodeUdp(ip.payload, ip) };
}
