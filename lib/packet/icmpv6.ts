/**
 * ICMPv6 (RFC 4443) with Neighbor Discovery (RFC 4861): echo, Router Solicitation and
 * Advertisement, Neighbor Solicitation and Advertisement with their options (link-layer
 * addresses, Prefix Information, MTU, RDNSS of RFC 8106), and the error messages that quote the
 * offending packet; the checksum over the IPv6 pseudo header.
 *
 * Messages start at the ICMPv6 header, as in an IPv6 packet's payload. {@linkcode decodeIcmpv6}
 * and {@linkcode decodeIcmpv6Frame} are total: bytes that do not form a message give the
 * {@linkcode MalformedPacketError} as the result, never as an exception. Decoded arrays are
 * views into the input. Validity rules that depend on the packet around the message (hop limit
 * 255 and code 0 for ND, RFC 4861 section 6.1) are the receiver's to apply: the frame decoder
 * exposes the hop limit and every message its code.
 *
 * @example A guest's Router Solicitation, answered with an advertisement
 * ```ts
 * import {
 *   createRouterAdvertisement,
 *   createRouterSolicitation,
 *   decodeIcmpv6Frame,
 *   formatIpv6,
 *   isMalformed,
 *   parseIpv6,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const rs = decodeIcmpv6Frame(createRouterSolicitation({ srcMac: parseMac("52:54:00:12:34:01") }));
 * if (!isMalformed(rs) && rs.icmpv6.kind === "router_solicitation" && rs.ip.hopLimit === 255) {
 *   const ra = createRouterAdvertisement({
 *     srcMac: parseMac("02:00:00:00:00:01"),
 *     src: parseIpv6("fe80::1"),
 *     managed: true,
 *     routerLifetime: 1800,
 *     options: [{ kind: "mtu", mtu: 1500 }],
 *   });
 *   const reply = decodeIcmpv6Frame(ra);
 *   if (!isMalformed(reply)) formatIpv6(reply.ip.dst); // "ff02::1"
 * }
 * ```
 *
 * @module
 */

import { setU16, setU32, u16, u32 } from "./bytes.ts";
import { internetChecksum, ipv6PseudoHeaderSum } from "./checksum.ts";
import { type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { checkIpv6Length, checkUint } from "./field_checks.ts";
import { type EthernetHeader, ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";
import { IpProtocol } from "./ipv4.ts";
import {
  IPV6_ADDRESS_LEN,
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_HEADER_LEN,
  type Ipv6Packet,
  isIpv6Unspecified,
  linkLocalFromMac,
  solicitedNodeMulticast,
} from "./ipv6.ts";
import { decodeIpv6Frame, encodeIpv6Frame } from "./ipv6_frame.ts";

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

/** Neighbor Discovery option types this module decodes. */
export const NdOptionType = {
  /** Source Link-Layer Address. */
  SOURCE_LINK_ADDRESS: 1,
  /** Target Link-Layer Address. */
  TARGET_LINK_ADDRESS: 2,
  /** Prefix Information. */
  PREFIX_INFORMATION: 3,
  /** MTU. */
  MTU: 5,
  /** Recursive DNS Server (RFC 8106). */
  RDNSS: 25,
} as const;

/**
 * The largest ICMPv6 error message: one that, with a 40-byte IPv6 header, fills the IPv6
 * minimum MTU of 1280 bytes (RFC 4443 section 2.4 (c)). Longer offending packets are cut.
 */
export const ICMPV6_ERROR_MAX_LEN = 1280 - IPV6_HEADER_LEN;
/** Hop limit of every Neighbor Discovery message: receivers drop any other (RFC 4861). */
export const ND_HOP_LIMIT = 255;

/** A link-layer address option (types 1 and 2). */
export interface LinkAddressOption {
  /** Source (type 1) or target (type 2) link-layer address. */
  kind: "source_link_address" | "target_link_address";
  /** The bytes after type and length: 6 for Ethernet (a view when decoded). */
  address: Uint8Array;
}

/** A Prefix Information option (type 3): an on-link prefix and/or one for SLAAC. */
export interface PrefixInformationOption {
  /** Always `"prefix_information"`. */
  kind: "prefix_information";
  /** Prefix length, 0..128. */
  prefixLength: number;
  /** L flag: the prefix is on-link. */
  onLink: boolean;
  /** A flag: hosts may form addresses in it (SLAAC). */
  autonomous: boolean;
  /** Valid lifetime in seconds; 0xffffffff is infinity. */
  validLifetime: number;
  /** Preferred lifetime in seconds; 0xffffffff is infinity. */
  preferredLifetime: number;
  /** The prefix (16 bytes; a view when decoded). */
  prefix: Uint8Array;
}

/** An MTU option (type 5). */
export interface MtuOption {
  /** Always `"mtu"`. */
  kind: "mtu";
  /** The link MTU, 32 bits. */
  mtu: number;
}

/** A Recursive DNS Server option (type 25, RFC 8106). */
export interface RdnssOption {
  /** Always `"rdnss"`. */
  kind: "rdnss";
  /** Seconds the servers may be used; 0xffffffff is infinity, 0 withdraws them. */
  lifetime: number;
  /** The servers, 16 bytes each (views when decoded); at least one. */
  servers: Uint8Array[];
}

/** An option this module does not interpret, kept as it came. */
export interface RawNdOption {
  /** Always `"raw"`. */
  kind: "raw";
  /** Option type, 0..255. */
  type: number;
  /** The bytes after type and length; with those 2 bytes, a multiple of 8 (at most 2040). */
  body: Uint8Array;
}

/** One Neighbor Discovery option. */
export type NdOption =
  | LinkAddressOption
  | PrefixInformationOption
  | MtuOption
  | RdnssOption
  | RawNdOption;

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

/** Router Advertisement (134). */
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
const OPTION_UNIT = 8;
const RA_MANAGED = 0x80;
const RA_OTHER = 0x40;
const NA_ROUTER = 0x80;
const NA_SOLICITED = 0x40;
const NA_OVERRIDE = 0x20;
const PIO_ON_LINK = 0x80;
const PIO_AUTONOMOUS = 0x40;

function malformed(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

// ---------------------------------------------------------------------------------------------
// Options

/** The encoded length of `option`, after checking its fields. */
function optionLength(option: NdOption): number {
  switch (option.kind) {
    case "source_link_address":
    case "target_link_address": {
      const length = Math.ceil((2 + option.address.length) / OPTION_UNIT) * OPTION_UNIT;
      if (option.address.length === 0 || length > 255 * OPTION_UNIT) {
        throw new RangeError(
          `Invalid link-layer address of ${option.address.length} bytes: expected 1 to 2038`,
        );
      }
      return length;
    }
    case "prefix_information":
      checkUint(option.prefixLength, 128, "prefix length");
      checkUint(option.validLifetime, 0xffff_ffff, "valid lifetime");
      checkUint(option.preferredLifetime, 0xffff_ffff, "preferred lifetime");
      checkIpv6Length(option.prefix, "prefix");
      return 32;
    case "mtu":
      checkUint(option.mtu, 0xffff_ffff, "MTU");
      return 8;
    case "rdnss":
      checkUint(option.lifetime, 0xffff_ffff, "RDNSS lifetime");
      if (option.servers.length === 0 || option.servers.length > 127) {
        throw new RangeError(
          `Invalid RDNSS option with ${option.servers.length} servers: expected 1 to 127`,
        );
      }
      option.servers.forEach((server) => checkIpv6Length(server, "RDNSS server"));
      return 8 + IPV6_ADDRESS_LEN * option.servers.length;
    case "raw": {
      checkUint(option.type, 0xff, "ND option type");
      const length = 2 + option.body.length;
      if (length % OPTION_UNIT !== 0 || length > 255 * OPTION_UNIT) {
        throw new RangeError(
          `Invalid raw ND option body of ${option.body.length} bytes: with type and length it must be a multiple of 8, at most 2040`,
        );
      }
      return length;
    }
  }
}

/** Writes `option` (of `length` bytes, zero-filled) at `offset`. */
function writeOption(out: Uint8Array, offset: number, option: NdOption, length: number): void {
  out[offset + 1] = length / OPTION_UNIT;
  switch (option.kind) {
    case "source_link_address":
    case "target_link_address":
      out[offset] = option.kind === "source_link_address"
        ? NdOptionType.SOURCE_LINK_ADDRESS
        : NdOptionType.TARGET_LINK_ADDRESS;
      out.set(option.address, offset + 2);
      break;
    case "prefix_information":
      out[offset] = NdOptionType.PREFIX_INFORMATION;
      out[offset + 2] = option.prefixLength;
      out[offset + 3] = (option.onLink ? PIO_ON_LINK : 0) |
        (option.autonomous ? PIO_AUTONOMOUS : 0);
      setU32(out, offset + 4, option.validLifetime);
      setU32(out, offset + 8, option.preferredLifetime);
      out.set(option.prefix, offset + 16);
      break;
    case "mtu":
      out[offset] = NdOptionType.MTU;
      setU32(out, offset + 4, option.mtu);
      break;
    case "rdnss":
      out[offset] = NdOptionType.RDNSS;
      setU32(out, offset + 4, option.lifetime);
      option.servers.forEach((server, i) => out.set(server, offset + 8 + IPV6_ADDRESS_LEN * i));
      break;
    case "raw":
      out[offset] = option.type;
      out.set(option.body, offset + 2);
      break;
  }
}

function badOptionLength(name: string, units: number, expected: string): MalformedPacketError {
  return malformed(
    "bad_nd_option_length",
    `${name} option has length ${units} (units of 8 bytes), expected ${expected}`,
  );
}

/** Decodes one option whose type is `type` and whose whole bytes are `option`. */
function decodeOption(type: number, option: Uint8Array): Decoded<NdOption> {
  const units = option.length / OPTION_UNIT;
  switch (type) {
    case NdOptionType.SOURCE_LINK_ADDRESS:
    case NdOptionType.TARGET_LINK_ADDRESS:
      return {
        kind: type === NdOptionType.SOURCE_LINK_ADDRESS
          ? "source_link_address"
          : "target_link_address",
        address: option.subarray(2),
      };
    case NdOptionType.PREFIX_INFORMATION:
      if (units !== 4) return badOptionLength("Prefix Information", units, "4");
      return {
        kind: "prefix_information",
        prefixLength: option[2]!,
        onLink: (option[3]! & PIO_ON_LINK) !== 0,
        autonomous: (option[3]! & PIO_AUTONOMOUS) !== 0,
        validLifetime: u32(option, 4),
        preferredLifetime: u32(option, 8),
        prefix: option.subarray(16, 32),
      };
    case NdOptionType.MTU:
      if (units !== 1) return badOptionLength("MTU", units, "1");
      return { kind: "mtu", mtu: u32(option, 4) };
    case NdOptionType.RDNSS: {
      if (units < 3 || units % 2 === 0) {
        return badOptionLength("RDNSS", units, "an odd number of at least 3");
      }
      const servers: Uint8Array[] = [];
      for (let p = 8; p < option.length; p += IPV6_ADDRESS_LEN) {
        servers.push(option.subarray(p, p + IPV6_ADDRESS_LEN));
      }
      return { kind: "rdnss", lifetime: u32(option, 4), servers };
    }
    default:
      return { kind: "raw", type, body: option.subarray(2) };
  }
}

/**
 * Decodes the options in `bytes[start..]`. A length of 0 is malformed (RFC 4861 section 4.6:
 * receivers must discard such a packet), as is an option that runs past the end.
 */
function decodeOptions(bytes: Uint8Array, start: number): Decoded<NdOption[]> {
  const options: NdOption[] = [];
  for (let p = start; p < bytes.length;) {
    if (p + 2 > bytes.length) {
      return malformed("truncated_nd_option", `ND option at byte ${p} has no length byte`);
    }
    const units = bytes[p + 1]!;
    if (units === 0) {
      return malformed(
        "zero_length_nd_option",
        `ND option of type ${bytes[p]} at byte ${p} has length 0 (RFC 4861 section 4.6)`,
      );
    }
    const end = p + units * OPTION_UNIT;
    if (end > bytes.length) {
      return malformed(
        "truncated_nd_option",
        `ND option of type ${bytes[p]} at byte ${p} claims ${units * OPTION_UNIT} bytes, only ${
          bytes.length - p
        } remain`,
      );
    }
    const option = decodeOption(bytes[p]!, bytes.subarray(p, end));
    if (isMalformed(option)) return option;
    options.push(option);
    p = end;
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Messages

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

/** The fixed part's length and what follows it (options, data or the quoted packet). */
function layoutOf(message: Icmpv6Message): { fixed: number; tail: number } {
  const optionsLength = (options: NdOption[]) =>
    options.reduce((sum, option) => sum + optionLength(option), 0);
  switch (message.kind) {
    case "echo_request":
    case "echo_reply":
      return { fixed: ECHO_LEN, tail: message.data.length };
    case "router_solicitation":
      return { fixed: RS_LEN, tail: optionsLength(message.options) };
    case "router_advertisement":
      return { fixed: RA_LEN, tail: optionsLength(message.options) };
    case "neighbor_solicitation":
    case "neighbor_advertisement":
      checkIpv6Length(message.target, "ND target address");
      return { fixed: NS_NA_LEN, tail: optionsLength(message.options) };
    case "other":
      checkUint(message.type, 0xff, "ICMPv6 type");
      return { fixed: HEADER_LEN, tail: message.body.length };
    default:
      return {
        fixed: ERROR_LEN,
        tail: Math.min(message.invoking.length, ICMPV6_ERROR_MAX_LEN - ERROR_LEN),
      };
  }
}

function writeBody(out: Uint8Array, message: Icmpv6Message): number {
  switch (message.kind) {
    case "echo_request":
    case "echo_reply":
      checkUint(message.identifier, 0xffff, "echo identifier");
      checkUint(message.sequence, 0xffff, "echo sequence number");
      setU16(out, 4, message.identifier);
      setU16(out, 6, message.sequence);
      out.set(message.data, ECHO_LEN);
      return ECHO_LEN + message.data.length;
    case "router_solicitation":
      return writeOptions(out, RS_LEN, message.options);
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
      return writeOptions(out, RA_LEN, message.options);
    case "neighbor_solicitation":
      out.set(message.target, 8);
      return writeOptions(out, NS_NA_LEN, message.options);
    case "neighbor_advertisement":
      out[4] = (message.router ? NA_ROUTER : 0) | (message.solicited ? NA_SOLICITED : 0) |
        (message.override ? NA_OVERRIDE : 0);
      out.set(message.target, 8);
      return writeOptions(out, NS_NA_LEN, message.options);
    case "other":
      out.set(message.body, HEADER_LEN);
      return HEADER_LEN + message.body.length;
    default: {
      checkUint(message.parameter, 0xffff_ffff, "ICMPv6 error parameter");
      setU32(out, 4, message.parameter);
      const quoted = message.invoking.subarray(0, out.length - ERROR_LEN);
      out.set(quoted, ERROR_LEN);
      return ERROR_LEN + quoted.length;
    }
  }
}

function writeOptions(out: Uint8Array, offset: number, options: NdOption[]): number {
  let p = offset;
  for (const option of options) {
    const length = optionLength(option);
    writeOption(out, p, option, length);
    p += length;
  }
  return p;
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
  const { fixed, tail } = layoutOf(message);
  const out = new Uint8Array(fixed + tail);
  out[0] = typeOf(message);
  out[1] = message.code;
  writeBody(out, message);
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
      const options = decodeOptions(bytes, RS_LEN);
      return isMalformed(options) ? options : { kind: "router_solicitation", code, options };
    }
    case Icmpv6Type.ROUTER_ADVERTISEMENT: {
      const short = need("router_advertisement", RA_LEN);
      if (short) return short;
      const options = decodeOptions(bytes, RA_LEN);
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
      const options = decodeOptions(bytes, NS_NA_LEN);
      if (isMalformed(options)) return options;
      return { kind: "neighbor_solicitation", code, target: bytes.subarray(8, 24), options };
    }
    case Icmpv6Type.NEIGHBOR_ADVERTISEMENT: {
      const short = need("neighbor_advertisement", NS_NA_LEN);
      if (short) return short;
      const options = decodeOptions(bytes, NS_NA_LEN);
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

// ---------------------------------------------------------------------------------------------
// Whole frames

/** A decoded Ethernet frame carrying ICMPv6. Every array in it is a view into the frame. */
export interface Icmpv6Frame {
  /** The Ethernet header (VLAN tags included). */
  ethernet: EthernetHeader;
  /** The IPv6 header: `hopLimit` must be 255 for ND messages to count (RFC 4861). */
  ip: Ipv6Packet;
  /** The message, its checksum verified. */
  icmpv6: Icmpv6Message;
}

/** How a frame is addressed: the fields every ICMPv6 frame builder shares. */
export interface Icmpv6FrameAddressing {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC; optional when `dst` is multicast (its 33:33 MAC is used). */
  dstMac?: Uint8Array | undefined;
  /** IPv6 source address (16 bytes). */
  src: Uint8Array;
  /** IPv6 destination address (16 bytes). */
  dst: Uint8Array;
  /** Hop limit; default 255 for Neighbor Discovery messages and 64 for the others. */
  hopLimit?: number | undefined;
}

/** What {@linkcode encodeIcmpv6Frame} builds a frame from. */
export interface Icmpv6FrameInit extends Icmpv6FrameAddressing {
  /** The message to carry. */
  message: Icmpv6Message;
}

const ND_KINDS: ReadonlySet<Icmpv6Message["kind"]> = new Set([
  "router_solicitation",
  "router_advertisement",
  "neighbor_solicitation",
  "neighbor_advertisement",
]);

/**
 * Builds an Ethernet + IPv6 + ICMPv6 frame with lengths and the checksum filled in. Throws a
 * `RangeError` for a unicast `dst` without `dstMac` or any field out of range.
 *
 * @example An Echo Reply
 * ```ts
 * import { encodeIcmpv6Frame, parseIpv6, parseMac } from "./mod.ts";
 *
 * const frame = encodeIcmpv6Frame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("fe80::5054:ff:fe12:3401"),
 *   message: { kind: "echo_reply", code: 0, identifier: 1, sequence: 1, data: new Uint8Array(56) },
 * });
 * frame.length; // 118: 14 + 40 + 8 + 56
 * ```
 */
export function encodeIcmpv6Frame(init: Icmpv6FrameInit): Uint8Array<ArrayBuffer> {
  const { srcMac, dstMac, src, dst, message } = init;
  return encodeIpv6Frame({
    srcMac,
    dstMac,
    src,
    dst,
    nextHeader: IpProtocol.ICMPV6,
    hopLimit: init.hopLimit ?? (ND_KINDS.has(message.kind) ? ND_HOP_LIMIT : 64),
    payload: encodeIcmpv6(message, { src, dst }),
  });
}

/**
 * Decodes an Ethernet frame carrying ICMPv6 directly after the IPv6 header, verifying the
 * checksum. Never throws on bad bytes: the reasons of {@linkcode decodeIcmpv6} and of the
 * Ethernet and IPv6 decoders, `"not_ipv6"`, or `"not_icmpv6"` (another next header; extension
 * headers are not walked).
 *
 * @example
 * ```ts
 * import { createNeighborSolicitation, decodeIcmpv6Frame, isMalformed, parseIpv6, parseMac } from "./mod.ts";
 *
 * const frame = createNeighborSolicitation({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   target: parseIpv6("fe80::1"),
 * });
 * const ns = decodeIcmpv6Frame(frame);
 * if (!isMalformed(ns)) ns.icmpv6.kind; // "neighbor_solicitation"
 * ```
 */
export function decodeIcmpv6Frame(frame: Uint8Array): Decoded<Icmpv6Frame> {
  const decoded = decodeIpv6Frame(frame);
  if (isMalformed(decoded)) return decoded;
  const { ethernet, ip } = decoded;
  if (ip.nextHeader !== IpProtocol.ICMPV6) {
    return malformed(
      "not_icmpv6",
      `IPv6 packet carries next header ${ip.nextHeader}, not ICMPv6 (58)`,
    );
  }
  const icmpv6 = decodeIcmpv6(ip.payload, ip);
  return isMalformed(icmpv6) ? icmpv6 : { ethernet, ip, icmpv6 };
}

/**
 * The ICMPv6 type of an Ethernet frame carrying IPv6 with ICMPv6 as its first next header, or -1
 * for any other frame. Allocation-free and unchecked beyond the bytes it reads (no checksum), for
 * sorting a guest's frames before decoding them.
 *
 * @example
 * ```ts
 * import { createRouterSolicitation, Icmpv6Type, icmpv6TypeAt, parseMac } from "./mod.ts";
 *
 * const frame = createRouterSolicitation({ srcMac: parseMac("52:54:00:12:34:01") });
 * icmpv6TypeAt(frame) === Icmpv6Type.ROUTER_SOLICITATION; // true
 * ```
 */
export function icmpv6TypeAt(frame: Uint8Array): number {
  if (etherTypeAt(frame) !== EtherType.IPV6) return -1;
  const ip = ethernetHeaderLengthAt(frame);
  if (frame.length < ip + IPV6_HEADER_LEN + 1) return -1;
  if (frame[ip]! >>> 4 !== 6 || frame[ip + 6] !== IpProtocol.ICMPV6) return -1;
  return frame[ip + IPV6_HEADER_LEN]!;
}

/** Shared fields of the ND builders: the sender's MAC, and optionally its address. */
export interface NdSender {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** IPv6 source; default the EUI-64 link-local address of `srcMac`. */
  src?: Uint8Array;
}

function linkAddress(kind: LinkAddressOption["kind"], mac: Uint8Array): LinkAddressOption {
  return { kind, address: mac };
}

/** What {@linkcode createRouterSolicitation} builds a frame from. */
export interface RouterSolicitationInit extends NdSender {
  /** Extra options after the source link-layer address. */
  options?: NdOption[];
}

/**
 * Builds a Router Solicitation frame to all routers (`ff02::2`) with hop limit 255. It carries
 * the source link-layer address option unless `src` is `::`, where RFC 4861 section 4.1 forbids
 * it.
 *
 * @example A solicitation from an address-less host
 * ```ts
 * import { createRouterSolicitation, IPV6_UNSPECIFIED, parseMac } from "./mod.ts";
 *
 * createRouterSolicitation({ srcMac: parseMac("52:54:00:12:34:01"), src: IPV6_UNSPECIFIED });
 * ```
 */
export function createRouterSolicitation(init: RouterSolicitationInit): Uint8Array<ArrayBuffer> {
  const src = init.src ?? linkLocalFromMac(init.srcMac);
  const options: NdOption[] = isIpv6Unspecified(src)
    ? []
    : [linkAddress("source_link_address", init.srcMac)];
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    src,
    dst: IPV6_ALL_ROUTERS,
    message: { kind: "router_solicitation", code: 0, options: [...options, ...init.options ?? []] },
  });
}

/** What {@linkcode createRouterAdvertisement} builds a frame from. */
export interface RouterAdvertisementInit
  extends Partial<Omit<RouterAdvertisement, "kind" | "code" | "options">> {
  /** The router's MAC (6 bytes), also sent as the source link-layer address option. */
  srcMac: Uint8Array;
  /** The router's link-local address (16 bytes). */
  src: Uint8Array;
  /** Destination; default all nodes (`ff02::1`). */
  dst?: Uint8Array;
  /** Destination MAC; needed only for a unicast `dst`. */
  dstMac?: Uint8Array | undefined;
  /** Options after the source link-layer address (MTU, Prefix Information, RDNSS). */
  options?: NdOption[];
}

/**
 * Builds a Router Advertisement frame with hop limit 255 and the source link-layer address
 * option first. Defaults: to `ff02::1`, current hop limit 64, M and O clear, router lifetime
 * 1800 s, reachable time and retransmission timer 0 (unspecified).
 *
 * @example M=1 with an MTU and a prefix for SLAAC
 * ```ts
 * import { createRouterAdvertisement, parseIpv6, parseMac } from "./mod.ts";
 *
 * createRouterAdvertisement({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("fe80::1"),
 *   managed: true,
 *   options: [
 *     { kind: "mtu", mtu: 1500 },
 *     {
 *       kind: "prefix_information",
 *       prefix: parseIpv6("2001:db8:1::"),
 *       prefixLength: 64,
 *       onLink: true,
 *       autonomous: true,
 *       validLifetime: 86400,
 *       preferredLifetime: 14400,
 *     },
 *   ],
 * });
 * ```
 */
export function createRouterAdvertisement(
  init: RouterAdvertisementInit,
): Uint8Array<ArrayBuffer> {
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src,
    dst: init.dst ?? IPV6_ALL_NODES,
    message: {
      kind: "router_advertisement",
      code: 0,
      curHopLimit: init.curHopLimit ?? 64,
      managed: init.managed ?? false,
      other: init.other ?? false,
      routerLifetime: init.routerLifetime ?? 1800,
      reachableTime: init.reachableTime ?? 0,
      retransTimer: init.retransTimer ?? 0,
      options: [linkAddress("source_link_address", init.srcMac), ...init.options ?? []],
    },
  });
}

/** What {@linkcode createNeighborSolicitation} builds a frame from. */
export interface NeighborSolicitationInit extends NdSender {
  /** The address to resolve, or to check for duplicates with `src` `::` (16 bytes). */
  target: Uint8Array;
  /** Destination; default the target's solicited-node group. */
  dst?: Uint8Array;
  /** Destination MAC; needed only for a unicast `dst` (a reachability probe). */
  dstMac?: Uint8Array | undefined;
}

/**
 * Builds a Neighbor Solicitation frame with hop limit 255, to the target's solicited-node group
 * unless `dst` says otherwise. With `src` `::` it is a Duplicate Address Detection probe and
 * carries no source link-layer address option (RFC 4861 section 4.3); otherwise it does.
 *
 * @example Resolve the gateway, and probe an address for duplicates
 * ```ts
 * import { createNeighborSolicitation, IPV6_UNSPECIFIED, parseIpv6, parseMac } from "./mod.ts";
 *
 * const mac = parseMac("52:54:00:12:34:01");
 * createNeighborSolicitation({ srcMac: mac, target: parseIpv6("fe80::1") });
 * createNeighborSolicitation({
 *   srcMac: mac,
 *   src: IPV6_UNSPECIFIED,
 *   target: parseIpv6("fe80::5054:ff:fe12:3401"),
 * });
 * ```
 */
export function createNeighborSolicitation(
  init: NeighborSolicitationInit,
): Uint8Array<ArrayBuffer> {
  const src = init.src ?? linkLocalFromMac(init.srcMac);
  checkIpv6Length(init.target, "ND target address");
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src,
    dst: init.dst ?? solicitedNodeMulticast(init.target),
    message: {
      kind: "neighbor_solicitation",
      code: 0,
      target: init.target,
      options: isIpv6Unspecified(src) ? [] : [linkAddress("source_link_address", init.srcMac)],
    },
  });
}

/** What {@linkcode createNeighborAdvertisement} builds a frame from. */
export interface NeighborAdvertisementInit {
  /** The advertiser's MAC (6 bytes), sent as the target link-layer address. */
  srcMac: Uint8Array;
  /** Destination MAC; needed only for a unicast `dst`. */
  dstMac?: Uint8Array | undefined;
  /** The advertiser's address (16 bytes). */
  src: Uint8Array;
  /** The soliciting node, or all nodes (`ff02::1`) for an answer to a DAD probe. */
  dst: Uint8Array;
  /** The address advertised; default `src`. */
  target?: Uint8Array;
  /** R flag (default false). */
  router?: boolean;
  /** S flag (default false); RFC 4861 section 7.2.4: clear when answering a DAD probe. */
  solicited?: boolean;
  /** O flag (default true). */
  override?: boolean;
  /** Whether to send the target link-layer address option (default true). */
  targetLinkAddress?: boolean;
}

/**
 * Builds a Neighbor Advertisement frame with hop limit 255, carrying `srcMac` as the target
 * link-layer address unless `targetLinkAddress` is false.
 *
 * @example A router answering a guest's solicitation for it
 * ```ts
 * import { createNeighborAdvertisement, parseIpv6, parseMac } from "./mod.ts";
 *
 * createNeighborAdvertisement({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("fe80::5054:ff:fe12:3401"),
 *   router: true,
 *   solicited: true,
 * });
 * ```
 */
export function createNeighborAdvertisement(
  init: NeighborAdvertisementInit,
): Uint8Array<ArrayBuffer> {
  const withAddress = init.targetLinkAddress ?? true;
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src,
    dst: init.dst,
    message: {
      kind: "neighbor_advertisement",
      code: 0,
      router: init.router ?? false,
      solicited: init.solicited ?? false,
      override: init.override ?? true,
      target: init.target ?? init.src,
      options: withAddress ? [linkAddress("target_link_address", init.srcMac)] : [],
    },
  });
}

/** What {@linkcode createIcmpv6EchoRequest} and {@linkcode createIcmpv6EchoReply} build from. */
export interface Icmpv6EchoInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC; optional when `dst` is multicast. */
  dstMac?: Uint8Array | undefined;
  /** IPv6 source; default the EUI-64 link-local address of `srcMac`. */
  src?: Uint8Array;
  /** IPv6 destination (16 bytes). */
  dst: Uint8Array;
  /** Identifier, 16 bits. */
  identifier: number;
  /** Sequence number, 16 bits. */
  sequence: number;
  /** Data after the header (default none). */
  data?: Uint8Array;
  /** Hop limit (default 64). */
  hopLimit?: number | undefined;
}

function createEcho(kind: Icmpv6Echo["kind"], init: Icmpv6EchoInit): Uint8Array<ArrayBuffer> {
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src ?? linkLocalFromMac(init.srcMac),
    dst: init.dst,
    hopLimit: init.hopLimit,
    message: {
      kind,
      code: 0,
      identifier: init.identifier,
      sequence: init.sequence,
      data: init.data ?? new Uint8Array(),
    },
  });
}

/**
 * Builds an Echo Request frame (`ping -6`).
 *
 * @example
 * ```ts
 * import { createIcmpv6EchoRequest, parseIpv6, parseMac } from "./mod.ts";
 *
 * createIcmpv6EchoRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   dstMac: parseMac("02:00:00:00:00:01"),
 *   dst: parseIpv6("fe80::1"),
 *   identifier: 0x1234,
 *   sequence: 1,
 *   data: new TextEncoder().encode("ping"),
 * });
 * ```
 */
export function createIcmpv6EchoRequest(init: Icmpv6EchoInit): Uint8Array<ArrayBuffer> {
  return createEcho("echo_request", init);
}

/** Builds an Echo Reply frame; the same fields as {@linkcode createIcmpv6EchoRequest}. */
export function createIcmpv6EchoReply(init: Icmpv6EchoInit): Uint8Array<ArrayBuffer> {
  return createEcho("echo_reply", init);
}

/** What {@linkcode createIcmpv6Error} builds a frame from. */
export interface Icmpv6ErrorInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC (6 bytes): the offending packet's sender, or its next hop. */
  dstMac: Uint8Array;
  /** The reporting router's address (16 bytes). */
  src: Uint8Array;
  /** Destination; default the offending packet's source. */
  dst?: Uint8Array;
  /** Which error. */
  kind: Icmpv6Error["kind"];
  /** Code (default 0). */
  code?: number;
  /** The MTU for `packet_too_big`, the pointer for `parameter_problem` (default 0). */
  parameter?: number;
  /** The offending IPv6 packet, from its header on; cut to fit 1280 bytes. */
  invoking: Uint8Array;
}

/**
 * Builds an ICMPv6 error frame quoting as much of the offending packet as fits in the IPv6
 * minimum MTU (RFC 4443 section 2.4). Throws a `RangeError` when `dst` is not given and
 * `invoking` is too short to name its source.
 *
 * @example Hop limit exceeded in transit
 * ```ts
 * import { createIcmpv6Error, createIcmpv6EchoRequest, parseIpv6, parseMac } from "./mod.ts";
 *
 * const echo = createIcmpv6EchoRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   dstMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("2001:db8::5"),
 *   dst: parseIpv6("2001:db8:2::9"),
 *   identifier: 1,
 *   sequence: 1,
 *   hopLimit: 1,
 * });
 * createIcmpv6Error({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("2001:db8::1"),
 *   kind: "time_exceeded",
 *   invoking: echo.subarray(14),
 * });
 * ```
 */
export function createIcmpv6Error(init: Icmpv6ErrorInit): Uint8Array<ArrayBuffer> {
  const { invoking } = init;
  let dst = init.dst;
  if (dst === undefined) {
    if (invoking.length < 24) {
      throw new RangeError(
        `The offending packet has ${invoking.length} bytes, too few to name its source: give dst`,
      );
    }
    dst = invoking.subarray(8, 24);
  }
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src,
    dst,
    message: { kind: init.kind, code: init.code ?? 0, parameter: init.parameter ?? 0, invoking },
  });
}
