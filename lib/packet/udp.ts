/**
 * UDP datagrams (RFC 768) over IPv4 and IPv6, with the checksum over the pseudo header of either
 * (RFC 768, RFC 8200 section 8.1). Whether a pair of addresses is IPv4 or IPv6 follows from their
 * length: 4 or 16 bytes.
 *
 * Datagrams here start at the UDP header, as in an IP packet's payload. Decoding returns a view
 * into the datagram (no copies).
 *
 * @example Send and receive a datagram over IPv6
 * ```ts
 * import { decodeUdp, encodeUdp, parseIpv6 } from "./mod.ts";
 *
 * const src = parseIpv6("2001:db8::1");
 * const dst = parseIpv6("ff0e::1:2:3");
 * const datagram = encodeUdp({
 *   srcPort: 40000,
 *   dstPort: 5000,
 *   payload: new TextEncoder().encode("hello"),
 *   src,
 *   dst,
 * });
 * const udp = decodeUdp(datagram, { src, dst }); // verifies the checksum
 * new TextDecoder().decode(udp.payload); // "hello"
 * ```
 *
 * @module
 */

import {
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  onesComplementSum,
} from "./checksum.ts";
import { MalformedPacketError } from "./errors.ts";
import { IpProtocol, IPV4_ADDRESS_LEN } from "./ipv4.ts";
import { IPV6_ADDRESS_LEN } from "./ipv6.ts";

/** Length of the UDP header. */
export const UDP_HEADER_LEN = 8;
/** Largest UDP length (header and payload) the 16-bit length field can state. */
export const UDP_MAX_LEN = 0xffff;

/**
 * The IP addresses a UDP checksum covers: both 4 bytes (IPv4) or both 16 bytes (IPv6). The
 * fields of a decoded `Ipv4Packet` or `Ipv6Packet` fit as they are.
 */
export interface UdpAddresses {
  /** Source IP address. */
  src: Uint8Array;
  /** Destination IP address. */
  dst: Uint8Array;
}

/** A decoded UDP datagram. `payload` is a view into the datagram. */
export interface UdpDatagram {
  /** Source port. */
  srcPort: number;
  /** Destination port. */
  dstPort: number;
  /** The length field: header and payload, 8..65535. */
  length: number;
  /** The checksum field as found on the wire; 0 means none (IPv4 only). */
  checksum: number;
  /** The `length - 8` bytes after the header; bytes past `length` are excluded. */
  payload: Uint8Array;
}

/** What {@linkcode encodeUdp} builds a datagram from. */
export interface UdpDatagramInit extends UdpAddresses {
  /** Source port, 0..65535. */
  srcPort: number;
  /** Destination port, 0..65535. */
  dstPort: number;
  /** Bytes after the header; at most 65527. */
  payload: Uint8Array;
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new RangeError(`Invalid UDP ${what} port "${port}": expected an integer from 0 to 65535`);
  }
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, "0")}`;
}

/** Throws unless both addresses are IPv4 or both are IPv6; returns whether they are IPv4. */
function checkAddresses({ src, dst }: UdpAddresses): boolean {
  const ipv4 = src.length === IPV4_ADDRESS_LEN && dst.length === IPV4_ADDRESS_LEN;
  if (!ipv4 && (src.length !== IPV6_ADDRESS_LEN || dst.length !== IPV6_ADDRESS_LEN)) {
    throw new RangeError(
      `Invalid UDP pseudo header addresses: expected two 4-byte (IPv4) or two 16-byte (IPv6) addresses, got ${src.length} and ${dst.length} bytes`,
    );
  }
  return ipv4;
}

/** The unfolded pseudo header sum for a UDP datagram of `length` bytes. */
function pseudoHeaderSum(addresses: UdpAddresses, ipv4: boolean, length: number): number {
  const { src, dst } = addresses;
  return ipv4
    ? ipv4PseudoHeaderSum(src, dst, IpProtocol.UDP, length)
    : ipv6PseudoHeaderSum(src, dst, IpProtocol.UDP, length);
}

/**
 * The checksum to send for `datagram[0..length)` with its checksum field left out: a computed 0
 * becomes 0xffff, since 0 on the wire means "no checksum".
 */
function computeChecksum(datagram: Uint8Array, length: number, pseudo: number): number {
  // Ports and length (bytes 0..6), then everything after the checksum field (8..length).
  const header = onesComplementSum(datagram, 0, 6, pseudo);
  return internetChecksum(datagram, UDP_HEADER_LEN, length, header) || 0xffff;
}

/** Throws `"bad_udp_checksum"` unless the checksum of `bytes[0..length)` is right or allowed. */
function verifyChecksum(
  bytes: Uint8Array,
  length: number,
  addresses: UdpAddresses,
  ipv4: boolean,
): void {
  const checksum = (bytes[6]! << 8) | bytes[7]!;
  if (checksum === 0) {
    if (ipv4) return;
    throw new MalformedPacketError(
      "bad_udp_checksum",
      "UDP checksum is 0x0000 (none), which IPv6 does not allow",
    );
  }
  const pseudo = pseudoHeaderSum(addresses, ipv4, length);
  if (internetChecksum(bytes, 0, length, pseudo) !== 0) {
    throw new MalformedPacketError(
      "bad_udp_checksum",
      `UDP checksum is ${hex16(checksum)}, expected ${
        hex16(computeChecksum(bytes, length, pseudo))
      }`,
    );
  }
}

/**
 * Builds a new UDP datagram with the checksum computed over the IPv4 or IPv6 pseudo header of
 * `src` and `dst` (both 4 or both 16 bytes). A computed checksum of 0 is sent as 0xffff, so the
 * datagram always carries one (mandatory over IPv6). Throws a `RangeError` for a port outside
 * 0..65535, addresses that are not both IPv4 or both IPv6, or a payload longer than 65527 bytes.
 *
 * @example
 * ```ts
 * import { encodeIpv4, encodeUdp, IpProtocol, parseIpv4 } from "./mod.ts";
 *
 * const src = parseIpv4("192.0.2.1");
 * const dst = parseIpv4("239.10.20.30");
 * const payload = new Uint8Array(4);
 * const datagram = encodeUdp({ srcPort: 40000, dstPort: 5000, payload, src, dst });
 * const packet = encodeIpv4({ src, dst, protocol: IpProtocol.UDP, ttl: 8, payload: datagram });
 * packet.length; // 32
 * ```
 */
export function encodeUdp(init: UdpDatagramInit): Uint8Array<ArrayBuffer> {
  const { srcPort, dstPort, payload } = init;
  checkPort(srcPort, "source");
  checkPort(dstPort, "destination");
  const ipv4 = checkAddresses(init);
  const length = UDP_HEADER_LEN + payload.length;
  if (length > UDP_MAX_LEN) {
    throw new RangeError(
      `UDP payload of ${payload.length} bytes is too long: at most ${
        UDP_MAX_LEN - UDP_HEADER_LEN
      } fit after the ${UDP_HEADER_LEN}-byte header`,
    );
  }
  const datagram = new Uint8Array(length);
  datagram[0] = srcPort >>> 8;
  datagram[1] = srcPort & 0xff;
  datagram[2] = dstPort >>> 8;
  datagram[3] = dstPort & 0xff;
  datagram[4] = length >>> 8;
  datagram[5] = length & 0xff;
  datagram.set(payload, UDP_HEADER_LEN);
  const checksum = computeChecksum(datagram, length, pseudoHeaderSum(init, ipv4, length));
  datagram[6] = checksum >>> 8;
  datagram[7] = checksum & 0xff;
  return datagram;
}

/**
 * Decodes a UDP datagram that starts at `bytes[0]`; bytes past its length field are ignored.
 * With `addresses` (the IP source and destination, both 4 or both 16 bytes) the checksum is
 * verified too: over IPv4 a checksum field of 0 means none was sent and is accepted, over IPv6 it
 * is an error. Without them the checksum is not checked. `payload` is a view into `bytes`.
 *
 * Throws {@linkcode MalformedPacketError} with reason `"truncated_udp_header"` (fewer than 8
 * bytes), `"bad_udp_length"` (length field below 8), `"truncated_udp_datagram"` (length field
 * beyond the end of `bytes`) or `"bad_udp_checksum"`; and a `RangeError` for `addresses` that are
 * not both IPv4 or both IPv6.
 *
 * @example Decode the UDP datagram in an IPv4 packet
 * ```ts
 * import { decodeIpv4, decodeUdp, encodeIpv4, encodeUdp, IpProtocol, parseIpv4 } from "./mod.ts";
 *
 * const src = parseIpv4("192.0.2.1");
 * const dst = parseIpv4("192.0.2.2");
 * const payload = new Uint8Array(12);
 * const datagram = encodeUdp({ srcPort: 53, dstPort: 40000, payload, src, dst });
 * const packet = encodeIpv4({ src, dst, protocol: IpProtocol.UDP, ttl: 64, payload: datagram });
 * const ip = decodeIpv4(packet);
 * decodeUdp(ip.payload, ip).srcPort; // 53 (the checksum is verified against ip.src and ip.dst)
 * ```
 */
export function decodeUdp(bytes: Uint8Array, addresses?: UdpAddresses): UdpDatagram {
  const ipv4 = addresses === undefined ? undefined : checkAddresses(addresses);
  if (bytes.length < UDP_HEADER_LEN) {
    throw new MalformedPacketError(
      "truncated_udp_header",
      `UDP datagram too short: ${bytes.length} bytes, a header needs ${UDP_HEADER_LEN}`,
    );
  }
  const length = (bytes[4]! << 8) | bytes[5]!;
  if (length < UDP_HEADER_LEN) {
    throw new MalformedPacketError(
      "bad_udp_length",
      `UDP length field is "${length}": it must be at least ${UDP_HEADER_LEN}, the header's length`,
    );
  }
  if (length > bytes.length) {
    throw new MalformedPacketError(
      "truncated_udp_datagram",
      `UDP datagram truncated: its length field says ${length} bytes, only ${bytes.length} are present`,
    );
  }
  if (addresses !== undefined) verifyChecksum(bytes, length, addresses, ipv4 === true);
  return {
    srcPort: (bytes[0]! << 8) | bytes[1]!,
    dstPort: (bytes[2]! << 8) | bytes[3]!,
    length,
    checksum: (bytes[6]! << 8) | bytes[7]!,
    payload: bytes.subarray(UDP_HEADER_LEN, length),
  };
}
