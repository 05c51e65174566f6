/**
 * ARP for IPv4 over Ethernet (RFC 826), with the probe and announcement of RFC 5227 address
 * conflict detection and the gratuitous ARP of RFC 5944 section 4.6.
 *
 * {@linkcode encodeArp} and {@linkcode decodeArp} work on the 28-byte ARP packet (an Ethernet
 * payload); the `createArp*` builders make whole broadcast or unicast frames and
 * {@linkcode decodeArpFrame} reads one back. Decoders are total: bytes that are not Ethernet/IPv4
 * ARP come back as a {@linkcode MalformedPacketError}, never thrown.
 *
 * @example Ask for the gateway and answer as the gateway
 * ```ts
 * import {
 *   createArpReply,
 *   createArpRequest,
 *   decodeArpFrame,
 *   formatIpv4,
 *   formatMac,
 *   isMalformed,
 *   parseIpv4,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const guest = parseMac("52:54:00:12:34:01");
 * const gateway = parseMac("02:00:00:00:00:01");
 * const request = decodeArpFrame(createArpRequest({
 *   srcMac: guest,
 *   srcIp: parseIpv4("169.254.0.5"),
 *   targetIp: parseIpv4("169.254.0.1"),
 * }));
 * if (isMalformed(request)) throw request;
 * const reply = createArpReply({
 *   srcMac: gateway,
 *   srcIp: request.arp.targetIp,
 *   dstMac: request.arp.senderMac,
 *   dstIp: request.arp.senderIp,
 * });
 * const decoded = decodeArpFrame(reply);
 * if (isMalformed(decoded)) throw decoded;
 * formatMac(decoded.ethernet.dst); // "52:54:00:12:34:01"
 * formatIpv4(decoded.arp.senderIp); // "169.254.0.1"
 * ```
 *
 * @module
 */

import { bytesEqual, setU16, u16 } from "./bytes.ts";
import { catchMalformed, type Decoded, MalformedPacketError } from "./errors.ts";
import {
  decodeEthernet,
  encodeEthernet,
  type EthernetHeader,
  ethernetHeaderLengthAt,
  EtherType,
  etherTypeAt,
} from "./ethernet.ts";
import { IPV4_ADDRESS_LEN } from "./ipv4.ts";
import { BROADCAST_MAC, MAC_LEN } from "./mac.ts";

/** Length of an Ethernet/IPv4 ARP packet: 8 bytes of header and two address pairs. */
export const ARP_PACKET_LEN = 28;
/** ARP hardware type of Ethernet. */
export const ARP_HTYPE_ETHERNET = 1;

/** ARP operation codes (RFC 826; 3 and 4 are RARP's, RFC 903). */
export const ArpOperation = {
  /** Who has the target IP? */
  REQUEST: 1,
  /** The sender IP is at the sender MAC. */
  REPLY: 2,
  /** RARP request. */
  RARP_REQUEST: 3,
  /** RARP reply. */
  RARP_REPLY: 4,
} as const;

/** A decoded Ethernet/IPv4 ARP packet. The addresses are views into the bytes decoded. */
export interface ArpPacket {
  /** The operation code, e.g. {@linkcode ArpOperation.REQUEST}; any value is kept. */
  operation: number;
  /** Sender hardware address (6 bytes). */
  senderMac: Uint8Array;
  /** Sender protocol address (4 bytes); 0.0.0.0 in an RFC 5227 probe. */
  senderIp: Uint8Array;
  /** Target hardware address (6 bytes); zero (or anything) in a request. */
  targetMac: Uint8Array;
  /** Target protocol address (4 bytes). */
  targetIp: Uint8Array;
}

/** What {@linkcode encodeArp} builds an ARP packet from. */
export interface ArpPacketInit {
  /** Operation code, 0..0xffff (see {@linkcode ArpOperation}). */
  operation: number;
  /** Sender hardware address (6 bytes). */
  senderMac: Uint8Array;
  /** Sender protocol address (4 bytes). */
  senderIp: Uint8Array;
  /** Target hardware address (6 bytes); default 00:00:00:00:00:00, as requests carry it. */
  targetMac?: Uint8Array;
  /** Target protocol address (4 bytes). */
  targetIp: Uint8Array;
}

/** A decoded ARP frame: the Ethernet header and the ARP packet in it (views into the frame). */
export interface ArpFrame {
  /** The Ethernet header (VLAN tags included). */
  ethernet: EthernetHeader;
  /** The ARP packet. */
  arp: ArpPacket;
}

const ZERO_MAC = new Uint8Array(MAC_LEN);
const SENDER_MAC = 8;
const SENDER_IP = 14;
const TARGET_MAC = 18;
const TARGET_IP = 24;

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length !== length) {
    throw new RangeError(`Invalid ${what}: expected ${length} bytes, got ${bytes.length}`);
  }
}

/**
 * Builds a new 28-byte Ethernet/IPv4 ARP packet. Throws a `RangeError` for an address of the
 * wrong length or an operation outside 0..0xffff.
 *
 * @example
 * ```ts
 * import { ArpOperation, encodeArp, parseIpv4, parseMac } from "./mod.ts";
 *
 * const arp = encodeArp({
 *   operation: ArpOperation.REQUEST,
 *   senderMac: parseMac("52:54:00:12:34:01"),
 *   senderIp: parseIpv4("192.0.2.5"),
 *   targetIp: parseIpv4("192.0.2.1"),
 * });
 * arp.length; // 28
 * ```
 */
export function encodeArp(init: ArpPacketInit): Uint8Array<ArrayBuffer> {
  const { operation, senderMac, senderIp, targetMac = ZERO_MAC, targetIp } = init;
  if (!Number.isInteger(operation) || operation < 0 || operation > 0xffff) {
    throw new RangeError(`Invalid ARP operation "${operation}": expected 0..65535`);
  }
  checkLength(senderMac, MAC_LEN, "ARP sender MAC address");
  checkLength(senderIp, IPV4_ADDRESS_LEN, "ARP sender IPv4 address");
  checkLength(targetMac, MAC_LEN, "ARP target MAC address");
  checkLength(targetIp, IPV4_ADDRESS_LEN, "ARP target IPv4 address");
  const packet = new Uint8Array(ARP_PACKET_LEN);
  setU16(packet, 0, ARP_HTYPE_ETHERNET);
  setU16(packet, 2, EtherType.IPV4);
  packet[4] = MAC_LEN;
  packet[5] = IPV4_ADDRESS_LEN;
  setU16(packet, 6, operation);
  packet.set(senderMac, SENDER_MAC);
  packet.set(senderIp, SENDER_IP);
  packet.set(targetMac, TARGET_MAC);
  packet.set(targetIp, TARGET_IP);
  return packet;
}

/**
 * Decodes an Ethernet/IPv4 ARP packet at `bytes[0]`; bytes after the 28 (Ethernet padding) are
 * ignored. Returns, never throws, a {@linkcode MalformedPacketError} with reason
 * `"truncated_arp"` (fewer than 28 bytes), `"unsupported_arp_hardware"` (hardware type not
 * Ethernet or hardware length not 6) or `"unsupported_arp_protocol"` (protocol type not IPv4 or
 * protocol length not 4).
 *
 * @example
 * ```ts
 * import { ArpOperation, decodeArp, encodeArp, isMalformed, parseIpv4, parseMac } from "./mod.ts";
 *
 * const arp = decodeArp(encodeArp({
 *   operation: ArpOperation.REPLY,
 *   senderMac: parseMac("02:00:00:00:00:01"),
 *   senderIp: parseIpv4("192.0.2.1"),
 *   targetMac: parseMac("52:54:00:12:34:01"),
 *   targetIp: parseIpv4("192.0.2.5"),
 * }));
 * !isMalformed(arp) && arp.operation; // 2
 * isMalformed(decodeArp(new Uint8Array(20))); // true: "truncated_arp"
 * ```
 */
export function decodeArp(bytes: Uint8Array): Decoded<ArpPacket> {
  if (bytes.length < ARP_PACKET_LEN) {
    return new MalformedPacketError(
      "truncated_arp",
      `ARP packet too short: ${bytes.length} bytes, Ethernet/IPv4 ARP needs ${ARP_PACKET_LEN}`,
    );
  }
  const htype = u16(bytes, 0);
  if (htype !== ARP_HTYPE_ETHERNET || bytes[4] !== MAC_LEN) {
    return new MalformedPacketError(
      "unsupported_arp_hardware",
      `ARP hardware type ${htype} with ${
        bytes[4]
      }-byte addresses: only Ethernet (1, 6 bytes) is supported`,
    );
  }
  const ptype = u16(bytes, 2);
  if (ptype !== EtherType.IPV4 || bytes[5] !== IPV4_ADDRESS_LEN) {
    return new MalformedPacketError(
      "unsupported_arp_protocol",
      `ARP protocol type 0x${ptype.toString(16).padStart(4, "0")} with ${
        bytes[5]
      }-byte addresses: only IPv4 (0x0800, 4 bytes) is supported`,
    );
  }
  return {
    operation: u16(bytes, 6),
    senderMac: bytes.subarray(SENDER_MAC, SENDER_IP),
    senderIp: bytes.subarray(SENDER_IP, TARGET_MAC),
    targetMac: bytes.subarray(TARGET_MAC, TARGET_IP),
    targetIp: bytes.subarray(TARGET_IP, ARP_PACKET_LEN),
  };
}

function isZero(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

/**
 * Whether `arp` is an RFC 5227 probe: a request with sender IP 0.0.0.0, sent by a host checking
 * that the target IP is free. A responder must not learn the sender from it, and answers only
 * when it owns the target address.
 */
export function isArpProbe(arp: ArpPacket): boolean {
  return arp.operation === ArpOperation.REQUEST && isZero(arp.senderIp);
}

/**
 * Whether `arp` is an announcement (RFC 5227 section 2.3) or gratuitous ARP: a request or reply
 * whose sender and target IP are the same non-zero address. It asks nothing and needs no answer;
 * it tells the link (again) who holds that address.
 */
export function isArpAnnouncement(arp: ArpPacket): boolean {
  return (arp.operation === ArpOperation.REQUEST || arp.operation === ArpOperation.REPLY) &&
    !isZero(arp.senderIp) && bytesEqual(arp.senderIp, arp.targetIp);
}

/**
 * Whether `frame` (VLAN tags allowed) carries ARP, by its EtherType and length alone, without
 * decoding or allocating: the receive path's first test.
 */
export function isArpFrame(frame: Uint8Array): boolean {
  return etherTypeAt(frame) === EtherType.ARP &&
    ethernetHeaderLengthAt(frame) + ARP_PACKET_LEN <= frame.length;
}

/**
 * Decodes an Ethernet frame carrying ARP (VLAN tags allowed). Returns the reasons of
 * {@linkcode decodeArp}, `decodeEthernet`'s (`"runt"`, `"truncated_vlan_tag"`) or `"not_arp"`
 * (another EtherType).
 */
export function decodeArpFrame(frame: Uint8Array): Decoded<ArpFrame> {
  const ethernet = catchMalformed(() => decodeEthernet(frame));
  if (ethernet instanceof MalformedPacketError) return ethernet;
  if (ethernet.etherType !== EtherType.ARP) {
    return new MalformedPacketError(
      "not_arp",
      `Frame has EtherType 0x${ethernet.etherType.toString(16).padStart(4, "0")}, not ARP (0x0806)`,
    );
  }
  const arp = decodeArp(ethernet.payload);
  return arp instanceof MalformedPacketError ? arp : { ethernet, arp };
}

/** What {@linkcode createArpRequest} builds a frame from. */
export interface ArpRequestInit {
  /** The asking host's MAC: Ethernet source and ARP sender. */
  srcMac: Uint8Array;
  /** The asking host's IPv4 address. */
  srcIp: Uint8Array;
  /** The address whose MAC is wanted. */
  targetIp: Uint8Array;
  /** Ethernet destination (default broadcast; a unicast MAC re-checks a cached entry). */
  dstMac?: Uint8Array;
}

/** What {@linkcode createArpReply} builds a frame from. */
export interface ArpReplyInit {
  /** The answering MAC: Ethernet source and ARP sender. */
  srcMac: Uint8Array;
  /** The address being answered for. */
  srcIp: Uint8Array;
  /** The requester's MAC: Ethernet destination and ARP target. */
  dstMac: Uint8Array;
  /** The requester's IPv4 address (0.0.0.0 when answering a probe). */
  dstIp: Uint8Array;
}

/** What {@linkcode createArpProbe} builds a frame from. */
export interface ArpProbeInit {
  /** The probing host's MAC. */
  srcMac: Uint8Array;
  /** The address the host wants to use. */
  targetIp: Uint8Array;
}

/** What {@linkcode createArpAnnouncement} builds a frame from. */
export interface ArpAnnouncementInit {
  /** The announcing host's MAC. */
  srcMac: Uint8Array;
  /** The address it holds. */
  ip: Uint8Array;
  /** {@linkcode ArpOperation.REQUEST} (default, RFC 5227) or {@linkcode ArpOperation.REPLY}. */
  operation?: 1 | 2;
}

function arpFrame(dst: Uint8Array, src: Uint8Array, init: ArpPacketInit): Uint8Array<ArrayBuffer> {
  return encodeEthernet({ dst, src, etherType: EtherType.ARP, payload: encodeArp(init) });
}

/**
 * Builds a whole ARP request frame (60 bytes, padded): "who has `targetIp`? tell `srcIp`",
 * broadcast unless `dstMac` is given. Throws a `RangeError` for an address of the wrong length.
 *
 * @example
 * ```ts
 * import { createArpRequest, parseIpv4, parseMac } from "./mod.ts";
 *
 * const frame = createArpRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   srcIp: parseIpv4("169.254.0.5"),
 *   targetIp: parseIpv4("169.254.0.1"),
 * });
 * frame.length; // 60
 * ```
 */
export function createArpRequest(init: ArpRequestInit): Uint8Array<ArrayBuffer> {
  return arpFrame(init.dstMac ?? BROADCAST_MAC, init.srcMac, {
    operation: ArpOperation.REQUEST,
    senderMac: init.srcMac,
    senderIp: init.srcIp,
    targetIp: init.targetIp,
  });
}

/**
 * Builds a whole ARP reply frame, unicast to the requester: "`srcIp` is at `srcMac`". Throws a
 * `RangeError` for an address of the wrong length.
 */
export function createArpReply(init: ArpReplyInit): Uint8Array<ArrayBuffer> {
  return arpFrame(init.dstMac, init.srcMac, {
    operation: ArpOperation.REPLY,
    senderMac: init.srcMac,
    senderIp: init.srcIp,
    targetMac: init.dstMac,
    targetIp: init.dstIp,
  });
}

/**
 * Builds an RFC 5227 probe frame: a broadcast request for `targetIp` with sender IP 0.0.0.0 and
 * target MAC zero, sent before using an address. Throws a `RangeError` for a bad address.
 */
export function createArpProbe(init: ArpProbeInit): Uint8Array<ArrayBuffer> {
  return arpFrame(BROADCAST_MAC, init.srcMac, {
    operation: ArpOperation.REQUEST,
    senderMac: init.srcMac,
    senderIp: new Uint8Array(IPV4_ADDRESS_LEN),
    targetIp: init.targetIp,
  });
}

/**
 * Builds a broadcast announcement of `ip` at `srcMac`: sender and target IP both `ip`. By default
 * an RFC 5227 announcement (a request, target MAC zero); `operation: ArpOperation.REPLY` makes the
 * gratuitous reply some stacks send (target MAC = `srcMac`). Throws a `RangeError` for a bad
 * address.
 */
export function createArpAnnouncement(init: ArpAnnouncementInit): Uint8Array<ArrayBuffer> {
  const reply = init.operation === ArpOperation.REPLY;
  return arpFrame(BROADCAST_MAC, init.srcMac, {
    operation: reply ? ArpOperation.REPLY : ArpOperation.REQUEST,
    senderMac: init.srcMac,
    senderIp: init.ip,
    targetMac: reply ? init.srcMac : ZERO_MAC,
    targetIp: init.ip,
  });
}
