/**
 * Pure packet codecs: bytes to typed objects and back, with no I/O (except
 * {@linkcode PcapWriter}, which writes capture files).
 *
 * @example
 * ```ts
 * import { decodeEthernet, encodeEthernet, EtherType, formatMac, parseMac } from "./mod.ts";
 *
 * const frame = encodeEthernet({
 *   dst: parseMac("01:80:c2:00:00:02"),
 *   src: parseMac("02:00:00:00:00:01"),
 *   etherType: EtherType.SLOW_PROTOCOLS,
 *   payload: new Uint8Array(110),
 * });
 * formatMac(decodeEthernet(frame).dst); // "01:80:c2:00:00:02"
 * ```
 *
 * @module
 */

export * from "./checksum.ts";
export * from "./errors.ts";
export * from "./ethernet.ts";
export * from "./ipv4.ts";
export * from "./ipv6.ts";
export * from "./lacp.ts";
export * from "./lsoe.ts";
export * from "./mac.ts";
export * from "./pcap.ts";
export * from "./udp.ts";
export * from "./udp_frame.ts";
export * from "./arp.ts";
export * from "./icmpv4.ts";
export * from "./dhcpv4.ts";
export * from "./dhcpv6.ts";
export * from "./dhcpv6_frame.ts";
export * from "./duid.ts";
export * from "./icmpv6.ts";
export * from "./icmpv6_frame.ts";
export * from "./ipv6_frame.ts";
export * from "./nd_options.ts";
export * from "./tagged.ts";
