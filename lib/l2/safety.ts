/**
 * The L2 safety classifier shared by the relay, the gateway and the client (docs/l2-protocol.md
 * §4): frames that must never cross the tunnel die at the edge, each with a reason to count.
 *
 * {@linkcode classifyFrame} runs once per frame, so it allocates nothing and never throws: a
 * header cut short simply does not match a rule (malformed frames are counted elsewhere).
 *
 * @example
 * ```ts
 * import { classifyFrame } from "./safety.ts";
 *
 * const stp = new Uint8Array(60);
 * stp.set([0x01, 0x80, 0xc2, 0x00, 0x00, 0x00]);
 * classifyFrame(stp, true, 1514); // "l2_control"
 * ```
 *
 * @module
 */

import { u16 } from "../packet/bytes.ts";
import { ETH_HEADER_LEN, ethernetHeaderLengthAt, EtherType } from "../packet/ethernet.ts";
import { IpProtocol, IPV4_HEADER_LEN } from "../packet/ipv4.ts";
import { IPV6_HEADER_LEN } from "../packet/ipv6.ts";

/** Why a frame was refused; also the key under which the drop is counted. */
export type SafetyDrop =
  | "jumbo"
  | "l2_control"
  | "rogue_dhcp_server"
  | "rogue_router_advertisement";

const DHCPV4_SERVER_PORT = 67;
const DHCPV6_SERVER_PORT = 547;
const ICMPV6_ROUTER_ADVERTISEMENT = 134;
const IPV6_FRAGMENT_HEADER_LEN = 8;

/**
 * Classifies one Ethernet frame (no FCS, VLAN tags allowed): `null` when it may cross, else the
 * reason to drop it. Rules, in order:
 *
 * - longer than `frameMax` bytes: `"jumbo"`;
 * - destination 01:80:c2:00:00:00 to 0f (STP, pause, LACP, 802.1X...): `"l2_control"`;
 * - EtherType after any VLAN tags LLDP, EAPOL or slow protocols: `"l2_control"`;
 * - only when `fromClient`: a DHCPv4 server message (IPv4 UDP from port 67, first fragment) or a
 *   DHCPv6 server message (IPv6 UDP from port 547): `"rogue_dhcp_server"`; an ICMPv6 router
 *   advertisement: `"rogue_router_advertisement"`. IPv6 hop-by-hop, routing, destination options
 *   and first-fragment headers are followed, however many (each one is at least 8 bytes).
 *
 * Allocation-free and never throws; truncated headers do not match.
 */
export function classifyFrame(
  frame: Uint8Array,
  fromClient: boolean,
  frameMax: number,
): SafetyDrop | null {
  const length = frame.length;
  if (length > frameMax) return "jumbo";
  if (length < ETH_HEADER_LEN) return null;
  if (
    frame[0] === 0x01 && frame[1] === 0x80 && frame[2] === 0xc2 && frame[3] === 0x00 &&
    frame[4] === 0x00 && (frame[5]! & 0xf0) === 0x00
  ) {
    return "l2_control";
  }
  const ip = ethernetHeaderLengthAt(frame);
  if (ip < 0) return null;
  const etherType = u16(frame, ip - 2);
  if (
    etherType === EtherType.LLDP || etherType === EtherType.EAPOL ||
    etherType === EtherType.SLOW_PROTOCOLS
  ) {
    return "l2_control";
  }
  if (!fromClient) return null;
  if (etherType === EtherType.IPV4) return classifyIpv4(frame, ip);
  if (etherType === EtherType.IPV6) return classifyIpv6(frame, ip);
  return null;
}

/** DHCPv4 server replies from a client; `ip` is the offset of the IPv4 header. */
function classifyIpv4(frame: Uint8Array, ip: number): SafetyDrop | null {
  if (ip + IPV4_HEADER_LEN > frame.length) return null;
  if (frame[ip]! >>> 4 !== 4 || frame[ip + 9] !== IpProtocol.UDP) return null;
  // Later fragments carry no UDP header: their first bytes are payload, not ports.
  if ((u16(frame, ip + 6) & 0x1fff) !== 0) return null;
  const headerLength = (frame[ip]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LEN) return null;
  const udp = ip + headerLength;
  if (udp + 2 > frame.length) return null;
  return u16(frame, udp) === DHCPV4_SERVER_PORT ? "rogue_dhcp_server" : null;
}

/** Router advertisements and DHCPv6 server messages from a client; `ip` is the IPv6 header. */
function classifyIpv6(frame: Uint8Array, ip: number): SafetyDrop | null {
  const length = frame.length;
  if (ip + IPV6_HEADER_LEN > length || frame[ip]! >>> 4 !== 6) return null;
  let next = frame[ip + 6]!;
  let offset = ip + IPV6_HEADER_LEN;
  // No fixed cap on the chain: a cap would let a longer chain smuggle an RA past the guard, and
  // every header advances at least 8 bytes, so the walk is bounded by the frame length.
  while (
    next === IpProtocol.HOP_BY_HOP || next === IpProtocol.IPV6_ROUTING ||
    next === IpProtocol.IPV6_DEST_OPTIONS || next === IpProtocol.IPV6_FRAGMENT
  ) {
    if (next === IpProtocol.IPV6_FRAGMENT) {
      // RA guard evasion (RFC 7113) hides the ICMPv6 header behind a fragment header; only the
      // first fragment (offset 0) holds the upper-layer header.
      if (offset + IPV6_FRAGMENT_HEADER_LEN > length) return null;
      if ((u16(frame, offset + 2) & 0xfff8) !== 0) return null;
      next = frame[offset]!;
      offset += IPV6_FRAGMENT_HEADER_LEN;
    } else {
      if (offset + 2 > length) return null;
      next = frame[offset]!;
      offset += (frame[offset + 1]! + 1) * 8;
    }
  }
  if (next === IpProtocol.ICMPV6) {
    if (offset + 1 > length) return null;
    return frame[offset] === ICMPV6_ROUTER_ADVERTISEMENT ? "rogue_router_advertisement" : null;
  }
  if (next === IpProtocol.UDP) {
    if (offset + 2 > length) return null;
    return u16(frame, offset) === DHCPV6_SERVER_PORT ? "rogue_dhcp_server" : null;
  }
  return null;
}
