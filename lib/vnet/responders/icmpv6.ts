/**
 * ICMPv6 for `netkit vnet`: the gateway's echo replies (`ping -6 fe80::1`), and the IPv6 half of
 * the {@linkcode IcmpErrorSender}: Destination Unreachable, Time Exceeded and Packet Too Big for
 * packets a guest sent that could not be forwarded (RFC 4443).
 *
 * An Echo Request to a gateway address is answered from that address (from fe80::1 when it was
 * sent to a multicast group), hop limit 64, to the sender's address and MAC. Other messages to
 * the gateway are not answered.
 *
 * Errors honour RFC 4443 §2.4 (e): none about an ICMPv6 error or a Redirect, about a packet to
 * a multicast address or in a link-layer multicast or broadcast frame (Packet Too Big excepted),
 * or about one whose source is not a single node (`::`, multicast). They are rate-limited per
 * NIC by a token bucket (§2.4 (f)): {@linkcode ICMPV6_ERROR_RATE}. An error is sent from the
 * gateway's address in the guest's prefix (`lan`) when the packet came from a global address,
 * else from fe80::1, and quotes as much of the packet as fits in 1280 bytes.
 *
 * @module
 */

import { isMalformed } from "../../packet/errors.ts";
import { Icmpv6Type } from "../../packet/icmpv6.ts";
import {
  createIcmpv6EchoReply,
  createIcmpv6Error,
  decodeIcmpv6Frame,
} from "../../packet/icmpv6_frame.ts";
import {
  IPV6_HEADER_LEN,
  isIpv6LinkLocal,
  isIpv6Multicast,
  isIpv6Unspecified,
} from "../../packet/ipv6.ts";
import { TokenBucket } from "../../l2/token_bucket.ts";
import type { NicConfig } from "../config.ts";
import type { IcmpErrorSender, Responder } from "../dataplane.ts";
import type { Decision } from "../routing.ts";
import { bytesEqual } from "../../packet/bytes.ts";

const ETH = 14;

/** RFC 4443 §2.4 (f): ICMPv6 errors per NIC, per second and in a burst. */
export const ICMPV6_ERROR_RATE = { perSecond: 10, burst: 10 } as const;

/** Whether `address` is one of `nic`'s gateway addresses: fe80::1 or, in `lan`, the gateway. */
export function isGatewayAddress6(nic: NicConfig, address: Uint8Array): boolean {
  return bytesEqual(address, nic.gateway6LinkLocal) ||
    (nic.ipv6 !== null && bytesEqual(address, nic.ipv6.gateway));
}

/** Why a frame handed to the ICMPv6 responder was not answered. */
export type Icmpv6DropReason = "malformed" | "not_echo" | "bad_source";

/** The ICMPv6 responder for kind `"icmp6"`: echo replies (see the module doc). */
export class Icmpv6Responder implements Responder {
  /** Frames not answered, by reason (all NICs). */
  readonly drops: Record<Icmpv6DropReason, number> = { malformed: 0, not_echo: 0, bad_source: 0 };

  /** The echo reply to an echo request to a gateway address; nothing for anything else. */
  handle(nic: NicConfig, frame: Uint8Array): readonly Uint8Array[] {
    const decoded = decodeIcmpv6Frame(frame);
    if (isMalformed(decoded)) {
      this.drops.malformed++;
      return [];
    }
    const { ip, icmpv6: message } = decoded;
    if (message.kind !== "echo_request") {
      this.drops.not_echo++;
      return [];
    }
    if (isIpv6Unspecified(ip.src) || isIpv6Multicast(ip.src)) {
      this.drops.bad_source++;
      return [];
    }
    const multicast = isIpv6Multicast(ip.dst);
    if (!multicast && !isGatewayAddress6(nic, ip.dst)) {
      this.drops.not_echo++;
      return [];
    }
    return [createIcmpv6EchoReply({
      srcMac: nic.gatewayMac,
      dstMac: frame.subarray(6, 12),
      src: multicast ? nic.gateway6LinkLocal : ip.dst,
      dst: ip.src,
      identifier: message.identifier,
      sequence: message.sequence,
      data: message.data,
      hopLimit: 64,
    })];
  }
}

/**
 * Whether RFC 4443 §2.4 (e) allows an error about the IPv6 packet in `frame` (Ethernet, at least
 * the 40-byte header): `tooBig` is the Packet Too Big exception for multicast.
 */
function errorAllowed(frame: Uint8Array, length: number, tooBig: boolean): boolean {
  const ip = ETH;
  const src = frame.subarray(ip + 8, ip + 24);
  if (isIpv6Unspecified(src) || isIpv6Multicast(src)) return false;
  if (!tooBig && ((frame[0]! & 1) !== 0 || isIpv6Multicast(frame, ip + 24))) return false;
  if (frame[ip + 6] === 58) {
    const l4 = ip + IPV6_HEADER_LEN;
    if (length <= l4) return false; // too short to tell: not an error about an error
    const type = frame[l4]!;
    if (type < 128 || type === Icmpv6Type.REDIRECT) return false;
  }
  return true;
}

/**
 * The IPv6 half of an {@linkcode IcmpErrorSender} (see the module doc): `error` answers only
 * IPv6 frames. Combine it with the IPv4 one by IP version (lib/vnet/responders/mod.ts).
 */
export class Icmpv6ErrorSender implements IcmpErrorSender {
  /** Per NIC (a reconfigured NIC is a new object and starts a new bucket). */
  readonly #buckets = new WeakMap<NicConfig, TokenBucket>();
  /** Errors not sent: forbidden by §2.4 (e), or over the rate limit. */
  readonly suppressed: { forbidden: number; rate_limited: number } = {
    forbidden: 0,
    rate_limited: 0,
  };

  /** The error frame for `decision` about the guest's IPv6 `frame`, or none. */
  error(nic: NicConfig, frame: Uint8Array, decision: Decision, now: number): readonly Uint8Array[] {
    if (frame.length < ETH + IPV6_HEADER_LEN || frame[ETH]! >> 4 !== 6) return [];
    const kind = decision.verdict === "unreachable"
      ? "destination_unreachable"
      : decision.verdict === "ttl_exceeded"
      ? "time_exceeded"
      : decision.verdict === "too_big"
      ? "packet_too_big"
      : null;
    if (kind === null) return [];
    const length = Math.min(
      frame.length,
      ETH + IPV6_HEADER_LEN + ((frame[ETH + 4]! << 8) | frame[ETH + 5]!),
    );
    if (!errorAllowed(frame, length, kind === "packet_too_big")) {
      this.suppressed.forbidden++;
      return [];
    }
    let bucket = this.#buckets.get(nic);
    if (bucket === undefined) {
      bucket = new TokenBucket(ICMPV6_ERROR_RATE.perSecond, ICMPV6_ERROR_RATE.burst, now);
      this.#buckets.set(nic, bucket);
    }
    if (!bucket.take(1, now)) {
      this.suppressed.rate_limited++;
      return [];
    }
    const invoking = frame.subarray(ETH, length);
    const fromGlobal = !isIpv6LinkLocal(invoking, 8);
    return [createIcmpv6Error({
      srcMac: nic.gatewayMac,
      dstMac: frame.subarray(6, 12),
      src: fromGlobal && nic.ipv6 !== null && nic.profile === "lan"
        ? nic.ipv6.gateway
        : nic.gateway6LinkLocal,
      kind,
      // Unreachable: code 0, no route to destination; time exceeded: code 0, hop limit.
      code: 0,
      parameter: kind === "packet_too_big" ? decision.mtu : 0,
      invoking,
    })];
  }
}
