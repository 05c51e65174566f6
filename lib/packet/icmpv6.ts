/**
 * ICMPv6 messages (RFC 4443) and the Neighbor Discovery messages of RFC 4861: echo, Router
 * Solicitation and Advertisement, Neighbor Solicitation and Advertisement (their options are in
 * nd_options.ts), and the error messages that quote the offending packet; the checksum over the
 * IPv6 pseudo header. Whole frames and their builders are in icmpv6_frame.ts.
 *
 * Messages start at the ICMPv6 header, as in an IPv6 packet's payload. {@linkcode decodeIcmpv6}
 * is total: bytes that do not form a message give the {@linkcode MalformedPacketError} as the
 * result, never as an exception. Decoded arrays are views into the input. Validity rules that
 * depend on the packet around the message (hop limit 255 and code 0 for ND, RFC 4861 section
 * 6.1) are the receiver's to apply: every message has its code, a decoded frame its hop limit.
 *
 * @example An advertisement with M set, and back
 * ```ts
 * import { decodeIcmpv6, encodeIcmpv6, isMalformed, parseIpv6 } from "./mod.ts";
 *
 * const addresses = { src: parseIpv6("fe80::1"), dst: parseIpv6("ff02::1") };
 * const bytes = encodeIcmpv6({
 *   kind: "router_advertisement",
 *   code: 0,
 *   curHopLimit: 64,
 *   managed: true,
 *   other: false,
 *   routerLifetime: 1800,
 *   reachableTime: 0,
 *   retransTimer: 0,
 *   options: [{ kind: "mtu", mtu: 1500 }],
 * }, addresses);
 * const ra = decodeIcmpv6(bytes, addresses);
 * if (!isMalformed(ra) && ra.kind === "router_advertisement") ra.managed; // true
 * ```
 *
 * @module
 */

import { setU16, setU32, u16, u32 } from "./bytes.ts";
import { internetChecksum, ipv6PseudoHeaderSum } from "./checksum.ts";
import { type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { checkIpv6Length, checkUint } from "./field_checks.ts";
import { IpProtocol } from "./ipv4.ts";
import { IPV6_HEADER_LEN } from "./ipv6.ts";
import { decodeNdOptions, encodeNdOptions, type NdOption } from "./nd_options.ts";

/** ICMPv6 message types this module names. */
export const Icmpv6Type = {
  /** Destination Unreachable (RFC 4443 section 3.1). */
  DESTINATION_UNREACHABLE: 1,
  /** Packet Too Big (RFC 4443 section 3.2). */
  PACKET_TOO_BIG: 2,
  /** Time Exceeded (RFC 4443 section 3.3). */
  TIME_EXCEEDED: 3,
  /** Parameter Problem (RFC 4443 section 3.4). */
  PARAMETER_PROBLEM: 4,
  /** Echo Request. */
  ECHO_REQUEST: 128,
  /** Echo Reply. */
  ECHO_REPLY: 129,
  /** Router Solicitation (RFC 4861 section 4.1). */
  ROUTER_SOLICITATION: 133,
  /** Router Advertisement (RFC 4861 section 4.2). */
  ROUTER_ADVERTISEMENT: 134,
  /** Neighbor Solicitation (RFC 4861 section 4.3). */
  NEIGHBOR_SOLICITATION: 135,
  /** Neighbor Advertisement (RFC 4861 section 4.4). */
  NEIGHBOR_ADVERTISEMENT: 136,
  /** Redirect (RFC 4861 section 4.5); decoded as `"other"`. */
  REDIRECT: 137,
} as const;

/**
 * The largest ICMPv6 error message: one that, with a 40-byte IPv6 header, fills the IPv6
 * minimum MTU of 1280 bytes (RFC 4443 section 2.4 (c)). Longer offending packets are cut.
 */
export const ICMPV6_ERROR_MAX_LEN = 1280 - IPV6_HEADER_LEN;
/** Hop limit of every Neighbor Discovery message: receivers drop any other (RFC 4861). */
export const ND_HOP_LIMIT = 255;

/** Echo Request (128) or Echo Reply (129). */
export interface Icmpv6Echo {
  /** Which of the two. */
  kind: "echo_request" | "echo_reply";
  /** Code, 0 on the wire. */
  code: number;
  /** Identifier, 16 bits. */
  identifier: number;
  /** Sequence number, 16 bits. */
  sequence: number;
  /** The data after the header, echoed back by the reply. */
  data: Uint8Array;
}

/** Router Solicitation (133). */
export interface RouterSolicitation {
  /** Always `"router_solicitation"`. */
  kind: "router_solicitation";
  /** Code, 0 on the wire. */
  code: number;
  /** Options: a source link-layer address unless the source is `::`. */
  options: NdOption[];
}

/**
 * Router Advertisement (134). Of the flag bits only M and O are read; the others (H, Prf of RFC
 * 4191, P) are ignored and sent as 0, which means medium router preference.
 */
export interface RouterAdvertisement {
  /** Always `"router_advertisement"`. */
  kind: "router_advertisement";
  /** Code, 0 on the wire. */
  code: number;
  /** Hop limit hosts should use, 0 for unspecified. */
  curHopLimit: number;
  /** M flag: addresses are available by DHCPv6. */
  managed: boolean;
  /** O flag: other configuration is available by DHCPv6. */
  other: boolean;
  /** Seconds the router is a default router, 0..65535; 0 means it is not one. */
  routerLifetime: number;
  /** Reachable time in milliseconds, 0 for unspecified. */
  reachableTime: number;
  /** Retransmission timer in milliseconds, 0 for unspecified. */
  retransTimer: number;
  /** Options (SLLAO, MTU, Prefix Information, RDNSS, ...). */
  options: NdOption[];
}

/** Neighbor Solicitation (135). */
export interface NeighborSolicitation {
  /** Always `"neighbor_solicitation"`. */
  kind: "neighbor_solicitation";
  /** Code, 0 on the wire. */
  code: number;
  /** The address being resolved or checked (16 bytes). */
  target: Uint8Array;
  /** Options: a source link-layer address unless the source is `::` (DAD). */
  options: NdOption[];
}

/** Neighbor Advertisement (136). */
export interface NeighborAdvertisement {
  /** Always `"neighbor_advertisement"`. */
  kind: "neighbor_advertisement";
  /** Code, 0 on the wire. */
  code: number;
  /** R flag: the sender is a router. */
  router: boolean;
  /** S flag: the advertisement answers a solicitation. */
  solicited: boolean;
  /** O flag: the receiver should override its cached link-layer address. */
  override: boolean;
  /** The address advertised (16 bytes). */
  target: Uint8Array;
  /** Options: normally a target link-layer address. */
  options: NdOption[];
}

/** An error message quoting the packet that caused it. */
export interface Icmpv6Error {
  /** Destination Unreachable (1), Packet Too Big (2), Time Exceeded (3), Parameter Problem (4). */
  kind: "destination_unreachable" | "packet_too_big" | "time_exceeded" | "parameter_problem";
  /** Code, e.g. 0 "no route" for unreachable, 0 "hop limit exceeded" for time exceeded. */
  code: number;
  /** The 32-bit field after the checksum: the MTU (too big), the pointer (parameter problem), or 0. */
  parameter: number;
  /** As much of the offending packet as fits (from its IPv6 header on). */
  invoking: Uint8Array;
}

/** A message of another type, kept as it came. */
export interface Icmpv6Other {
  /** Always `"other"`. */
  kind: "other";
  /** ICMPv6 type, 0..255. */
  type: number;
  /** Code, 0..255. */
  code: number;
  /** The bytes after the checksum. */
  body: Uint8Array;
}

/** One ICMPv6 message; `kind` says which. */
export type Icmpv6Message =
  | Icmpv6Echo
  | RouterSolicitation
  | RouterAdvertisement
  | NeighborSolicitation
  | NeighborAdvertisement
  | Icmpv6Error
  | Icmpv6Other;

/** The IPv6 addresses the ICMPv6 checksum covers (a decoded `Ipv6Packet` fits as it is). */
export interface Icmpv6Addresses {
  /** IPv6 source address (16 bytes). */
  src: Uint8Array;
  /** IPv6 destination address (16 bytes). */
  dst: Uint8Array;
}

const ERROR_KINDS = [
  "destination_unreachable",
  "packet_too_big",
  "time_exceeded",
  "parameter_problem",
] as const;
const HEADER_LEN = 4;
const ECHO_LEN = 8;
const RS_LEN = 8;
const RA_LEN = 16;
const NS_NA_LEN = 24;
const ERROR_LEN = 8;
const RA_MANAGED = 0x80;
const RA_OTHER = 0x40;
const NA_ROUTER = 0x80;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;

function malformed(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

function typeOf(message: Icmpv6Message): number {
  switch (message.kind) {
    case "echo_request":
      return Icmpv6Type.ECHO_REQUEST;
    case "echo_reply":
      return Icmpv6Type.ECHO_REPLY;
    case "router_solicitation":
      return Icmpv6Type.ROUTER_SOLICITATION;
    case "router_advertisement":
      return Icmpv6Type.ROUTER_ADVERTISEMENT;
    case "neighbor_solicitation":
      return Icmpv6Type.NEIGHBOR_SOLICITATION;
    case "neighbor_advertisement":
      return Icmpv6Type.NEIGHBOR_ADVERTISEMENT;
    case "other":
      return message.type;
    default:
      return ERROR_KINDS.indexOf(message.kind) + 1;
  }
}

/** The length of the fixed part, after checking the fields that decide it. */
function fixedLength(message: Icmpv6Message): number {
  switch (message.kind) {
    case "echo_request":
    case "echo_reply":
      return ECHO_LEN;
    case "router_solicitation":
      return RS_LEN;
    case "router_advertisement":
      return RA_LEN;
    case "neighbor_solicitation":
    case "neighbor_advertisement":
      checkIpv6Length(message.target, "ND target address");
      return NS_NA_LEN;
    case "other":
      checkUint(message.type, 0xff, "ICMPv6 type");
      return HEADER_LEN;
    default:
      return ERROR_LEN;
  }
}

/** What follows the fixed part: the data, the encoded options, or the quoted packet cut to fit. */
function tailOf(message: Icmpv6Message): Uint8Array {
  switch (message.kind) {
    case "echo_request":
    case "echo_reply":
      return message.data;
    case "router_solicitation":
    case "router_advertisement":
    case "neighbor_solicitation":
    case "neighbor_advertisement":
      return encodeNdOptions(message.options);
    case "other":
      return message.body;
    default:
      return message.invoking.subarray(0, ICMPV6_ERROR_MAX_LEN - ERROR_LEN);
  }
}

/** Writes the fields after the checksum that the fixed part holds. */
function writeFixed(out: Uint8Array, message: Icmpv6Message): void {
  switch (message.kind) {
    case "echo_request":
    case "echo_reply":
      checkUint(message.identifier, 0xffff, "echo identifier");
      checkUint(message.sequence, 0xffff, "echo sequence number");
      setU16(out, 4, message.identifier);
      setU16(out, 6, message.sequence);
      break;
    case "router_advertisement":
      checkUint(message.curHopLimit, 0xff, "current hop limit");
      checkUint(message.routerLifetime, 0xffff, "router lifetime");
      checkUint(message.reachableTime, 0xffff_ffff, "reachable time");
      checkUint(message.retransTimer, 0xffff_ffff, "retransmission timer");
      out[4] = message.curHopLimit;
      out[5] = (message.managed ? RA_MANAGED : 0) | (message.other ? RA_OTHER : 0);
      setU16(out, 6, message.routerLifetime);
      setU32(out, 8, message.reachableTime);
      setU32(out, 12, message.retransTimer);
      break;
    case "neighbor_solicitation":
      out.set(message.target, 8);
      break;
    case "neighbor_advertisement":
      out[4] = (message.router ? NA_ROUTER : 0) | (message.solicited ? NA_SOLICITED : 0) |
        (message.override ? NA_OVERRIDE : 0);
      out.set(message.target, 8);
      break;
    case "destination_unreachable":
    case "packet_too_big":
    case "time_exceeded":
    case "parameter_problem":
      checkUint(message.parameter, 0xffff_ffff, "ICMPv6 error parameter");
      setU32(out, 4, message.parameter);
      break;
  }
}

/**
 * Builds a new ICMPv6 message with its checksum over the pseudo header of `addresses`. An error
 * message quotes as much of `invoking` as keeps it within {@linkcode ICMPV6_ERROR_MAX_LEN}.
 * Throws a `RangeError` for a field outside its range, an address that is not 16 bytes, or an
 * option that cannot be encoded (an empty RDNSS list, a raw body of the wrong length).
 *
 * @example
 * ```ts
 * import { decodeIcmpv6, encodeIcmpv6, parseIpv6 } from "./mod.ts";
 *
 * const addresses = { src: parseIpv6("fe80::2"), dst: parseIpv6("fe80::1") };
 * const bytes = encodeIcmpv6(
 *   { kind: "echo_request", code: 0, identifier: 7, sequence: 1, data: new Uint8Array(4) },
 *   addresses,
 * );
 * bytes.length; // 12
 * const echo = decodeIcmpv6(bytes, addresses); // checksum verified
 * ```
 */
export function encodeIcmpv6(
  message: Icmpv6Message,
  addresses: Icmpv6Addresses,
): Uint8Array<ArrayBuffer> {
  checkUint(message.code, 0xff, "ICMPv6 code");
  const fixed = fixedLength(message);
  const tail = tailOf(message);
  const out = new Uint8Array(fixed + tail.length);
  out[0] = typeOf(message);
  out[1] = message.code;
  writeFixed(out, message);
  out.set(tail, fixed);
  const checksum = internetChecksum(
    out,
    0,
    out.length,
    ipv6PseudoHeaderSum(addresses.src, addresses.dst, IpProtocol.ICMPV6, out.length),
  );
  setU16(out, 2, checksum);
  return out;
}

function truncated(what: string, length: number, needed: number): MalformedPacketError {
  return malformed(
    `truncated_${what}`,
    `ICMPv6 ${what.replaceAll("_", " ")} too short: ${length} bytes, at least ${needed} needed`,
  );
}

/** Decodes the message after checks of length and checksum. */
function decodeBody(bytes: Uint8Array): Decoded<Icmpv6Message> {
  const type = bytes[0]!;
  const code = bytes[1]!;
  const need = (what: string, length: number) =>
    bytes.length < length ? truncated(what, bytes.length, length) : undefined;
  switch (type) {
    case Icmpv6Type.ECHO_REQUEST:
    case Icmpv6Type.ECHO_REPLY:
      return need("echo", ECHO_LEN) ?? {
        kind: type === Icmpv6Type.ECHO_REQUEST ? "echo_request" : "echo_reply",
        code,
        identifier: u16(bytes, 4),
        sequence: u16(bytes, 6),
        data: bytes.subarray(ECHO_LEN),
      };
    case Icmpv6Type.ROUTER_SOLICITATION: {
      const short = need("router_solicitation", RS_LEN);
      if (short) return short;
      const options = decodeNdOptions(bytes, RS_LEN);
      return isMalformed(options) ? options : { kind: "router_solicitation", code, options };
    }
    case Icmpv6Type.ROUTER_ADVERTISEMENT: {
      const short = need("router_advertisement", RA_LEN);
      if (short) return short;
      const options = decodeNdOptions(bytes, RA_LEN);
      if (isMalformed(options)) return options;
      return {
        kind: "router_advertisement",
        code,
        curHopLimit: bytes[4]!,
        managed: (bytes[5]! & RA_MANAGED) !== 0,
        other: (bytes[5]! & RA_OTHER) !== 0,
        routerLifetime: u16(bytes, 6),
        reachableTime: u32(bytes, 8),
        retransTimer: u32(bytes, 12),
        options,
      };
    }
    case Icmpv6Type.NEIGHBOR_SOLICITATION: {
      const short = need("neighbor_solicitation", NS_NA_LEN);
      if (short) return short;
      const options = decodeNdOptions(bytes, NS_NA_LEN);
      if (isMalformed(options)) return options;
      return { kind: "neighbor_solicitation", code, target: bytes.subarray(8, 24), options };
    }
    case Icmpv6Type.NEIGHBOR_ADVERTISEMENT: {
      const short = need("neighbor_advertisement", NS_NA_LEN);
      if (short) return short;
      const options = decodeNdOptions(bytes, NS_NA_LEN);
      if (isMalformed(options)) return options;
      return {
        kind: "neighbor_advertisement",
        code,
        router: (bytes[4]! & NA_ROUTER) !== 0,
        solicited: (bytes[4]! & NA_SOLICITED) !== 0,
        override: (bytes[4]! & NA_OVERRIDE) !== 0,
        target: bytes.subarray(8, 24),
        options,
      };
    }
    case Icmpv6Type.DESTINATION_UNREACHABLE:
    case Icmpv6Type.PACKET_TOO_BIG:
    case Icmpv6Type.TIME_EXCEEDED:
    case Icmpv6Type.PARAMETER_PROBLEM:
      return need("error", ERROR_LEN) ?? {
        kind: ERROR_KINDS[type - 1]!,
        code,
        parameter: u32(bytes, 4),
        invoking: bytes.subarray(ERROR_LEN),
      };
    default:
      return { kind: "other", type, code, body: bytes.subarray(HEADER_LEN) };
  }
}

/**
 * Decodes the ICMPv6 message that fills `bytes` (an IPv6 packet's payload). With `addresses`
 * (the IPv6 source and destination) the checksum is verified; without them it is not. Never
 * throws on bad bytes: the result is then a {@linkcode MalformedPacketError} with reason
 * `"truncated_icmpv6"` (under 4 bytes), `"bad_icmpv6_checksum"`, `"truncated_<message>"` (e.g.
 * `"truncated_router_advertisement"`, `"truncated_echo"`, `"truncated_error"`),
 * `"zero_length_nd_option"`, `"truncated_nd_option"` or `"bad_nd_option_length"` (a Prefix
 * Information, MTU or RDNSS option of the wrong size). Unknown types and options are kept raw.
 *
 * @example
 * ```ts
 * import { decodeIcmpv6, isMalformed } from "./mod.ts";
 *
 * const result = decodeIcmpv6(new Uint8Array([133, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
 * isMalformed(result) && result.reason; // "zero_length_nd_option"
 * ```
 */
export function decodeIcmpv6(
  bytes: Uint8Array,
  addresses?: Icmpv6Addresses,
): Decoded<Icmpv6Message> {
  if (bytes.length < HEADER_LEN) return truncated("icmpv6", bytes.length, HEADER_LEN);
  if (addresses !== undefined) {
    const pseudo = ipv6PseudoHeaderSum(
      addresses.src,
      addresses.dst,
      IpProtocol.ICMPV6,
      bytes.length,
    );
    if (internetChecksum(bytes, 0, bytes.length, pseudo) !== 0) {
      return malformed(
        "bad_icmpv6_checksum",
        `ICMPv6 checksum 0x${u16(bytes, 2).toString(16).padStart(4, "0")} is wrong`,
      );
    }
  }
  return decodeBody(bytes);
}
