/**
 * ICMP for IPv4 (RFC 792): echo request and reply, and the two errors a router sends,
 * destination unreachable and time exceeded, quoting the offending packet's IP header and the
 * first 8 bytes of its data (RFC 792), or as much as fits in 576 bytes (RFC 1812 section
 * 4.3.2.3).
 *
 * {@linkcode encodeIcmpv4} and {@linkcode decodeIcmpv4} work on the ICMP message (an IPv4
 * payload); the `createIcmp*` builders make whole Ethernet + IPv4 frames with every length and
 * checksum filled in, and {@linkcode decodeIcmpv4Frame} reads one back. Decoders are total: a
 * refusal comes back as a {@linkcode MalformedPacketError}, never thrown.
 *
 * @example Ping the gateway and answer it
 * ```ts
 * import {
 *   createIcmpEchoReply,
 *   createIcmpEchoRequest,
 *   decodeIcmpv4Frame,
 *   isMalformed,
 *   parseIpv4,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const request = decodeIcmpv4Frame(createIcmpEchoRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   dstMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv4("169.254.0.5"),
 *   dst: parseIpv4("169.254.0.1"),
 *   identifier: 0x1234,
 *   sequence: 1,
 *   data: new TextEncoder().encode("netkit"),
 * }));
 * if (isMalformed(request) || request.icmp.kind !== "echo") throw new Error("not an echo");
 * const reply = decodeIcmpv4Frame(createIcmpEchoReply({
 *   srcMac: request.ethernet.dst,
 *   dstMac: request.ethernet.src,
 *   src: request.ip.dst,
 *   dst: request.ip.src,
 *   identifier: request.icmp.identifier,
 *   sequence: request.icmp.sequence,
 *   data: request.icmp.data,
 * }));
 * !isMalformed(reply) && reply.icmp.type; // 0, echo reply
 * ```
 *
 * @module
 */

import { setU16, u16 } from "./bytes.ts";
import { internetChecksum, onesComplementSum } from "./checksum.ts";
import { catchMalformed, type Decoded, MalformedPacketError } from "./errors.ts";
import {
  decodeEthernet,
  encodeEthernet,
  type EthernetHeader,
  ethernetHeaderLengthAt,
  EtherType,
  etherTypeAt,
} from "./ethernet.ts";
import {
  decodeIpv4,
  encodeIpv4,
  IpProtocol,
  IPV4_HEADER_LEN,
  IPV4_MAX_TOTAL_LEN,
  type Ipv4Packet,
} from "./ipv4.ts";

/** Length of the ICMP header: type, code, checksum and the 4-byte rest of header. */
export const ICMPV4_HEADER_LEN = 8;
/** RFC 1812 section 4.3.2.3: an ICMP error's IP datagram should not exceed 576 bytes. */
export const ICMPV4_ERROR_MAX_DATAGRAM = 576;
/** TTL of the packets the builders send unless told otherwise (RFC 1700's default). */
export const ICMPV4_DEFAULT_TTL = 64;

/** ICMPv4 message types this module builds and names. */
export const Icmpv4Type = {
  /** Echo reply (RFC 792). */
  ECHO_REPLY: 0,
  /** Destination unreachable (RFC 792); the code says why. */
  DESTINATION_UNREACHABLE: 3,
  /** Redirect (RFC 792). */
  REDIRECT: 5,
  /** Echo request (RFC 792). */
  ECHO_REQUEST: 8,
  /** Time exceeded (RFC 792); the code says which time. */
  TIME_EXCEEDED: 11,
  /** Parameter problem (RFC 792). */
  PARAMETER_PROBLEM: 12,
} as const;

/** Codes of destination unreachable (RFC 792, RFC 1122, RFC 1812). */
export const UnreachableCode = {
  /** Network unreachable. */
  NET: 0,
  /** Host unreachable. */
  HOST: 1,
  /** Protocol unreachable (sent by the destination host). */
  PROTOCOL: 2,
  /** Port unreachable (sent by the destination host). */
  PORT: 3,
  /** Fragmentation needed and DF set; the message carries the next-hop MTU (RFC 1191). */
  FRAGMENTATION_NEEDED: 4,
  /** Source route failed. */
  SOURCE_ROUTE_FAILED: 5,
  /** Destination network unknown. */
  NET_UNKNOWN: 6,
  /** Destination host unknown. */
  HOST_UNKNOWN: 7,
  /** Source host isolated (obsolete). */
  SOURCE_HOST_ISOLATED: 8,
  /** Network administratively prohibited. */
  NET_PROHIBITED: 9,
  /** Host administratively prohibited. */
  HOST_PROHIBITED: 10,
  /** Network unreachable for the type of service. */
  NET_TOS: 11,
  /** Host unreachable for the type of service. */
  HOST_TOS: 12,
  /** Communication administratively prohibited (RFC 1812). */
  ADMIN_PROHIBITED: 13,
  /** Host precedence violation (RFC 1812). */
  HOST_PRECEDENCE_VIOLATION: 14,
  /** Precedence cutoff in effect (RFC 1812). */
  PRECEDENCE_CUTOFF: 15,
} as const;

/** Codes of time exceeded (RFC 792). */
export const TimeExceededCode = {
  /** TTL reached zero in transit: what a router sends. */
  TTL: 0,
  /** Fragment reassembly time exceeded (sent by the destination host). */
  REASSEMBLY: 1,
} as const;

/** A decoded echo request or reply. `data` is a view into the message. */
export interface Icmpv4Echo {
  /** Tells the variants of {@linkcode Icmpv4Message} apart. */
  kind: "echo";
  /** {@linkcode Icmpv4Type.ECHO_REQUEST} or {@linkcode Icmpv4Type.ECHO_REPLY}. */
  type: number;
  /** The code; 0 for echo. */
  code: number;
  /** The checksum as found on the wire (verified). */
  checksum: number;
  /** Identifier, 0..0xffff. */
  identifier: number;
  /** Sequence number, 0..0xffff. */
  sequence: number;
  /** The data after the header, echoed back unchanged. */
  data: Uint8Array;
}

/** A decoded destination unreachable or time exceeded. `invoking` is a view into the message. */
export interface Icmpv4Error {
  /** Tells the variants of {@linkcode Icmpv4Message} apart. */
  kind: "error";
  /** {@linkcode Icmpv4Type.DESTINATION_UNREACHABLE} or {@linkcode Icmpv4Type.TIME_EXCEEDED}. */
  type: number;
  /** Why (see {@linkcode UnreachableCode} and {@linkcode TimeExceededCode}). */
  code: number;
  /** The checksum as found on the wire (verified). */
  checksum: number;
  /** Next-hop MTU of a "fragmentation needed" (RFC 1191); 0 otherwise. */
  nextHopMtu: number;
  /** The quoted start of the packet that caused the error: its IP header and data. */
  invoking: Uint8Array;
}

/** Any other decoded ICMP message, kept raw. `rest` and `body` are views into the message. */
export interface Icmpv4Other {
  /** Tells the variants of {@linkcode Icmpv4Message} apart. */
  kind: "other";
  /** The type. */
  type: number;
  /** The code. */
  code: number;
  /** The checksum as found on the wire (verified). */
  checksum: number;
  /** Header bytes 4..8, whose meaning depends on the type. */
  rest: Uint8Array;
  /** Bytes after the 8-byte header. */
  body: Uint8Array;
}

/** A decoded ICMPv4 message; `kind` says which. */
export type Icmpv4Message = Icmpv4Echo | Icmpv4Error | Icmpv4Other;

/** What {@linkcode encodeIcmpv4} builds a message from: the header fields and the body. */
export interface Icmpv4MessageInit {
  /** Type, 0..255 (see {@linkcode Icmpv4Type}). */
  type: number;
  /** Code, 0..255. */
  code: number;
  /** Header bytes 4..8 as a 32-bit number: identifier << 16 | sequence for echo (default 0). */
  rest?: number;
  /** Bytes after the header. */
  body: Uint8Array;
}

/** A decoded Ethernet frame carrying ICMPv4 (views into the frame). */
export interface Icmpv4Frame {
  /** The Ethernet header. */
  ethernet: EthernetHeader;
  /** The IPv4 header, its checksum verified. */
  ip: Ipv4Packet;
  /** The ICMP message, its checksum verified. */
  icmp: Icmpv4Message;
}

function checkInteger(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from 0 to ${max}`);
  }
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, "0")}`;
}

/**
 * Builds a new ICMPv4 message with its checksum. Throws a `RangeError` for a field out of range
 * or a body that cannot fit in an IPv4 packet.
 *
 * @example An echo request, identifier 1, sequence 2
 * ```ts
 * import { encodeIcmpv4, Icmpv4Type } from "./mod.ts";
 *
 * const message = encodeIcmpv4({
 *   type: Icmpv4Type.ECHO_REQUEST,
 *   code: 0,
 *   rest: (1 << 16) | 2,
 *   body: new Uint8Array(0),
 * });
 * (message[2]! << 8) | message[3]!; // 0xf7fc, the checksum
 * ```
 */
export function encodeIcmpv4(init: Icmpv4MessageInit): Uint8Array<ArrayBuffer> {
  const { type, code, rest = 0, body } = init;
  checkInteger(type, 0xff, "ICMP type");
  checkInteger(code, 0xff, "ICMP code");
  checkInteger(rest, 0xffff_ffff, "ICMP rest of header");
  const max = IPV4_MAX_TOTAL_LEN - IPV4_HEADER_LEN - ICMPV4_HEADER_LEN;
  if (body.length > max) {
    throw new RangeError(`ICMP body of ${body.length} bytes is too long: at most ${max} fit`);
  }
  const message = new Uint8Array(ICMPV4_HEADER_LEN + body.length);
  message[0] = type;
  message[1] = code;
  setU16(message, 4, rest >>> 16);
  setU16(message, 6, rest & 0xffff);
  message.set(body, ICMPV4_HEADER_LEN);
  setU16(message, 2, internetChecksum(message));
  return message;
}

/**
 * Decodes an ICMPv4 message that fills `bytes` (pass the IPv4 payload, so padding is excluded),
 * verifying its checksum. Echo request and reply come back as {@linkcode Icmpv4Echo}, destination
 * unreachable and time exceeded as {@linkcode Icmpv4Error}, anything else as
 * {@linkcode Icmpv4Other}. Returns, never throws, a {@linkcode MalformedPacketError} with reason
 * `"truncated_icmpv4"` (fewer than 8 bytes) or `"bad_icmpv4_checksum"`.
 *
 * @example
 * ```ts
 * import { decodeIcmpv4, encodeIcmpv4, Icmpv4Type, isMalformed } from "./mod.ts";
 *
 * const bytes = encodeIcmpv4({ type: Icmpv4Type.ECHO_REPLY, code: 0, rest: 7, body: new Uint8Array(4) });
 * const icmp = decodeIcmpv4(bytes);
 * !isMalformed(icmp) && icmp.kind === "echo" && icmp.sequence; // 7
 * bytes[5] = bytes[5]! ^ 1;
 * isMalformed(decodeIcmpv4(bytes)); // true: "bad_icmpv4_checksum"
 * ```
 */
export function decodeIcmpv4(bytes: Uint8Array): Decoded<Icmpv4Message> {
  if (bytes.length < ICMPV4_HEADER_LEN) {
    return new MalformedPacketError(
      "truncated_icmpv4",
      `ICMP message too short: ${bytes.length} bytes, its header needs ${ICMPV4_HEADER_LEN}`,
    );
  }
  const checksum = u16(bytes, 2);
  if (internetChecksum(bytes) !== 0) {
    // The checksum over the message with its checksum field left out.
    const expected = internetChecksum(bytes, 4, bytes.length, onesComplementSum(bytes, 0, 2));
    return new MalformedPacketError(
      "bad_icmpv4_checksum",
      `ICMP checksum is ${hex16(checksum)}, expected ${hex16(expected)}`,
    );
  }
  const type = bytes[0]!;
  const code = bytes[1]!;
  if (type === Icmpv4Type.ECHO_REQUEST || type === Icmpv4Type.ECHO_REPLY) {
    return {
      kind: "echo",
      type,
      code,
      checksum,
      identifier: u16(bytes, 4),
      sequence: u16(bytes, 6),
      data: bytes.subarray(ICMPV4_HEADER_LEN),
    };
  }
  if (type === Icmpv4Type.DESTINATION_UNREACHABLE || type === Icmpv4Type.TIME_EXCEEDED) {
    const fragmentationNeeded = type === Icmpv4Type.DESTINATION_UNREACHABLE &&
      code === UnreachableCode.FRAGMENTATION_NEEDED;
    return {
      kind: "error",
      type,
      code,
      checksum,
      nextHopMtu: fragmentationNeeded ? u16(bytes, 6) : 0,
      invoking: bytes.subarray(ICMPV4_HEADER_LEN),
    };
  }
  return {
    kind: "other",
    type,
    code,
    checksum,
    rest: bytes.subarray(4, ICMPV4_HEADER_LEN),
    body: bytes.subarray(ICMPV4_HEADER_LEN),
  };
}

/**
 * The part of `packet` (an IPv4 packet from its header on) that an ICMP error about it quotes:
 * the IP header and the first 8 data bytes (RFC 792), or with `limit: "rfc1812"` as much of the
 * packet as keeps the error's IP datagram within 576 bytes. Never past the packet's total length
 * (so no Ethernet padding) nor its end. A view into `packet`.
 */
export function icmpv4Quote(
  packet: Uint8Array,
  limit: "rfc792" | "rfc1812" = "rfc792",
): Uint8Array {
  const headerLength = packet.length > 0 ? (packet[0]! & 0x0f) * 4 : 0;
  const totalLength = packet.length >= 4 ? u16(packet, 2) : packet.length;
  let end = Math.min(packet.length, Math.max(totalLength, headerLength));
  if (limit === "rfc792") end = Math.min(end, headerLength + 8);
  else end = Math.min(end, ICMPV4_ERROR_MAX_DATAGRAM - IPV4_HEADER_LEN - ICMPV4_HEADER_LEN);
  return packet.subarray(0, end);
}

/**
 * Why a router must not send an ICMP error about the IPv4 packet `packet` (RFC 1812 section
 * 4.3.2.7, RFC 1122 section 3.2.2), or `undefined` when it may: `"icmp_error"` (the packet is
 * itself an ICMP error), `"fragment"` (not the first fragment), `"multicast_destination"`,
 * `"broadcast_destination"` (255.255.255.255), `"bad_source"` (0.0.0.0, 127/8, multicast,
 * class E or broadcast: no single host to tell) or `"malformed"` (not a whole IPv4 header).
 */
export function icmpv4ErrorForbidden(packet: Uint8Array): string | undefined {
  if (packet.length < IPV4_HEADER_LEN || packet[0]! >>> 4 !== 4) return "malformed";
  const headerLength = (packet[0]! & 0x0f) * 4;
  if (headerLength < IPV4_HEADER_LEN || headerLength > packet.length) return "malformed";
  if ((u16(packet, 6) & 0x1fff) !== 0) return "fragment";
  const dst = packet[16]!;
  if (dst >= 224 && dst < 240) return "multicast_destination";
  if (packet[16] === 255 && packet[17] === 255 && packet[18] === 255 && packet[19] === 255) {
    return "broadcast_destination";
  }
  const src = packet[12]!;
  const zeroSource = packet[12] === 0 && packet[13] === 0 && packet[14] === 0 &&
    packet[15] === 0;
  if (zeroSource || src === 127 || src >= 224) return "bad_source";
  if (packet[9] === IpProtocol.ICMP && packet.length >= headerLength + 1) {
    const type = packet[headerLength]!;
    const informational = type === Icmpv4Type.ECHO_REPLY || type === Icmpv4Type.ECHO_REQUEST ||
      (type >= 13 && type <= 18);
    if (!informational) return "icmp_error";
  }
  return undefined;
}

/**
 * Whether `frame` (VLAN tags allowed) carries an ICMPv4 message in an unfragmented IPv4 packet
 * that is long enough for an ICMP header, by its header fields alone, without decoding or
 * allocating. It says nothing of checksums: {@linkcode decodeIcmpv4Frame} checks them.
 */
export function isIcmpv4Frame(frame: Uint8Array): boolean {
  if (etherTypeAt(frame) !== EtherType.IPV4) return false;
  const ip = ethernetHeaderLengthAt(frame);
  if (frame.length < ip + IPV4_HEADER_LEN || frame[ip]! >>> 4 !== 4) return false;
  const headerLength = (frame[ip]! & 0x0f) * 4;
  return frame[ip + 9] === IpProtocol.ICMP && (u16(frame, ip + 6) & 0x3fff) === 0 &&
    headerLength >= IPV4_HEADER_LEN && u16(frame, ip + 2) >= headerLength + ICMPV4_HEADER_LEN &&
    ip + u16(frame, ip + 2) <= frame.length;
}

/**
 * Decodes an Ethernet frame carrying ICMPv4, verifying the IPv4 header checksum and the ICMP
 * checksum. Returns the reasons of `decodeEthernet`, `decodeIpv4` and {@linkcode decodeIcmpv4},
 * or `"not_ipv4"`, `"not_icmpv4"` or `"ipv4_fragment"` (a fragment holds part of a message).
 */
export function decodeIcmpv4Frame(frame: Uint8Array): Decoded<Icmpv4Frame> {
  const layers = catchMalformed(() => {
    const ethernet = decodeEthernet(frame);
    if (ethernet.etherType !== EtherType.IPV4) {
      throw new MalformedPacketError(
        "not_ipv4",
        `Frame has EtherType ${hex16(ethernet.etherType)}, not IPv4 (0x0800)`,
      );
    }
    return { ethernet, ip: decodeIpv4(ethernet.payload) };
  });
  if (layers instanceof MalformedPacketError) return layers;
  const { ethernet, ip } = layers;
  if (ip.protocol !== IpProtocol.ICMP) {
    return new MalformedPacketError(
      "not_icmpv4",
      `IPv4 packet carries protocol ${ip.protocol}, not ICMP (1)`,
    );
  }
  if (ip.moreFragments || ip.fragmentOffset !== 0) {
    return new MalformedPacketError(
      "ipv4_fragment",
      `IPv4 packet is a fragment (offset ${ip.fragmentOffset}): it holds part of a message only`,
    );
  }
  const icmp = decodeIcmpv4(ip.payload);
  return icmp instanceof MalformedPacketError ? icmp : { ethernet, ip, icmp };
}

/** The Ethernet and IPv4 addressing of a frame the `createIcmp*` builders make. */
export interface Icmpv4FrameAddressing {
  /** Ethernet source. */
  srcMac: Uint8Array;
  /** Ethernet destination. */
  dstMac: Uint8Array;
  /** IPv4 source address. */
  src: Uint8Array;
  /** IPv4 destination address. */
  dst: Uint8Array;
  /** TTL, 0..255 (default 64). */
  ttl?: number;
  /** IPv4 identification, 0..0xffff (default 0). */
  id?: number;
}

/** What {@linkcode createIcmpEchoRequest} and {@linkcode createIcmpEchoReply} build from. */
export interface IcmpEchoInit extends Icmpv4FrameAddressing {
  /** Identifier, 0..0xffff. */
  identifier: number;
  /** Sequence number, 0..0xffff. */
  sequence: number;
  /** Data after the header (default none). */
  data?: Uint8Array;
}

/** What {@linkcode createIcmpDestinationUnreachable} and {@linkcode createIcmpTimeExceeded} build from. */
export interface IcmpErrorInit extends Omit<Icmpv4FrameAddressing, "dst"> {
  /** The offending IPv4 packet, from its header on; the error goes to its source address. */
  invoking: Uint8Array;
  /** How much of `invoking` to quote (see {@linkcode icmpv4Quote}; default `"rfc792"`). */
  quote?: "rfc792" | "rfc1812";
}

/** What {@linkcode createIcmpDestinationUnreachable} builds from. */
export interface IcmpUnreachableInit extends IcmpErrorInit {
  /** Why (see {@linkcode UnreachableCode}). */
  code: number;
  /** Next-hop MTU, for {@linkcode UnreachableCode.FRAGMENTATION_NEEDED} (default 0). */
  nextHopMtu?: number;
}

/** What {@linkcode createIcmpTimeExceeded} builds from. */
export interface IcmpTimeExceededInit extends IcmpErrorInit {
  /** Which time (see {@linkcode TimeExceededCode}; default TTL exceeded in transit, 0). */
  code?: number;
}

function icmpFrame(
  addressing: Icmpv4FrameAddressing,
  message: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const { srcMac, dstMac, src, dst, ttl = ICMPV4_DEFAULT_TTL, id = 0 } = addressing;
  return encodeEthernet({
    dst: dstMac,
    src: srcMac,
    etherType: EtherType.IPV4,
    payload: encodeIpv4({ src, dst, protocol: IpProtocol.ICMP, ttl, id, payload: message }),
  });
}

function echoFrame(type: number, init: IcmpEchoInit): Uint8Array<ArrayBuffer> {
  checkInteger(init.identifier, 0xffff, "ICMP echo identifier");
  checkInteger(init.sequence, 0xffff, "ICMP echo sequence number");
  const message = encodeIcmpv4({
    type,
    code: 0,
    rest: init.identifier * 0x10000 + init.sequence,
    body: init.data ?? new Uint8Array(0),
  });
  return icmpFrame(init, message);
}

/**
 * Builds a whole echo request frame (Ethernet, IPv4 with its checksum, ICMP with its checksum).
 * Throws a `RangeError` for a field out of range or an address of the wrong length.
 *
 * @example
 * ```ts
 * import { createIcmpEchoRequest, parseIpv4, parseMac } from "./mod.ts";
 *
 * const frame = createIcmpEchoRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   dstMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv4("169.254.0.5"),
 *   dst: parseIpv4("169.254.0.1"),
 *   identifier: 1,
 *   sequence: 1,
 *   data: new Uint8Array(56),
 * });
 * frame.length; // 98, as ping's default
 * ```
 */
export function createIcmpEchoRequest(init: IcmpEchoInit): Uint8Array<ArrayBuffer> {
  return echoFrame(Icmpv4Type.ECHO_REQUEST, init);
}

/**
 * Builds a whole echo reply frame; a responder passes the request's identifier, sequence and data
 * unchanged. Throws a `RangeError` for a field out of range or an address of the wrong length.
 */
export function createIcmpEchoReply(init: IcmpEchoInit): Uint8Array<ArrayBuffer> {
  return echoFrame(Icmpv4Type.ECHO_REPLY, init);
}

function errorFrame(
  type: number,
  code: number,
  rest: number,
  init: IcmpErrorInit,
): Uint8Array<ArrayBuffer> {
  if (init.invoking.length < IPV4_HEADER_LEN) {
    throw new RangeError(
      `Invalid invoking packet: ${init.invoking.length} bytes, an ICMP error quotes at least a ${IPV4_HEADER_LEN}-byte IPv4 header`,
    );
  }
  const body = icmpv4Quote(init.invoking, init.quote);
  const dst = init.invoking.subarray(12, 16);
  return icmpFrame({ ...init, dst }, encodeIcmpv4({ type, code, rest, body }));
}

/**
 * Builds a whole destination unreachable frame about `invoking`, addressed to its source and
 * quoting its header and first 8 data bytes (or up to 576 bytes with `quote: "rfc1812"`). Check
 * {@linkcode icmpv4ErrorForbidden} first: this builder does not refuse what a router must not
 * answer. Throws a `RangeError` for a field out of range or an invoking packet shorter than 20
 * bytes.
 *
 * @example Tell a guest its destination has no route
 * ```ts
 * import {
 *   createIcmpDestinationUnreachable,
 *   encodeIpv4,
 *   IpProtocol,
 *   parseIpv4,
 *   parseMac,
 *   UnreachableCode,
 * } from "./mod.ts";
 *
 * const invoking = encodeIpv4({
 *   src: parseIpv4("169.254.0.5"),
 *   dst: parseIpv4("198.51.100.9"),
 *   protocol: IpProtocol.UDP,
 *   ttl: 64,
 *   payload: new Uint8Array(100),
 * });
 * const frame = createIcmpDestinationUnreachable({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv4("169.254.0.1"),
 *   code: UnreachableCode.NET,
 *   invoking,
 * });
 * frame.length; // 70: 14 + 20 + 8 + 20 + 8
 * ```
 */
export function createIcmpDestinationUnreachable(
  init: IcmpUnreachableInit,
): Uint8Array<ArrayBuffer> {
  checkInteger(init.code, 0xff, "ICMP code");
  const mtu = init.nextHopMtu ?? 0;
  checkInteger(mtu, 0xffff, "next-hop MTU");
  return errorFrame(Icmpv4Type.DESTINATION_UNREACHABLE, init.code, mtu, init);
}

/**
 * Builds a whole time exceeded frame (code 0, TTL exceeded in transit, unless `code` says
 * otherwise) about `invoking`, addressed to its source, as a router sends when a TTL reaches
 * zero. Check {@linkcode icmpv4ErrorForbidden} first. Throws a `RangeError` for a field out of
 * range or an invoking packet shorter than 20 bytes.
 */
export function createIcmpTimeExceeded(init: IcmpTimeExceededInit): Uint8Array<ArrayBuffer> {
  const code = init.code ?? TimeExceededCode.TTL;
  checkInteger(code, 0xff, "ICMP code");
  return errorFrame(Icmpv4Type.TIME_EXCEEDED, code, 0, init);
}
