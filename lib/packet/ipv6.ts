/**
 * IPv6 (RFC 8200): addresses as text (RFC 4291 forms in, RFC 5952 canonical form out) and bytes,
 * multicast helpers, and the fixed 40-byte header.
 *
 * Packets here start at the IPv6 header, as in an Ethernet frame's payload. Decoding returns
 * views into the packet (no copies) and does not walk extension headers: `nextHeader` says what
 * follows the fixed header, and `payload` holds everything after it. Address helpers read an
 * address in place (`bytes`, `offset`) so receive paths need not slice.
 *
 * @example Build a multicast packet and read it back
 * ```ts
 * import {
 *   decodeIpv6,
 *   encodeIpv6,
 *   formatIpv6,
 *   formatMac,
 *   IpProtocol,
 *   ipv6MulticastMac,
 *   ipv6MulticastScope,
 *   parseIpv6,
 * } from "./mod.ts";
 *
 * const group = parseIpv6("FF0E:0:0::1:2:3");
 * const packet = encodeIpv6({
 *   src: parseIpv6("2001:db8::1"),
 *   dst: group,
 *   nextHeader: IpProtocol.UDP,
 *   hopLimit: 8,
 *   payload: new Uint8Array(8),
 * });
 * const ip = decodeIpv6(packet);
 * formatIpv6(ip.dst); // "ff0e::1:2:3"
 * ip.hopLimit; // 8
 * ipv6MulticastScope(group); // 14 (global)
 * formatMac(ipv6MulticastMac(group)); // "33:33:00:02:00:03"
 * ```
 *
 * @module
 */

import { u16 } from "./bytes.ts";
import { MalformedPacketError } from "./errors.ts";
import { formatIpv4, parseIpv4 } from "./ipv4.ts";
import { MAC_LEN } from "./mac.ts";

/** Length of an IPv6 address in bytes. */
export const IPV6_ADDRESS_LEN = 16;
/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LEN = 40;
/** Largest IPv6 payload length (jumbograms, RFC 2675, are not supported). */
export const IPV6_MAX_PAYLOAD_LEN = 0xffff;
/** Largest IPv6 flow label (20 bits). */
export const MAX_FLOW_LABEL = 0xf_ffff;

/** IPv6 multicast scopes (RFC 7346): the low 4 bits of a multicast address's second byte. */
export const Ipv6MulticastScope = {
  /** Interface-local: loopback only. */
  INTERFACE_LOCAL: 0x1,
  /** Link-local: never forwarded by routers. */
  LINK_LOCAL: 0x2,
  /** Realm-local. */
  REALM_LOCAL: 0x3,
  /** Admin-local: the smallest administratively configured scope. */
  ADMIN_LOCAL: 0x4,
  /** Site-local. */
  SITE_LOCAL: 0x5,
  /** Organization-local. */
  ORGANIZATION_LOCAL: 0x8,
  /** Global. */
  GLOBAL: 0xe,
} as const;

/** A decoded IPv6 header. `src`, `dst` and `payload` are views into the packet. */
export interface Ipv6Packet {
  /** Always 6. */
  version: 6;
  /** Traffic class octet: DSCP (high 6 bits) and ECN (low 2 bits). */
  trafficClass: number;
  /** Flow label, 0..0xfffff. */
  flowLabel: number;
  /** Length of everything after the fixed header, from the header. */
  payloadLength: number;
  /** What follows the fixed header: an extension header or an upper-layer protocol. */
  nextHeader: number;
  /** Hop limit. */
  hopLimit: number;
  /** Source address (16 bytes). */
  src: Uint8Array;
  /** Destination address (16 bytes). */
  dst: Uint8Array;
  /** The `payloadLength` bytes after the fixed header (extension headers included). */
  payload: Uint8Array;
}

/** What {@linkcode encodeIpv6} builds a packet from. */
export interface Ipv6PacketInit {
  /** Source address (16 bytes). */
  src: Uint8Array;
  /** Destination address (16 bytes). */
  dst: Uint8Array;
  /** Next header, 0..0xff (see `IpProtocol`). */
  nextHeader: number;
  /** Hop limit, 0..0xff; written as given. */
  hopLimit: number;
  /** Bytes after the fixed header, extension headers included; at most 65535. */
  payload: Uint8Array;
  /** Traffic class octet (DSCP << 2 | ECN), 0..0xff (default 0). */
  trafficClass?: number;
  /** Flow label, 0..0xfffff (default 0). */
  flowLabel?: number;
}

const WORDS = 8;
const HEX_GROUP = /^[0-9a-f]{1,4}$/i;
const HEX_DIGITS = /^[0-9a-f]+$/i;
const NEXT_HEADER_OFFSET = 6;
const HOP_LIMIT_OFFSET = 7;
const SRC_OFFSET = 8;
const DST_OFFSET = 24;

function checkInteger(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `Invalid ${what} "${value}": expected an integer from 0 to 0x${max.toString(16)}`,
    );
  }
}

function checkAddress(address: Uint8Array, what: string): void {
  if (address.length !== IPV6_ADDRESS_LEN) {
    throw new RangeError(
      `Invalid ${what}: expected ${IPV6_ADDRESS_LEN} bytes, got ${address.length}`,
    );
  }
}

/** Throws unless `bytes` holds a whole IPv6 address at `offset`. */
function checkAddressAt(bytes: Uint8Array, offset: number): void {
  // `>>> 0` rejects negative, fractional and NaN offsets in one cheap comparison.
  if (offset >>> 0 !== offset || offset + IPV6_ADDRESS_LEN > bytes.length) {
    throw new RangeError(
      `IPv6 address at offset ${offset} is out of bounds: it needs ${IPV6_ADDRESS_LEN} bytes and the buffer has ${bytes.length}`,
    );
  }
}

/**
 * Parses an IPv6 address in any RFC 4291 section 2.2 text form into 16 new bytes: eight groups of
 * 1 to 4 hex digits (any case), at most one `::` standing for one or more zero groups, and
 * optionally a dotted-quad IPv4 tail in place of the last two groups (`::ffff:192.0.2.1`).
 *
 * Throws a `TypeError` naming the input and the problem, including for zone indexes
 * (`fe80::1%eth0`: name the interface separately), prefix lengths (`/64`), brackets and
 * surrounding whitespace.
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./ipv6.ts";
 *
 * parseIpv6("::1"); // 15 zero bytes, then 1
 * parseIpv6("::ffff:192.0.2.1").subarray(10); // Uint8Array [255, 255, 192, 0, 2, 1]
 * ```
 */
export function parseIpv6(text: string): Uint8Array<ArrayBuffer> {
  const fail = (problem: string): never => {
    throw new TypeError(`Invalid IPv6 address "${text}": ${problem}`);
  };
  const zone = text.indexOf("%");
  if (zone >= 0) {
    fail(
      `zone index "${
        text.slice(zone)
      }" is not accepted here: give the address without it and name the interface separately`,
    );
  }
  if (!text.includes(":")) fail(`expected hex groups separated by ":", like 2001:db8::1`);
  const halves = text.split("::");
  if (halves.length > 2) fail(`"::" may appear only once`);
  const compressed = halves.length === 2;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = !compressed || halves[1] === "" ? [] : halves[1]!.split(":");
  const last = compressed ? tail : head;

  // Each side as 16-bit words; an IPv4 tail (allowed only as the very last group) gives two.
  const toWords = (groups: string[]): number[] => {
    const words: number[] = [];
    groups.forEach((group, i) => {
      if (group.includes(".")) {
        if (groups !== last || i !== groups.length - 1) {
          fail(`the embedded IPv4 address "${group}" must come last`);
        }
        let ipv4: Uint8Array;
        try {
          ipv4 = parseIpv4(group);
        } catch (err) {
          if (!(err instanceof TypeError)) throw err;
          throw new TypeError(
            `Invalid IPv6 address "${text}": the embedded IPv4 address "${group}" is not four decimal octets 0-255 without leading zeros`,
            { cause: err },
          );
        }
        words.push((ipv4[0]! << 8) | ipv4[1]!, (ipv4[2]! << 8) | ipv4[3]!);
      } else if (HEX_GROUP.test(group)) {
        words.push(parseInt(group, 16));
      } else if (group === "") {
        fail(`empty group (a single ":" at the start or end, or ":::")`);
      } else if (HEX_DIGITS.test(group)) {
        fail(`group "${group}" has more than 4 hex digits`);
      } else {
        fail(`group "${group}" is not hexadecimal`);
      }
    });
    return words;
  };
  const headWords = toWords(head);
  const tailWords = toWords(tail);
  const given = headWords.length + tailWords.length;
  if (compressed && given >= WORDS) {
    fail(`"::" must stand for at least one zero group, but ${given} groups are already given`);
  }
  if (!compressed && given !== WORDS) {
    fail(`expected 8 groups (or "::" for a run of zero groups), got ${given}`);
  }
  const address = new Uint8Array(IPV6_ADDRESS_LEN);
  const write = (word: number, index: number) => {
    address[2 * index] = word >>> 8;
    address[2 * index + 1] = word & 0xff;
  };
  headWords.forEach(write);
  tailWords.forEach((word, i) => write(word, WORDS - tailWords.length + i));
  return address;
}

/**
 * Formats the 16 bytes at `offset` in RFC 5952 canonical form: lowercase hex without leading
 * zeros, the longest run of two or more zero groups shortened to `::` (the first such run on a
 * tie), and IPv4-mapped addresses (`::ffff:0:0/96`) with a dotted-quad tail as RFC 5952 section
 * 5 recommends.
 *
 * @example
 * ```ts
 * import { formatIpv6, parseIpv6 } from "./ipv6.ts";
 *
 * formatIpv6(parseIpv6("2001:0DB8:0000:0000:0001:0000:0000:0001")); // "2001:db8::1:0:0:1"
 * formatIpv6(parseIpv6("2001:db8:0:1:1:1:1:1")); // "2001:db8:0:1:1:1:1:1" (one zero group stays)
 * formatIpv6(parseIpv6("::ffff:c000:201")); // "::ffff:192.0.2.1"
 * ```
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  checkAddressAt(bytes, offset);
  const words: number[] = [];
  for (let i = 0; i < WORDS; i++) words.push(u16(bytes, offset + 2 * i));
  if (words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  // The longest run of zero words (first wins a tie); runs of one are not shortened.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < WORDS;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < WORDS && words[end] === 0) end++;
    if (end - i > bestLength) {
      bestStart = i;
      bestLength = end - i;
    }
    i = end;
  }
  const hex = (part: number[]) => part.map((word) => word.toString(16)).join(":");
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}

/** Whether the address at `offset` is multicast: in ff00::/8. */
export function isIpv6Multicast(bytes: Uint8Array, offset = 0): boolean {
  checkAddressAt(bytes, offset);
  return bytes[offset] === 0xff;
}

function checkMulticast(group: Uint8Array, offset: number): void {
  if (!isIpv6Multicast(group, offset)) {
    throw new RangeError(
      `Invalid IPv6 multicast group "${
        formatIpv6(group, offset)
      }": expected an address in ff00::/8`,
    );
  }
}

/**
 * The 4-bit scope of the multicast address at `offset` (see {@linkcode Ipv6MulticastScope}).
 * Throws a `RangeError` when the address is not multicast.
 *
 * @example
 * ```ts
 * import { Ipv6MulticastScope, ipv6MulticastScope, parseIpv6 } from "./ipv6.ts";
 *
 * ipv6MulticastScope(parseIpv6("ff02::16")) === Ipv6MulticastScope.LINK_LOCAL; // true
 * ```
 */
export function ipv6MulticastScope(group: Uint8Array, offset = 0): number {
  checkMulticast(group, offset);
  return group[offset + 1]! & 0x0f;
}

/**
 * The Ethernet address an IPv6 multicast group maps to (RFC 2464 section 7): 33:33 followed by
 * the group's low 32 bits, as 6 new bytes. Throws a `RangeError` when the address at `offset` is
 * not multicast.
 *
 * @example
 * ```ts
 * import { formatMac, ipv6MulticastMac, parseIpv6 } from "./mod.ts";
 *
 * formatMac(ipv6MulticastMac(parseIpv6("ff02::1:ff00:1"))); // "33:33:ff:00:00:01"
 * ```
 */
export function ipv6MulticastMac(group: Uint8Array, offset = 0): Uint8Array<ArrayBuffer> {
  checkMulticast(group, offset);
  const mac = new Uint8Array(6);
  mac[0] = 0x33;
  mac[1] = 0x33;
  mac.set(group.subarray(offset + 12, offset + IPV6_ADDRESS_LEN), 2);
  return mac;
}

/**
 * Builds a new IPv6 packet: the 40-byte fixed header followed by `payload`. Throws a
 * `RangeError` for an address that is not 16 bytes, a field outside its range, or a payload
 * longer than 65535 bytes.
 *
 * @example
 * ```ts
 * import { encodeIpv6, IpProtocol, parseIpv6 } from "./mod.ts";
 *
 * const packet = encodeIpv6({
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("ff02::1"),
 *   nextHeader: IpProtocol.ICMPV6,
 *   hopLimit: 255,
 *   payload: new Uint8Array(8),
 * });
 * packet.length; // 48
 * ```
 */
export function encodeIpv6(init: Ipv6PacketInit): Uint8Array<ArrayBuffer> {
  const { src, dst, nextHeader, hopLimit, payload, trafficClass = 0, flowLabel = 0 } = init;
  checkAddress(src, "IPv6 source address");
  checkAddress(dst, "IPv6 destination address");
  checkInteger(nextHeader, 0xff, "IPv6 next header");
  checkInteger(hopLimit, 0xff, "IPv6 hop limit");
  checkInteger(trafficClass, 0xff, "IPv6 traffic class");
  checkInteger(flowLabel, MAX_FLOW_LABEL, "IPv6 flow label");
  if (payload.length > IPV6_MAX_PAYLOAD_LEN) {
    throw new RangeError(
      `IPv6 payload of ${payload.length} bytes is too long: at most ${IPV6_MAX_PAYLOAD_LEN} fit (jumbograms are not supported)`,
    );
  }
  const packet = new Uint8Array(IPV6_HEADER_LEN + payload.length);
  // Version (4 bits), traffic class (8), flow label (20).
  packet[0] = 0x60 | (trafficClass >>> 4);
  packet[1] = ((trafficClass & 0x0f) << 4) | (flowLabel >>> 16);
  packet[2] = (flowLabel >>> 8) & 0xff;
  packet[3] = flowLabel & 0xff;
  packet[4] = payload.length >>> 8;
  packet[5] = payload.length & 0xff;
  packet[NEXT_HEADER_OFFSET] = nextHeader;
  packet[HOP_LIMIT_OFFSET] = hopLimit;
  packet.set(src, SRC_OFFSET);
  packet.set(dst, DST_OFFSET);
  packet.set(payload, IPV6_HEADER_LEN);
  return packet;
}

/**
 * Decodes the fixed header of an IPv6 packet that starts at `bytes[0]`; bytes past the payload
 * length (Ethernet padding) are ignored. Extension headers are not walked. Every returned array
 * is a view into `bytes`.
 *
 * Throws {@linkcode MalformedPacketError} with reason `"truncated_ipv6_header"` (fewer than 40
 * bytes), `"bad_ipv6_version"` (not 6) or `"truncated_ipv6_packet"` (the payload length runs
 * beyond the end of `bytes`).
 *
 * @example
 * ```ts
 * import { decodeIpv6, formatIpv6 } from "./mod.ts";
 *
 * const packet = new Uint8Array(48);
 * packet.set([0x60, 0, 0, 0, 0, 8, 17, 1]); // payload length 8, UDP, hop limit 1
 * packet.set([0xff, 0x02], 24);
 * packet[39] = 0xfb;
 * formatIpv6(decodeIpv6(packet).dst); // "ff02::fb"
 * ```
 */
export function decodeIpv6(bytes: Uint8Array): Ipv6Packet {
  if (bytes.length < IPV6_HEADER_LEN) {
    throw new MalformedPacketError(
      "truncated_ipv6_header",
      `IPv6 packet too short: ${bytes.length} bytes, a header needs ${IPV6_HEADER_LEN}`,
    );
  }
  const version = bytes[0]! >>> 4;
  if (version !== 6) {
    throw new MalformedPacketError(
      "bad_ipv6_version",
      `IPv6 header has version "${version}", expected 6`,
    );
  }
  const payloadLength = u16(bytes, 4);
  const end = IPV6_HEADER_LEN + payloadLength;
  if (end > bytes.length) {
    throw new MalformedPacketError(
      "truncated_ipv6_packet",
      `IPv6 packet truncated: its payload length is ${payloadLength} bytes, only ${
        bytes.length - IPV6_HEADER_LEN
      } follow the header`,
    );
  }
  return {
    version: 6,
    trafficClass: ((bytes[0]! & 0x0f) << 4) | (bytes[1]! >>> 4),
    flowLabel: ((bytes[1]! & 0x0f) << 16) | u16(bytes, 2),
    payloadLength,
    nextHeader: bytes[NEXT_HEADER_OFFSET]!,
    hopLimit: bytes[HOP_LIMIT_OFFSET]!,
    src: bytes.subarray(SRC_OFFSET, SRC_OFFSET + IPV6_ADDRESS_LEN),
    dst: bytes.subarray(DST_OFFSET, DST_OFFSET + IPV6_ADDRESS_LEN),
    payload: bytes.subarray(IPV6_HEADER_LEN, end),
  };
}

/** The unspecified address `::`. Shared: never write to it; `.slice()` it first. */
export const IPV6_UNSPECIFIED: Readonly<Uint8Array<ArrayBuffer>> = new Uint8Array(IPV6_ADDRESS_LEN);
/** The link-local all-nodes group `ff02::1`. Shared: never write to it; `.slice()` it first. */
export const IPV6_ALL_NODES: Readonly<Uint8Array<ArrayBuffer>> = parseIpv6("ff02::1");
/** The link-local all-routers group `ff02::2`. Shared: never write to it; `.slice()` it first. */
export const IPV6_ALL_ROUTERS: Readonly<Uint8Array<ArrayBuffer>> = parseIpv6("ff02::2");

/** Whether the address at `offset` is the unspecified address `::` (a DAD or RS source). */
export function isIpv6Unspecified(bytes: Uint8Array, offset = 0): boolean {
  checkAddressAt(bytes, offset);
  for (let i = offset; i < offset + IPV6_ADDRESS_LEN; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Whether the address at `offset` is link-local unicast: in fe80::/10. */
export function isIpv6LinkLocal(bytes: Uint8Array, offset = 0): boolean {
  checkAddressAt(bytes, offset);
  return bytes[offset] === 0xfe && (bytes[offset + 1]! & 0xc0) === 0x80;
}

/** Whether the 16 bytes at `aOffset` in `a` equal those at `bOffset` in `b`. */
export function ipv6Equals(
  a: Uint8Array,
  aOffset: number,
  b: Uint8Array,
  bOffset: number,
): boolean {
  checkAddressAt(a, aOffset);
  checkAddressAt(b, bOffset);
  for (let i = 0; i < IPV6_ADDRESS_LEN; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

/**
 * The solicited-node multicast group of the address at `offset` (RFC 4291 section 2.7.1):
 * `ff02::1:ff00:0/104` followed by the address's low 24 bits, as 16 new bytes. Neighbor
 * Solicitations for an address go there.
 *
 * @example
 * ```ts
 * import { formatIpv6, parseIpv6, solicitedNodeMulticast } from "./ipv6.ts";
 *
 * formatIpv6(solicitedNodeMulticast(parseIpv6("2001:db8::12:3456"))); // "ff02::1:ff12:3456"
 * ```
 */
export function solicitedNodeMulticast(address: Uint8Array, offset = 0): Uint8Array<ArrayBuffer> {
  checkAddressAt(address, offset);
  const group = new Uint8Array(IPV6_ADDRESS_LEN);
  group.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff]);
  group.set(address.subarray(offset + 13, offset + IPV6_ADDRESS_LEN), 13);
  return group;
}

/**
 * The link-local address a host forms from its MAC (RFC 4291 appendix A, RFC 4862): `fe80::/64`
 * followed by the modified EUI-64 interface identifier (the MAC with `ff:fe` in the middle and
 * the universal/local bit inverted), as 16 new bytes. Throws a `RangeError` for a MAC that is not
 * 6 bytes.
 *
 * @example
 * ```ts
 * import { formatIpv6, linkLocalFromMac, parseMac } from "./mod.ts";
 *
 * formatIpv6(linkLocalFromMac(parseMac("52:54:00:12:34:01"))); // "fe80::5054:ff:fe12:3401"
 * ```
 */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array<ArrayBuffer> {
  if (mac.length !== MAC_LEN) {
    throw new RangeError(`Invalid MAC address: expected ${MAC_LEN} bytes, got ${mac.length}`);
  }
  const address = new Uint8Array(IPV6_ADDRESS_LEN);
  address[0] = 0xfe;
  address[1] = 0x80;
  address[8] = mac[0]! ^ 0x02;
  address.set(mac.subarray(1, 3), 9);
  address[11] = 0xff;
  address[12] = 0xfe;
  address.set(mac.subarray(3, 6), 13);
  return address;
}
