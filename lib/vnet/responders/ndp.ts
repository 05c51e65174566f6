/**
 * Neighbor Discovery for `netkit vnet` (RFC 4861): the gateway's side of NS/NA and RS/RA on each
 * NIC, and its periodic unsolicited Router Advertisements.
 *
 * - A Neighbor Solicitation for a gateway address (fe80::1, and in `lan` the IPv6 gateway) is
 *   answered with an advertisement with R, S and O set and the gateway's MAC as TLLAO, unicast to
 *   the solicitor. A Duplicate Address Detection probe (source `::`) for a gateway address is
 *   answered to ff02::1 with S clear (§7.2.4: the address is defended). Solicitations for any
 *   other address get silence, unless the `proxy` option says routing makes an answer
 *   necessary (another NIC's guest in a `lan` prefix): then a proxy advertisement (§7.2.8: R and
 *   O clear, S set) with the gateway's MAC.
 * - A Router Solicitation from an address is answered with a Router Advertisement **unicast** to
 *   it (§6.2.6 allows it; RFC 7772 recommends it); one from `::` with a multicast RA to ff02::1,
 *   which also restarts the periodic interval. Either is delayed by a random 0 to
 *   MAX_RA_DELAY_TIME (§6.2.6); multicast RAs are at least MIN_DELAY_BETWEEN_RAS apart, unicast
 *   answers at least {@linkcode MIN_DELAY_BETWEEN_UNICAST_RAS}, and one answer covers every
 *   solicitation that arrives while it is pending.
 * - Unsolicited RAs go to ff02::1 at intervals drawn uniformly between MinRtrAdvInterval and the
 *   NIC's `--ra-interval` (MaxRtrAdvInterval, §6.2.4); the first comes at once and the first
 *   MAX_INITIAL_RTR_ADVERTISEMENTS are at most MAX_INITIAL_RTR_ADVERT_INTERVAL apart. A NIC being
 *   removed gets a final RA with router lifetime 0 ({@linkcode NdpResponder.farewell}, §6.2.5).
 *
 * Every RA is from the gateway's MAC and fe80::1 with hop limit 255, carries SLLAO and MTU, a
 * Prefix Information option (L=1, A=1) for `lan --slaac`, and RDNSS (RFC 8106) when IPv6 DNS
 * servers are configured; M=1 unless the guest uses SLAAC, O=1 when there is DNS; router
 * lifetime {@linkcode ROUTER_LIFETIME_S}. A NIC without IPv6 gets no NDP at all.
 *
 * Received messages are validated as §6.1.1 and §7.1.1 say (hop limit 255, code 0, checksum,
 * option lengths, no SLLAO from `::`, DAD only to a solicited-node group); what fails is dropped
 * and counted in {@linkcode NdpResponder.drops}.
 *
 * @module
 */

import { isMalformed } from "../../packet/errors.ts";
import { ND_HOP_LIMIT } from "../../packet/icmpv6.ts";
import {
  createNeighborAdvertisement,
  createRouterAdvertisement,
  decodeIcmpv6Frame,
} from "../../packet/icmpv6_frame.ts";
import {
  IPV6_ALL_NODES,
  isIpv6Multicast,
  isIpv6Unspecified,
  solicitedNodeMulticast,
} from "../../packet/ipv6.ts";
import type { NdOption } from "../../packet/nd_options.ts";
import { findOfKind } from "../../packet/tagged.ts";
import type { NicConfig } from "../config.ts";
import type { Responder, TimedFrame } from "../dataplane.ts";
import { isGatewayAddress6 } from "./icmpv6.ts";
import { bytesEqual } from "../../packet/bytes.ts";

/** RFC 4861 §10: the most a solicited RA is delayed, ms. */
export const MAX_RA_DELAY_TIME_MS = 500;
/** RFC 4861 §10: the least time between two multicast RAs, ms. */
export const MIN_DELAY_BETWEEN_RAS_MS = 3000;
/** RFC 4861 §10: how many of the first unsolicited RAs are sent quickly. */
export const MAX_INITIAL_RTR_ADVERTISEMENTS = 3;
/** RFC 4861 §10: the longest interval between those first RAs, ms. */
export const MAX_INITIAL_RTR_ADVERT_INTERVAL_MS = 16_000;
/**
 * The least time between two unicast answers to one NIC's solicitations, ms: the RFC limits only
 * multicast RAs; this keeps a guest that floods solicitations from getting an RA for each.
 */
export const MIN_DELAY_BETWEEN_UNICAST_RAS_MS = 1000;
/** Seconds the guest may use the gateway as its default router. */
export const ROUTER_LIFETIME_S = 1800;
/** The Prefix Information option's lifetimes, s (the DHCPv6 lease's, for one picture). */
export const PREFIX_LIFETIMES_S = { preferred: 86_400, valid: 172_800 } as const;

/** Why a frame handed to the NDP responder was dropped. */
export type NdpDropReason =
  | "malformed"
  | "hop_limit"
  | "invalid"
  | "not_for_gateway"
  | "ignored";

/** When a NIC's RAs are due, and when the last ones went. */
interface NicTimers {
  nic: NicConfig;
  /** The next unsolicited (multicast) RA, ms. */
  nextUnsolicited: number;
  /** How many unsolicited RAs were sent (for the fast initial ones). */
  unsolicitedSent: number;
  /** When the last multicast RA went, ms (-Infinity: none yet). */
  lastMulticast: number;
  /** When the last unicast answer went, ms. */
  lastUnicast: number;
  /** A pending answer to solicitations: when, and to whom (null: ff02::1). */
  solicited: { at: number; to: Uint8Array | null } | null;
}

/** What {@linkcode NdpResponder} takes. */
export interface NdpOptions {
  /** A number in [0, 1) (default `Math.random`, tests set it): RA delays and intervals. */
  random?: () => number;
  /**
   * Whether the gateway answers an NS from `nic`'s guest for `target` on another node's behalf
   * because routing makes it necessary (proxy NDP, RFC 4861 §7.2.8); default never.
   */
  proxy?: (nic: NicConfig, target: Uint8Array) => boolean;
}

/** The NDP responder for kind `"ndp"` (see the module doc). */
export class NdpResponder implements Responder {
  readonly #random: () => number;
  readonly #proxy: ((nic: NicConfig, target: Uint8Array) => boolean) | undefined;
  readonly #timers = new Map<string, NicTimers>();
  /** Frames dropped, by reason (all NICs). */
  readonly drops: Record<NdpDropReason, number> = {
    malformed: 0,
    hop_limit: 0,
    invalid: 0,
    not_for_gateway: 0,
    ignored: 0,
  };

  /** A responder; `options.random` replaces `Math.random` (tests). */
  constructor(options: NdpOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.#proxy = options.proxy;
  }

  /** Answers a guest's NS or RS (see the module doc); anything else is dropped and counted. */
  handle(nic: NicConfig, frame: Uint8Array, now: number): readonly Uint8Array[] {
    const timers = this.#timers.get(nic.name);
    if (timers === undefined || nic.ipv6 === null) return this.#drop("ignored");
    const decoded = decodeIcmpv6Frame(frame);
    if (isMalformed(decoded)) return this.#drop("malformed");
    const { ip, icmpv6: message } = decoded;
    if (ip.hopLimit !== ND_HOP_LIMIT) return this.#drop("hop_limit");
    if (message.code !== 0) return this.#drop("invalid");
    const fromUnspecified = isIpv6Unspecified(ip.src);
    const sllao = message.kind === "router_solicitation" ||
        message.kind === "neighbor_solicitation"
      ? findOfKind(message.options, "source_link_address")
      : undefined;
    if (fromUnspecified && sllao !== undefined) return this.#drop("invalid");
    if (isIpv6Multicast(ip.src)) return this.#drop("invalid");
    switch (message.kind) {
      case "neighbor_solicitation": {
        if (isIpv6Multicast(message.target)) return this.#drop("invalid");
        if (fromUnspecified && !bytesEqual(ip.dst, solicitedNodeMulticast(message.target))) {
          return this.#drop("invalid");
        }
        if (!isGatewayAddress6(nic, message.target)) {
          // Proxied (§7.2.8): for a host (R clear), not overriding the target's own answer; a
          // DAD probe is never answered for another node.
          if (fromUnspecified || this.#proxy?.(nic, message.target) !== true) {
            return this.#drop("not_for_gateway");
          }
          return [createNeighborAdvertisement({
            srcMac: nic.gatewayMac,
            dstMac: frame.subarray(6, 12),
            src: message.target,
            dst: ip.src,
            target: message.target,
            router: false,
            solicited: true,
            override: false,
          })];
        }
        return [createNeighborAdvertisement({
          srcMac: nic.gatewayMac,
          dstMac: fromUnspecified ? undefined : frame.subarray(6, 12),
          src: message.target,
          dst: fromUnspecified ? IPV6_ALL_NODES : ip.src,
          target: message.target,
          router: true,
          solicited: !fromUnspecified,
          override: true,
        })];
      }
      case "router_solicitation":
        return this.#solicited(timers, fromUnspecified ? null : ip.src.slice(), now);
      default:
        // Advertisements and redirects from a guest say nothing the gateway acts on.
        return this.#drop("ignored");
    }
  }

  #drop(reason: NdpDropReason): readonly Uint8Array[] {
    this.drops[reason]++;
    return [];
  }

  /** Schedules (or, when due at once, sends) the answer to a solicitation (§6.2.6). */
  #solicited(
    timers: NicTimers,
    to: Uint8Array | null,
    now: number,
  ): readonly Uint8Array[] {
    if (timers.solicited !== null) {
      // One answer covers them all; one to ff02::1 covers a unicast one too, rate-limited.
      if (to === null && timers.solicited.to !== null) {
        timers.solicited.to = null;
        timers.solicited.at = Math.max(
          timers.solicited.at,
          timers.lastMulticast + MIN_DELAY_BETWEEN_RAS_MS,
        );
      }
      return [];
    }
    let at = now + this.#random() * MAX_RA_DELAY_TIME_MS;
    if (to === null) {
      if (at > timers.nextUnsolicited) return []; // the periodic RA comes sooner
      at = Math.max(at, timers.lastMulticast + MIN_DELAY_BETWEEN_RAS_MS);
    } else {
      at = Math.max(at, timers.lastUnicast + MIN_DELAY_BETWEEN_UNICAST_RAS_MS);
    }
    timers.solicited = { at, to };
    if (at > now) return [];
    return this.#sendSolicited(timers, now);
  }

  #sendSolicited(timers: NicTimers, now: number): Uint8Array[] {
    const to = timers.solicited!.to;
    timers.solicited = null;
    if (to === null) {
      this.#multicastSent(timers, now);
      return [routerAdvertisement(timers.nic, null)];
    }
    timers.lastUnicast = now;
    return [routerAdvertisement(timers.nic, to)];
  }

  /** Records a multicast RA at `now` and draws the next unsolicited one (§6.2.4). */
  #multicastSent(timers: NicTimers, now: number): void {
    timers.lastMulticast = now;
    timers.unsolicitedSent++;
    const maxS = timers.nic.raIntervalS;
    const minS = Math.max(3, maxS >= 9 ? 0.33 * maxS : 0.75 * maxS);
    let interval = (minS + this.#random() * (maxS - minS)) * 1000;
    if (timers.unsolicitedSent < MAX_INITIAL_RTR_ADVERTISEMENTS) {
      interval = Math.min(interval, MAX_INITIAL_RTR_ADVERT_INTERVAL_MS);
    }
    timers.nextUnsolicited = now + interval;
  }

  /** The earliest RA due on any NIC, ms, or null when no NIC has IPv6. */
  next(_now: number): number | null {
    let earliest: number | null = null;
    for (const timers of this.#timers.values()) {
      const at = Math.min(timers.nextUnsolicited, timers.solicited?.at ?? Infinity);
      if (earliest === null || at < earliest) earliest = at;
    }
    return earliest;
  }

  /** The RAs due at `now`: unsolicited ones and delayed answers. */
  tick(now: number): readonly TimedFrame[] {
    const out: TimedFrame[] = [];
    for (const timers of this.#timers.values()) {
      const name = timers.nic.name;
      if (timers.solicited !== null && timers.solicited.at <= now) {
        for (const frame of this.#sendSolicited(timers, now)) out.push({ nic: name, frame });
      }
      if (timers.nextUnsolicited <= now) {
        this.#multicastSent(timers, now);
        out.push({ nic: name, frame: routerAdvertisement(timers.nic, null) });
      }
    }
    return out;
  }

  /** Starts `nic`'s RAs afresh (the first at once) when it has IPv6. */
  nicAdded(nic: NicConfig, now: number): void {
    if (nic.ipv6 === null) {
      this.#timers.delete(nic.name);
      return;
    }
    this.#timers.set(nic.name, {
      nic,
      nextUnsolicited: now,
      unsolicitedSent: 0,
      lastMulticast: -Infinity,
      lastUnicast: -Infinity,
      solicited: null,
    });
  }

  /** Forgets `nic`. */
  nicRemoved(nic: NicConfig): void {
    this.#timers.delete(nic.name);
  }

  /**
   * The final RA for `nic`, which is about to go (router lifetime 0, RFC 4861 §6.2.5): sent
   * before its device closes so the guest stops using the gateway at once. None without IPv6.
   */
  farewell(nic: NicConfig): Uint8Array[] {
    return nic.ipv6 === null ? [] : [routerAdvertisement(nic, null, 0)];
  }
}

/** The RA for `nic`, to `to` (unicast, to the guest's MAC) or to ff02::1 when null. */
export function routerAdvertisement(
  nic: NicConfig,
  to: Uint8Array | null,
  routerLifetime: number = ROUTER_LIFETIME_S,
): Uint8Array {
  const options: NdOption[] = [{ kind: "mtu", mtu: nic.mtu }];
  if (nic.slaac && nic.ipv6 !== null && routerLifetime > 0) {
    // SLAAC needs a /64 (config.ts checks it): whole bytes.
    const prefix = nic.ipv6.address.slice();
    prefix.fill(0, nic.ipv6.prefixLength >> 3);
    options.push({
      kind: "prefix_information",
      prefix,
      prefixLength: nic.ipv6.prefixLength,
      onLink: true,
      autonomous: true,
      validLifetime: PREFIX_LIFETIMES_S.valid,
      preferredLifetime: PREFIX_LIFETIMES_S.preferred,
    });
  }
  if (nic.dns6.length > 0) {
    // RFC 8106 §5.1: at least MaxRtrAdvInterval; 3 times it, as recommended.
    options.push({ kind: "rdnss", lifetime: 3 * nic.raIntervalS, servers: nic.dns6 });
  }
  return createRouterAdvertisement({
    srcMac: nic.gatewayMac,
    src: nic.gateway6LinkLocal,
    dst: to ?? IPV6_ALL_NODES,
    dstMac: to === null ? undefined : nic.guestMac,
    managed: !nic.slaac,
    other: nic.dns6.length > 0,
    routerLifetime,
    options,
  });
}
