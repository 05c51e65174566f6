/**
 * Frames for the `netkit vnet` tests: IPv4 and IPv6 packets between guests, in Ethernet, built
 * with lib/packet's encoders.
 *
 * @module
 */

import { encodeEthernet, EtherType } from "../lib/packet/ethernet.ts";
import { encodeIpv4, parseIpv4 } from "../lib/packet/ipv4.ts";
import { encodeIpv6, parseIpv6 } from "../lib/packet/ipv6.ts";
import { parseMac } from "../lib/packet/mac.ts";

/** The gateway's MAC in every profile. */
export const GATEWAY = "02:00:00:00:00:01";

/** An Ethernet frame carrying an IPv4 packet (ICMP by default; padded to 60 bytes). */
export function ipv4Frame(options: {
  srcMac: string;
  dstMac?: string;
  src: string;
  dst: string;
  ttl?: number;
  protocol?: number;
  payload?: Uint8Array;
  dontFragment?: boolean;
}): Uint8Array {
  return encodeEthernet({
    dst: parseMac(options.dstMac ?? GATEWAY),
    src: parseMac(options.srcMac),
    etherType: EtherType.IPV4,
    payload: encodeIpv4({
      src: parseIpv4(options.src),
      dst: parseIpv4(options.dst),
      protocol: options.protocol ?? 1,
      ttl: options.ttl ?? 64,
      payload: options.payload ?? new Uint8Array([8, 0, 0xf7, 0xff, 0, 0, 0, 0]),
      ...(options.dontFragment ? { dontFragment: true } : {}),
    }),
  });
}

/** An Ethernet frame carrying an IPv6 packet (ICMPv6 echo request by default). */
export function ipv6Frame(options: {
  srcMac: string;
  dstMac?: string;
  src: string;
  dst: string;
  hopLimit?: number;
  nextHeader?: number;
  payload?: Uint8Array;
}): Uint8Array {
  return encodeEthernet({
    dst: parseMac(options.dstMac ?? GATEWAY),
    src: parseMac(options.srcMac),
    etherType: EtherType.IPV6,
    payload: encodeIpv6({
      src: parseIpv6(options.src),
      dst: parseIpv6(options.dst),
      nextHeader: options.nextHeader ?? 58,
      hopLimit: options.hopLimit ?? 64,
      payload: options.payload ?? new Uint8Array([128, 0, 0, 0, 0, 1, 0, 1]),
    }),
  });
}
