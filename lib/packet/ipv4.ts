/**
 * IPv4 (RFC 791): addresses as text and bytes, multicast helpers, and packets without options
 * to send, with options when received.
 *
 * Packets here start at the IPv4 header, as in an Ethernet frame's payload. Decoding returns
 * views into the packet (no copies) and leaves fragments as they are: reassembly is not a codec's
 * job. Address helpers read an address in place (`bytes`, `offset`) so receive paths need not
 * slice.
 *
 * @example Build a multicast packet and read it back
 * ```ts
 * import {
 *   decodeIpv4,
 *   encodeIpv4,
 *   formatIpv4,
 *   formatMac,
 *   IpProtocol,
 *   ipv4MulticastMac,
 *   parseIpv4,
 * } from "./mod.ts";
 *
 * const group = parseIpv4("239.10.20.30");
 * const packet = encodeIpv4({
 *   src: parseIpv4("192.0.2.1"),
 *   dst: group,
 *   protocol: IpProtocol.UDP,
 *   ttl: 8,
 *   payload: new Uint8Array(8),
 * });
 * const ip = decodeIpv4(packet);
 * formatIpv4(ip.dst); // "239.10.20.30"
 * ip.ttl; // 8
 * formatMac(ipv4MulticastMac(group)); // "01:00:5e:0a:14:1e"
 * ```
 *
 * @module
 */

import { setU16, u16 } from "./bytes.ts";
import { internetChecksum, onesComplementSum } from "./checksum.ts";
import { MalformedPacketError } from "./errors.ts";

/** Length of an IPv4 address in bytes. */
export const IPV4_ADDRESS_LEN = 4;
/** Length of an IPv4 header without options (IHL 5). */
export const IPV4_HEADER_LEN = 20;
/** Longest IPv4 header: IHL 15, with 40 bytes of options. */
export const IPV4_MAX_HEADER_LEN = 60;
/** Largest IPv4 total length: header and payload. */
export const IPV4_MAX_TOTAL_LEN = 0xffff;

/**
 * Well-known IP protocol numbers (IANA "Assigned Internet Protocol Numbers"): the IPv4 protocol
 * field and the IPv6 next header field share them.
 */
export const IpProtocol = {
  /** IPv6 Hop-by-Hop Options extension header. */
  HOP_BY_HOP: 0,
  /** Internet Control Message Protocol. */
  ICMP: 1,
  /** Internet Group Management Protocol. */
  IGMP: 2,
  /** IPv4 encapsulated in IP (IP-in-IP). */
  IPIP: 4,
  /** Transmission Control Protocol. */
  TCP: 6,
  /** User Datagram Protocol. */
  UDP: 17,
  /** IPv6 encapsulated in IP. */
  IPV6: 41,
  /** IPv6 Routing extension header. */
  IPV6_ROUTING: 43,
  /** IPv6 Fragment extension header. */
  IPV6_FRAGMENT: 44,
  /** Generic Routing Encapsulation. */
  GRE: 47,
  /** Encapsulating Security Payload. */
  ESP: 50,
  /** Authentication Header. */
  AH: 51,
  /** ICMP for IPv6 (carries MLD). */
  ICMPV6: 58,
  /** IPv6 "no next header". */
  IPV6_NO_NEXT: 59,
  /** IPv6 Destination Options extension header. */
  IPV6_DEST_OPTIONS: 60,
  /** Protocol Independent Multicast. */
  PIM: 103,
  /** Virtual Router Redundancy Protocol. */
  VRRP: 112,
} as const;

/** A decoded IPv4 packet. `src`, `dst`, `options` and `payload` are views into the packet. */
export interface Ipv4Packet {
  /** Always 4. */
  version: 4;
  /** Header length in bytes (IHL × 4): 20..60. */
  headerLength: number;
  /** The type of service octet: DSCP (high 6 bits) and ECN (low 2 bits). */
  tos: number;
  /** Total length of header and payload, from the header. */
  totalLength: number;
  /** Identification, 0..0xffff. */
  id: number;
  /** The DF flag. */
  dontFragment: boolean;
  /** The MF flag: more fragments follow. */
  moreFragments: boolean;
  /** Fragment offset in bytes (the 13-bit field × 8); non-zero for all but first fragments. */
  fragmentOffset: number;
  /** Time to live. */
  ttl: number;
  /** Protocol of the payload, e.g. {@linkcode IpProtocol.UDP}. */
  protocol: number;
  /** Header checksum as found on the wire (verified by the decoder). */
  checksum: number;
  /** Source address (4 bytes). */
  src: Uint8Array;
  /** Destination address (4 bytes). */
  dst: Uint8Array;
  /** Option bytes between the fixed header and the payload; empty without options. */
  options: Uint8Array;
  /** Bytes from the end of the header to the total length; link-layer padding is excluded. */
  payload: Uint8Array;
}

/** What {@linkcode encodeIpv4} builds a packet from. */
export interface Ipv4PacketInit {
  /** Source address (4 bytes). */
  src: Uint8Array;
  /** Destination address (4 bytes). */
  dst: Uint8Array;
  /** Protocol of the payload, 0..0xff (see {@linkcode IpProtocol}). */
  protocol: number;
  /** Time to live, 0..0xff; written as given (0 included, for tests of receivers). */
  ttl: number;
  /** Bytes after the header; at most 65515. */
  payload: Uint8Array;
  /** Type of service octet (DSCP << 2 | ECN), 0..0xff (default 0). */
  tos?: number;
  /** Identification, 0..0xffff (default 0). */
  id?: number;
  /** Set the DF flag (default false). */
  dontFragment?: boolean;
}

const FLAGS_OFFSET = 6;
const TTL_OFFSET = 8;
const PROTOCOL_OFFSET = 9;
const CHECKSUM_OFFSET = 10;
const SRC_OFFSET = 12;
const DST_OFFSET = 16;
const DONT_FRAGMENT = 0x4000;
const MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;
const DECIMAL = /^[0-9]+$/;

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, "0")}`;
}

function checkInteger(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from 0 to ${max}`);
  }
}

function checkAddress(address: Uint8Array, what: string): void {
  if (address.length !== IPV4_ADDRESS_LEN) {
    throw new RangeError(
      `Invalid ${what}: expected ${IPV4_ADDRESS_LEN} bytes, got ${address.length}`,
    );
  }
}

/** Throws unless `bytes` holds a whole IPv4 address at `offset`. */
function checkAddressAt(bytes: Uint8Array, offset: number): void {
  // `>>> 0` rejects negative, fractional and NaN offsets in one cheap comparison.
  if (offset >>> 0 !== offset || offset + IPV4_ADDRESS_LEN > bytes.length) {
    throw new RangeError(
      `IPv4 address at offset ${offset} is out of bounds: it needs ${IPV4_ADDRESS_LEN} bytes and the buffer has ${bytes.length}`,
    );
  }
}

/** Why `octet` is not a decimal octet, or undefined when it is one. */
function octetProblem(octet: string): string | undefined {
  if (!DECIMAL.test(octet)) return `"${octet}" is not a decimal number from 0 to 255`;
  if (octet.length > 1 && octet[0] === "0") {
    return `"${octet}" has a leading zero, which some tools read as octal`;
  }
  if (Number(octet) > 255) return `"${octet}" is above 255`;
  return undefined;
}

/**
 * Parses a strict dotted quad such as `192.0.2.1` into 4 new bytes: exactly four decimal octets
 * 0..255 without leading zeros (`010` means 8 to `inet_aton`, 10 to others, so it is refused), no
 * whitespace, no shorthand such as `10.1`. Throws a `TypeError` naming the input and the problem.
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./ipv4.ts";
 *
 * parseIpv4("239.10.20.30"); // Uint8Array [239, 10, 20, 30]
 * ```
 */
export function parseIpv4(text: string): Uint8Array<ArrayBuffer> {
  // One pass over the characters: daemons parse tens of thousands of addresses per request.
  const address = new Uint8Array(IPV4_ADDRESS_LEN);
  let octet = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + c - 0x30;
      digits++;
      if (value > 255 || (digits === 2 && value < 10)) break;
    } else if (c === 0x2e && digits > 0 && octet < IPV4_ADDRESS_LEN) {
      address[octet++] = value;
      value = 0;
      digits = 0;
    } else break;
    if (i === text.length && octet === IPV4_ADDRESS_LEN) return address;
  }
  return explainIpv4(text);
}

/** Throws the error that says why `text` is not a dotted quad. */
function explainIpv4(text: string): never {
  const octets = text.split(".");
  if (octets.length !== IPV4_ADDRESS_LEN) {
    throw new TypeError(
      `Invalid IPv4 address "${text}": expected 4 dot-separated decimal octets like 192.0.2.1, got ${octets.length}`,
    );
  }
  for (let i = 0; i < IPV4_ADDRESS_LEN; i++) {
    const octet = octets[i]!;
    const problem = octetProblem(octet);
    if (problem !== undefined) {
      throw new TypeError(`Invalid IPv4 address "${text}": octet ${i + 1} ${problem}`);
    }
  }
  throw new TypeError(`Invalid IPv4 address "${text}"`);
}

/**
 * Formats the 4 bytes at `offset` as a dotted quad.
 *
 * @example Read the destination of an IPv4 header in place
 * ```ts
 * import { formatIpv4 } from "./ipv4.ts";
 *
 * const header = new Uint8Array(20);
 * header.set([224, 0, 0, 22], 16);
 * formatIpv4(header, 16); // "224.0.0.22"
 * ```
 */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  checkAddressAt(bytes, offset);
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** Whether the address at `offset` is multicast: in 224.0.0.0/4. */
export function isIpv4Multicast(bytes: Uint8Array, offset = 0): boolean {
  checkAddressAt(bytes, offset);
  return (bytes[offset]! & 0xf0) === 0xe0;
}

/**
 * Whether the address at `offset` is in 224.0.0.0/24, the Local Network Control Block (IGMP,
 * OSPF, PIM, mDNS ...): routers never forward it, whatever its TTL.
 */
export function isIpv4LinkLocalMulticast(bytes: Uint8Array, offset = 0): boolean {
  checkAddressAt(bytes, offset);
  return bytes[offset] === 224 && bytes[offset + 1] === 0 && bytes[offset + 2] === 0;
}

/**
 * The Ethernet address an IPv4 multicast group maps to (RFC 1112 section 6.4): 01:00:5e followed
 * by the group's low 23 bits, as 6 new bytes. 32 groups share each MAC. Throws a `RangeError`
 * when the address at `offset` is not multicast.
 *
 * @example
 * ```ts
 * import { formatMac, ipv4MulticastMac, parseIpv4 } from "./mod.ts";
 *
 * formatMac(ipv4MulticastMac(parseIpv4("239.10.20.30"))); // "01:00:5e:0a:14:1e"
 * formatMac(ipv4MulticastMac(parseIpv4("224.138.20.30"))); // "01:00:5e:0a:14:1e" too
 * ```
 */
export function ipv4MulticastMac(group: Uint8Array, offset = 0): Uint8Array<ArrayBuffer> {
  if (!isIpv4Multicast(group, offset)) {
    throw new RangeError(
      `Invalid IPv4 multicast group "${
        formatIpv4(group, offset)
      }": expected an address in 224.0.0.0/4`,
    );
  }
  return new Uint8Array([
    0x01,
    0x00,
    0x5e,
    group[offset + 1]! & 0x7f,
    group[offset + 2]!,
    group[offset + 3]!,
  ]);
}

/**
 * Builds a new IPv4 packet: a 20-byte header without options, with a correct header checksum,
 * followed by `payload`. Fragment offset and MF are zero. Throws a `RangeError` for an address
 * that is not 4 bytes, a field outside its range, or a payload longer than 65515 bytes.
 *
 * @example
 * ```ts
 * import { encodeIpv4, IpProtocol, parseIpv4 } from "./mod.ts";
 *
 * const packet = encodeIpv4({
 *   src: parseIpv4("192.168.0.1"),
 *   dst: parseIpv4("192.168.0.199"),
 *   protocol: IpProtocol.UDP,
 *   ttl: 64,
 *   dontFragment: true,
 *   payload: new Uint8Array(95),
 * });
 * packet.length; // 115
 * (packet[10]! << 8) | packet[11]!; // 0xb861, the header checksum
 * ```
 */
export function encodeIpv4(init: Ipv4PacketInit): Uint8Array<ArrayBuffer> {
  const { src, dst, protocol, ttl, payload, tos = 0, id = 0, dontFragment = false } = init;
  checkAddress(src, "IPv4 source address");
  checkAddress(dst, "IPv4 destination address");
  checkInteger(protocol, 0xff, "IP protocol");
  checkInteger(ttl, 0xff, "IPv4 TTL");
  checkInteger(tos, 0xff, "IPv4 type of service");
  checkInteger(id, 0xffff, "IPv4 identification");
  const totalLength = IPV4_HEADER_LEN + payload.length;
  if (totalLength > IPV4_MAX_TOTAL_LEN) {
    throw new RangeError(
      `IPv4 payload of ${payload.length} bytes is too long: at most ${
        IPV4_MAX_TOTAL_LEN - IPV4_HEADER_LEN
      } fit after a ${IPV4_HEADER_LEN}-byte header`,
    );
  }
  const packet = new Uint8Array(totalLength);
  packet[0] = 0x45; // version 4, IHL 5
  packet[1] = tos;
  setU16(packet, 2, totalLength);
  setU16(packet, 4, id);
  setU16(packet, FLAGS_OFFSET, dontFragment ? DONT_FRAGMENT : 0);
  packet[TTL_OFFSET] = ttl;
  packet[PROTOCOL_OFFSET] = protocol;
  packet.set(src, SRC_OFFSET);
  packet.set(dst, DST_OFFSET);
  setU16(packet, CHECKSUM_OFFSET, internetChecksum(packet, 0, IPV4_HEADER_LEN));
  packet.set(payload, IPV4_HEADER_LEN);
  return packet;
}

/**
 * Decodes an IPv4 packet that starts at `bytes[0]`; bytes past the total length (Ethernet
 * padding) are ignored. Options are returned raw, fragments as they are. Every returned array is
 * a view into `bytes`.
 *
 * Throws {@linkcode MalformedPacketError} with reason `"truncated_ipv4_header"` (fewer than 20
 * bytes, or fewer than the header length), `"bad_ipv4_version"` (not 4),
 * `"bad_ipv4_header_length"` (IHL below 5), `"bad_ipv4_total_length"` (total length below the
 * header length), `"truncated_ipv4_packet"` (total length beyond the end of `bytes`) or
 * `"bad_ipv4_checksum"`.
 *
 * @example
 * ```ts
 * import { decodeIpv4, formatIpv4, IpProtocol } from "./mod.ts";
 *
 * const packet = new Uint8Array([
 *   0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x17, 0xc9, // TTL 1, IGMP
 *   0xc0, 0x00, 0x02, 0x01, 0xe0, 0x00, 0x00, 0x16, // 192.0.2.1 -> 224.0.0.22
 *   0x22, 0x00, 0xdd, 0xff, 0x00, 0x00, 0x00, 0x00, // IGMPv3 report, no records
 * ]);
 * const ip = decodeIpv4(packet);
 * ip.protocol === IpProtocol.IGMP; // true
 * formatIpv4(ip.dst); // "224.0.0.22"
 * ip.payload.length; // 8
 * ```
 */
export function decodeIpv4(bytes: Uint8Array): Ipv4Packet {
  if (bytes.length < IPV4_HEADER_LEN) {
    throw new MalformedPacketError(
      "truncated_ipv4_header",
      `IPv4 packet too short: ${bytes.length} bytes, a header needs ${IPV4_HEADER_LEN}`,
    );
  }
  const version = bytes[0]! >>> 4;
  if (version !== 4) {
    throw new MalformedPacketError(
      "bad_ipv4_version",
      `IPv4 header has version "${version}", expected 4`,
    );
  }
  const ihl = bytes[0]! & 0x0f;
  if (ihl < 5) {
    throw new MalformedPacketError(
      "bad_ipv4_header_length",
      `IPv4 header length field (IHL) is "${ihl}": it must be at least 5 (20 bytes)`,
    );
  }
  const headerLength = ihl * 4;
  if (headerLength > bytes.length) {
    throw new MalformedPacketError(
      "truncated_ipv4_header",
      `IPv4 packet too short: ${bytes.length} bytes, its header with options needs ${headerLength}`,
    );
  }
  const totalLength = u16(bytes, 2);
  if (totalLength < headerLength) {
    throw new MalformedPacketError(
      "bad_ipv4_total_length",
      `IPv4 total length "${totalLength}" is shorter than its ${headerLength}-byte header`,
    );
  }
  if (totalLength > bytes.length) {
    throw new MalformedPacketError(
      "truncated_ipv4_packet",
      `IPv4 packet truncated: its total length is ${totalLength} bytes, only ${bytes.length} are present`,
    );
  }
  const checksum = u16(bytes, CHECKSUM_OFFSET);
  if (internetChecksum(bytes, 0, headerLength) !== 0) {
    // The checksum over the header with its checksum field left out.
    const expected = internetChecksum(
      bytes,
      CHECKSUM_OFFSET + 2,
      headerLength,
      onesComplementSum(bytes, 0, CHECKSUM_OFFSET),
    );
    throw new MalformedPacketError(
      "bad_ipv4_checksum",
      `IPv4 header checksum is ${hex16(checksum)}, expected ${hex16(expected)}`,
    );
  }
  const flags = u16(bytes, FLAGS_OFFSET);
  return {
    version: 4,
    headerLength,
    tos: bytes[1]!,
    totalLength,
    id: u16(bytes, 4),
    dontFragment: (flags & DONT_FRAGMENT) !== 0,
    moreFragments: (flags & MORE_FRAGMENTS) !== 0,
    fragmentOffset: (flags & FRAGMENT_OFFSET_MASK) * 8,
    ttl: bytes[TTL_OFFSET]!,
    protocol: bytes[PROTOCOL_OFFSET]!,
    checksum,
    src: bytes.subarray(SRC_OFFSET, SRC_OFFSET + IPV4_ADDRESS_LEN),
    dst: bytes.subarray(DST_OFFSET, DST_OFFSET + IPV4_ADDRESS_LEN),
    options: bytes.subarray(IPV4_HEADER_LEN, headerLength),
    payload: bytes.subarray(headerLength, totalLength),
  };
}
