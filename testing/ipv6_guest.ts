/**
 * A guest and its gateway on one link, as the IPv6 packet tests address them, and the frames
 * several of those tests build alike.
 *
 * @module
 */

import {
  createIcmpv6EchoRequest,
  createNeighborAdvertisement,
  linkLocalFromMac,
  type NdOption,
  parseIpv6,
  parseMac,
} from "../lib/packet/mod.ts";

/** The guest's MAC. */
export const GUEST_MAC: Uint8Array<ArrayBuffer> = parseMac("52:54:00:12:34:01");
/** The gateway's MAC, as netkit vnet's `linklocal` profile has it. */
export const GATEWAY_MAC: Uint8Array<ArrayBuffer> = parseMac("02:00:00:00:00:01");
/** The gateway's link-local address. */
export const GATEWAY: Uint8Array<ArrayBuffer> = parseIpv6("fe80::1");
/** The guest's EUI-64 link-local address, fe80::5054:ff:fe12:3401. */
export const GUEST: Uint8Array<ArrayBuffer> = linkLocalFromMac(GUEST_MAC);

/**
 * The options of a SLAAC Router Advertisement after the SLLAO: MTU 1500, the on-link autonomous
 * prefix 2001:db8:1::/64 (valid 86400 s, preferred 14400 s), and two RDNSS servers for 600 s.
 */
export function slaacOptions(): NdOption[] {
  return [
    { kind: "mtu", mtu: 1500 },
    {
      kind: "prefix_information",
      prefix: parseIpv6("2001:db8:1::"),
      prefixLength: 64,
      onLink: true,
      autonomous: true,
      validLifetime: 86400,
      preferredLifetime: 14400,
    },
    {
      kind: "rdnss",
      lifetime: 600,
      servers: [parseIpv6("2001:db8::53"), parseIpv6("2001:db8::54")],
    },
  ];
}

/**
 * An IPv6 packet (no Ethernet header) too big to quote whole in an ICMPv6 error: a 1400-byte
 * echo request from 2001:db8::5 to 2001:db8:2::9 with hop limit 1, its data filled with `fill`.
 */
export function oversizedPacket(fill = 0): Uint8Array<ArrayBuffer> {
  return createIcmpv6EchoRequest({
    srcMac: GUEST_MAC,
    dstMac: GATEWAY_MAC,
    src: parseIpv6("2001:db8::5"),
    dst: parseIpv6("2001:db8:2::9"),
    identifier: 1,
    sequence: 1,
    data: new Uint8Array(1400).fill(fill),
    hopLimit: 1,
  }).slice(14);
}

/** The gateway's answer to the guest's solicitation for fe80::1: R, S and O set, with TLLAO. */
export function gatewayNeighborAdvertisement(): Uint8Array<ArrayBuffer> {
  return createNeighborAdvertisement({
    srcMac: GATEWAY_MAC,
    dstMac: GUEST_MAC,
    src: GATEWAY,
    dst: GUEST,
    router: true,
    solicited: true,
  });
}

/** The guest's ping of the gateway: identifier 0x1234, sequence 7, 56 zero bytes of data. */
export function guestEchoRequest(): Uint8Array<ArrayBuffer> {
  return createIcmpv6EchoRequest({
    srcMac: GUEST_MAC,
    dstMac: GATEWAY_MAC,
    dst: GATEWAY,
    identifier: 0x1234,
    sequence: 7,
    data: new Uint8Array(56),
  });
}
