/**
 * ICMPv4 on a vnet NIC: the gateway answers pings to its address ({@linkcode respondIcmpv4Echo}),
 * and sends the errors a router must send for the packets it cannot forward
 * ({@linkcode icmpv4ErrorFor}: destination unreachable, TTL exceeded, fragmentation needed),
 * never about packets RFC 1812 section 4.3.2.7 forbids it to, and no faster than a token bucket
 * per NIC allows (RFC 1812 section 4.3.2.8).
 *
 * @example Ping the gateway
 * ```ts
 * import { respondIcmpv4Echo } from "./icmpv4.ts";
 * import { createIpv4NicView } from "./nic_view.ts";
 * import { createIcmpEchoRequest, parseIpv4, parseMac } from "../../packet/mod.ts";
 *
 * const guestMac = parseMac("52:54:00:12:34:01");
 * const view = createIpv4NicView({ guestMac, guestIpv4: parseIpv4("10.0.0.5") });
 * const ping = createIcmpEchoRequest({
 *   srcMac: guestMac,
 *   dstMac: view.gatewayMac,
 *   src: parseIpv4("10.0.0.5"),
 *   dst: view.gatewayIpv4,
 *   identifier: 1,
 *   sequence: 1,
 * });
 * respondIcmpv4Echo(view, ping)?.reason; // "icmpv4_echo_reply"
 * ```
 *
 * @module
 */

import { TokenBucket } from "../../l2/token_bucket.ts";
import {
  createIcmpDestinationUnreachable,
  createIcmpEchoReply,
  createIcmpTimeExceeded,
  decodeIcmpv4Frame,
  ETH_HEADER_LEN,
  ethernetHeaderLengthAt,
  ICMPV4_DEFAULT_TTL,
  icmpv4ErrorForbidden,
  Icmpv4Type,
  isIcmpv4Frame,
  isMalformed,
  macEquals,
  UnreachableCode,
} from "../../packet/mod.ts";
import { ipv4At, type Ipv4NicView, type ResponderResult, silentResult } from "./nic_view.ts";

/** Offset of the destination address in the IPv4 header. */
const IP_DST = 16;
/** Offset of the source address in the IPv4 header. */
const IP_SRC = 12;

const VLAN_TAGGED = silentResult("icmpv4", "icmpv4_vlan_tagged");
const FOREIGN_MAC = silentResult("icmpv4", "icmpv4_foreign_mac", "ignored");
const NOT_FOR_GATEWAY_MAC = silentResult("icmpv4", "icmpv4_not_for_gateway_mac");
const MALFORMED = silentResult("icmpv4", "icmpv4_malformed");
const BAD_SOURCE = silentResult("icmpv4", "icmpv4_bad_source");
const NOT_ECHO_REQUEST = silentResult("icmpv4", "icmpv4_not_echo_request");

/**
 * Answers an echo request to the gateway address with an echo reply: the same identifier,
 * sequence number and data, from the gateway to the requester at the guest's MAC, TTL 64.
 * `undefined` for a frame that is not ICMPv4 to the gateway address (an echo request to any
 * other address is the routing's business). Other ICMP to the gateway, frames from another MAC
 * and frames with bad checksums are counted and not answered. Never throws on the frame's bytes.
 */
export function respondIcmpv4Echo(
  view: Ipv4NicView,
  frame: Uint8Array,
): ResponderResult | undefined {
  if (!isIcmpv4Frame(frame)) return undefined;
  const ipOffset = ethernetHeaderLengthAt(frame);
  if (!ipv4At(frame, ipOffset + IP_DST, view.gatewayIpv4)) return undefined;
  if (ipOffset !== ETH_HEADER_LEN) return VLAN_TAGGED;
  if (!macEquals(frame, 6, view.guestMac, 0)) return FOREIGN_MAC;
  if (!macEquals(frame, 0, view.gatewayMac, 0)) return NOT_FOR_GATEWAY_MAC;
  const source = frame[ipOffset + IP_SRC]!;
  // No single host to answer at 0.0.0.0, 127/8, multicast or class E (RFC 1122 3.2.2.6).
  if (source === 0 || source === 127 || source >= 224) return BAD_SOURCE;
  if (frame[ipOffset + (frame[ipOffset]! & 0x0f) * 4] !== Icmpv4Type.ECHO_REQUEST) {
    return NOT_ECHO_REQUEST;
  }
  const decoded = decodeIcmpv4Frame(frame);
  if (isMalformed(decoded) || decoded.icmp.kind !== "echo") return MALFORMED;
  const { ip, icmp } = decoded;
  const reply = createIcmpEchoReply({
    srcMac: view.gatewayMac,
    dstMac: view.guestMac,
    src: view.gatewayIpv4,
    dst: ip.src,
    ttl: ICMPV4_DEFAULT_TTL,
    identifier: icmp.identifier,
    sequence: icmp.sequence,
    data: icmp.data,
  });
  return { frames: [reply], reason: "icmpv4_echo_reply" };
}

/** Why the router cannot forward a packet, as the daemon's routing says it. */
export type Icmpv4ErrorVerdict = "unreachable" | "ttl_exceeded" | "too_big";

/** Errors per second a NIC may send unless told otherwise. */
export const DEFAULT_ICMPV4_ERROR_RATE = 10;
/** Errors a NIC may send in a burst unless told otherwise: a traceroute's three probes, twice. */
export const DEFAULT_ICMPV4_ERROR_BURST = 6;

/** How an {@linkcode Icmpv4ErrorLimiter} limits. */
export interface Icmpv4ErrorLimit {
  /** Errors per second (default {@linkcode DEFAULT_ICMPV4_ERROR_RATE}). */
  ratePerSecond?: number;
  /** Errors in a burst (default {@linkcode DEFAULT_ICMPV4_ERROR_BURST}). */
  burst?: number;
}

/** The rate limit of one NIC's ICMPv4 errors (a token bucket); the daemon keeps one per NIC. */
export class Icmpv4ErrorLimiter {
  readonly #bucket: TokenBucket;

  /**
   * Starts full at time `now` (ms, monotonic). Throws a `RangeError` for a negative rate or
   * burst.
   */
  constructor(now: number, limit: Icmpv4ErrorLimit = {}) {
    const rate = limit.ratePerSecond ?? DEFAULT_ICMPV4_ERROR_RATE;
    this.#bucket = new TokenBucket(rate, limit.burst ?? DEFAULT_ICMPV4_ERROR_BURST, now);
  }

  /** Takes the token for one error at `now` (ms), or says there is none. */
  take(now: number): boolean {
    return this.#bucket.take(1, now);
  }
}

/** Details of an error beyond its verdict. */
export interface Icmpv4ErrorDetails {
  /** The unreachable code (default {@linkcode UnreachableCode.NET}: no route, RFC 1812 4.3.3.1). */
  unreachableCode?: number;
  /** The next-hop MTU of a `too_big` error (default the NIC's MTU). */
  nextHopMtu?: number;
}

const RATE_LIMITED = silentResult("icmpv4", "icmpv4_error_rate_limited");
const FORBIDDEN: Readonly<Record<string, ResponderResult>> = Object.fromEntries(
  ["icmp_error", "fragment", "multicast_destination", "broadcast_destination", "bad_source"].map(
    (why) => [why, silentResult("icmpv4", `icmpv4_error_forbidden_${why}`)],
  ),
);
const FORBIDDEN_MALFORMED = silentResult("icmpv4", "icmpv4_error_forbidden_malformed");
const REASONS: Readonly<Record<Icmpv4ErrorVerdict, string>> = {
  "unreachable": "icmpv4_error_unreachable",
  "ttl_exceeded": "icmpv4_error_ttl_exceeded",
  "too_big": "icmpv4_error_too_big",
};

/**
 * The ICMPv4 error about `packet` (an IPv4 packet from its header on, as the guest sent it on
 * this NIC) for `verdict`: from the gateway address and MAC to the packet's source at the
 * guest's MAC, quoting as much of the packet as keeps the error within 576 bytes (RFC 1812
 * section 4.3.2.3). Nothing is sent, and the result says why, when RFC 1812 section 4.3.2.7
 * forbids an error about this packet (see `icmpv4ErrorForbidden`) or `limiter` holds no token at
 * `now` (ms, monotonic); a refusal spends no token. Never throws on the packet's bytes.
 */
export function icmpv4ErrorFor(
  view: Ipv4NicView,
  limiter: Icmpv4ErrorLimiter,
  verdict: Icmpv4ErrorVerdict,
  packet: Uint8Array,
  now: number,
  details: Icmpv4ErrorDetails = {},
): ResponderResult {
  const why = icmpv4ErrorForbidden(packet);
  if (why !== undefined) return FORBIDDEN[why] ?? FORBIDDEN_MALFORMED;
  if (!limiter.take(now)) return RATE_LIMITED;
  const common = {
    srcMac: view.gatewayMac,
    dstMac: view.guestMac,
    src: view.gatewayIpv4,
    invoking: packet,
    quote: "rfc1812",
  } as const;
  const frame = verdict === "ttl_exceeded"
    ? createIcmpTimeExceeded(common)
    : createIcmpDestinationUnreachable({
      ...common,
      code: verdict === "too_big"
        ? UnreachableCode.FRAGMENTATION_NEEDED
        : details.unreachableCode ?? UnreachableCode.NET,
      nextHopMtu: verdict === "too_big" ? details.nextHopMtu ?? view.mtu : 0,
    });
  return { frames: [frame], reason: REASONS[verdict] };
}
