/**
 * The IPv4 responders (arp.ts, icmpv4.ts, dhcpv4.ts: pure functions of an
 * {@linkcode Ipv4NicView}) as the daemon's {@linkcode Dataplane} calls them: one
 * {@linkcode Responder} per traffic kind and the IPv4 {@linkcode IcmpErrorSender}, all reading
 * one view per NIC made from its {@linkcode NicConfig} (the one source of truth: the lease
 * times are the view's defaults, a day with T1 and T2 at 1/2 and 7/8 of it).
 *
 * Every result is counted per NIC by its reason (what was sent, or why nothing was:
 * `arp_reply`, `dhcp_offer`, `dhcp_foreign_chaddr`, `icmpv4_error_rate_limited`, ...) for
 * `vnet show -s`, and its event, if any, goes to `vnet monitor` with the NIC's name (`ignored`
 * frames as `unknown`). A NIC without IPv4 gets no IPv4 answers (`ipv4_not_configured`).
 *
 * @example
 * ```ts
 * import { createArpRequest, parseIpv4, parseMac } from "../../packet/mod.ts";
 * import { resolveNic } from "../config.ts";
 * import { Ipv4Responders } from "./ipv4.ts";
 *
 * const nic = resolveNic({ name: "vm0", mac: "52:54:00:12:34:01", ipv4: "10.0.0.5" });
 * const ipv4 = new Ipv4Responders(() => false);
 * const request = createArpRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   srcIp: parseIpv4("10.0.0.5"),
 *   targetIp: parseIpv4("169.254.0.1"),
 * });
 * ipv4.arp.handle(nic, request, 0, { emit: () => {} }).length; // 1
 * ipv4.counts("vm0"); // { arp_reply: 1 }
 * ```
 *
 * @module
 */

import { ReasonCounts } from "../../l2/reason_counts.ts";
import type { NicConfig } from "../config.ts";
import type { IcmpErrorSender, Responder, ResponderContext, ResponderEvent } from "../dataplane.ts";
import type { Decision } from "../routing.ts";
import { respondArp } from "./arp.ts";
import { respondDhcpv4 } from "./dhcpv4.ts";
import { icmpv4ErrorFor, Icmpv4ErrorLimiter, respondIcmpv4Echo } from "./icmpv4.ts";
import {
  createIpv4NicView,
  type Ipv4NicView,
  type Ipv4Responder,
  type Ipv4ResponderEvent,
  type ResponderResult,
} from "./nic_view.ts";

const ETH = 14;

/**
 * Whether the gateway answers ARP from `nic`'s guest for the address at `bytes[offset]` on
 * another guest's behalf (the daemon decides it from its routing table).
 */
export type ProxyArpPolicy = (nic: NicConfig, bytes: Uint8Array, offset: number) => boolean;

/** The event a responder's result carries, as the daemon publishes it. */
function daemonEvent(nic: NicConfig, event: Ipv4ResponderEvent): ResponderEvent {
  return {
    ...event,
    event: event.kind === "ignored" ? "unknown" : event.kind,
    nic: nic.name,
    family: "ipv4",
  };
}

/** The IPv4 responders and error sender of one daemon (see the module doc). */
export class Ipv4Responders {
  /** ARP (kind `arp`). */
  readonly arp: Responder;
  /** ICMPv4 echo to a gateway address (kind `icmp4`). */
  readonly icmp4: Responder;
  /** The DHCPv4 server (kind `dhcp4`). */
  readonly dhcp4: Responder;
  /** The IPv4 half of the ICMP error sender. */
  readonly errors: IcmpErrorSender;
  readonly #proxy: ProxyArpPolicy;
  /** A view per NIC config (a reconfigured NIC is a new object, and gets a new view). */
  readonly #views = new WeakMap<NicConfig, Ipv4NicView | null>();
  /** Each NIC's error rate limit, by config (as the IPv6 sender keeps its buckets). */
  readonly #limiters = new WeakMap<NicConfig, Icmpv4ErrorLimiter>();
  /** Results by reason, per NIC name (kept across a reconfiguration, as the NIC counters are). */
  readonly #counts = new Map<string, ReasonCounts>();

  /** The responders; `proxy` says when routing makes proxy ARP necessary. */
  constructor(proxy: ProxyArpPolicy) {
    this.#proxy = proxy;
    this.arp = this.#responder(respondArp);
    this.icmp4 = this.#responder(respondIcmpv4Echo);
    this.dhcp4 = this.#responder(respondDhcpv4);
    this.errors = {
      error: (nic, frame, decision, now) => this.#error(nic, frame, decision, now),
    };
  }

  /** NIC `name`'s results by reason (only reasons that happened). */
  counts(name: string): Record<string, number> {
    return this.#counts.get(name)?.toJSON() ?? {};
  }

  /** The view of `nic`, made once per config; null without IPv4. */
  view(nic: NicConfig): Ipv4NicView | null {
    let view = this.#views.get(nic);
    if (view !== undefined) return view;
    const ipv4 = nic.ipv4;
    view = ipv4 === null ? null : createIpv4NicView({
      guestMac: nic.guestMac,
      guestIpv4: ipv4.address,
      prefixLength: ipv4.prefixLength,
      profile: nic.profile,
      gatewayMac: nic.gatewayMac,
      gatewayIpv4: ipv4.gateway,
      dnsServers: nic.dns4,
      mtu: nic.mtu,
      proxyArp: (bytes, offset) => this.#proxy(nic, bytes, offset),
    });
    this.#views.set(nic, view);
    return view;
  }

  #count(nic: NicConfig, reason: string): void {
    let counts = this.#counts.get(nic.name);
    if (counts === undefined) {
      counts = new ReasonCounts();
      this.#counts.set(nic.name, counts);
    }
    counts.add(reason);
  }

  /** Counts `result` for `nic`, publishes its event, and gives its frames. */
  #settle(
    nic: NicConfig,
    result: ResponderResult,
    context: ResponderContext | null,
  ): readonly Uint8Array[] {
    this.#count(nic, result.reason);
    if (result.event !== undefined) context?.emit(daemonEvent(nic, result.event));
    return result.frames;
  }

  #responder(respond: Ipv4Responder): Responder {
    return {
      handle: (nic, frame, now, context) => {
        const view = this.view(nic);
        if (view === null) {
          this.#count(nic, "ipv4_not_configured");
          return [];
        }
        const result = respond(view, frame, now);
        if (result === undefined) {
          // The dataplane's classification and the responder's disagree: say so, send nothing.
          this.#count(nic, "ipv4_not_answered");
          return [];
        }
        return this.#settle(nic, result, context);
      },
      nicRemoved: (nic) => this.#counts.delete(nic.name),
    };
  }

  #error(nic: NicConfig, frame: Uint8Array, decision: Decision, now: number) {
    const view = this.view(nic);
    const verdict = decision.verdict;
    if (
      view === null || frame.length <= ETH ||
      (verdict !== "unreachable" && verdict !== "ttl_exceeded" && verdict !== "too_big")
    ) {
      return [];
    }
    let limiter = this.#limiters.get(nic);
    if (limiter === undefined) {
      limiter = new Icmpv4ErrorLimiter(now);
      this.#limiters.set(nic, limiter);
    }
    // `too_big` quotes the MTU of the link the packet would leave by, as routing found it.
    const result = icmpv4ErrorFor(view, limiter, verdict, frame.subarray(ETH), now, {
      nextHopMtu: decision.mtu,
    });
    return this.#settle(nic, result, null);
  }
}
