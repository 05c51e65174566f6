/**
 * The responders a `netkit vnet` daemon registers with its {@linkcode Dataplane}: ARP, ICMPv4
 * echo and errors and the DHCPv4 server (ipv4.ts over arp.ts, icmpv4.ts, dhcpv4.ts), NDP
 * (ndp.ts), ICMPv6 echo and errors (icmpv6.ts) and the DHCPv6 server (dhcpv6.ts); and the one
 * {@linkcode IcmpErrorSender} made of a sender per IP version.
 *
 * Proxy ARP and proxy NDP only where routing makes them necessary: a guest of a `lan` NIC asks
 * for an address inside its prefix (so it believes it on-link) that is another NIC's guest's
 * configured address. The gateway answers with its own MAC and routes what follows (RFC 1027,
 * RFC 4861 §7.2.8). Nothing else is proxied: not an address no guest has, not the guest's own,
 * not a DAD probe.
 *
 * @example
 * ```ts
 * import { Dataplane, type FrameOutput } from "../dataplane.ts";
 * import { registerResponders } from "./mod.ts";
 *
 * const output: FrameOutput = { toNic: () => true, toUplink: () => true };
 * const dataplane = new Dataplane(output);
 * const responders = registerResponders(dataplane, performance.now());
 * dataplane.responders; // ["arp", "icmp4", "dhcp4", "ndp", "icmp6", "dhcp6"]
 * responders.ndp.drops.hop_limit; // 0
 * responders.counts("vm0"); // {}: no frame yet
 * ```
 *
 * @module
 */

import { type NicConfig, samePrefix } from "../config.ts";
import type { Dataplane, IcmpErrorSender } from "../dataplane.ts";
import type { Decision } from "../routing.ts";
import { Dhcpv6Responder } from "./dhcpv6.ts";
import { Icmpv6ErrorSender, Icmpv6Responder } from "./icmpv6.ts";
import { Ipv4Responders } from "./ipv4.ts";
import { type NdpOptions, NdpResponder } from "./ndp.ts";

export { Dhcpv6Responder } from "./dhcpv6.ts";
export { Icmpv6ErrorSender, Icmpv6Responder } from "./icmpv6.ts";
export { Ipv4Responders } from "./ipv4.ts";
export { NdpResponder } from "./ndp.ts";

/** The responders of one daemon, registered (kept for their counters and farewells). */
export interface VnetResponders {
  /** ARP, ICMPv4 echo and errors, DHCPv4 (their counters are per NIC). */
  ipv4: Ipv4Responders;
  /** NDP: NS/NA, RS/RA, periodic RAs. */
  ndp: NdpResponder;
  /** ICMPv6 echo. */
  icmp6: Icmpv6Responder;
  /** DHCPv6. */
  dhcp6: Dhcpv6Responder;
  /** The IPv6 ICMP errors. */
  errors6: Icmpv6ErrorSender;
  /** The frames to send a NIC's guest before the NIC goes (the final RA). */
  farewell(nic: NicConfig): Uint8Array[];
  /** NIC `name`'s IPv4 responder and ICMPv4 error results by reason (what happened only). */
  counts(name: string): Record<string, number>;
  /**
   * The IPv6 responders' drops and suppressed ICMPv6 errors by reason, every NIC together
   * (`ndp_hop_limit`, `icmp6_not_echo`, `dhcp6_server_id`, `icmp6_error_rate_limited`, ...).
   */
  ipv6Drops(): Record<string, number>;
}

/**
 * The proxy policy of the module doc for one family: `guest` finds the NIC whose guest has the
 * address at `bytes[offset]` (the router's host routes).
 */
function proxyPolicy(
  dataplane: Dataplane,
  family: "ipv4" | "ipv6",
  guest: (bytes: Uint8Array, offset: number) => number,
): (nic: NicConfig, bytes: Uint8Array, offset: number) => boolean {
  return (nic, bytes, offset) => {
    const own = nic[family];
    if (nic.profile !== "lan" || own === null) return false;
    const target = bytes.subarray(offset, offset + own.address.length);
    if (!samePrefix(target, own.address, own.prefixLength)) return false;
    const owner = guest(bytes, offset);
    return owner >= 0 && dataplane.nics[owner]!.name !== nic.name;
  };
}

function prefixed(prefix: string, counts: Record<string, number>): [string, number][] {
  return Object.entries(counts).map(([reason, n]) => [`${prefix}_${reason}`, n]);
}

/**
 * One {@linkcode IcmpErrorSender} that hands each frame to the sender for its IP version (by
 * EtherType); a version without a sender gets no errors.
 */
export function icmpErrorsByVersion(
  senders: { v4?: IcmpErrorSender | undefined; v6?: IcmpErrorSender | undefined },
): IcmpErrorSender {
  return {
    error(nic: NicConfig, frame: Uint8Array, decision: Decision, now: number) {
      const type = frame.length < 14 ? 0 : (frame[12]! << 8) | frame[13]!;
      const sender = type === 0x0800 ? senders.v4 : type === 0x86dd ? senders.v6 : undefined;
      return sender?.error(nic, frame, decision, now) ?? [];
    },
  };
}

/**
 * Makes the responders, registers them with `dataplane` at `now` (ms) and sets its ICMP error
 * sender; `options` are the NDP responder's (tests).
 */
export function registerResponders(
  dataplane: Dataplane,
  now: number,
  options: NdpOptions = {},
): VnetResponders {
  const router = dataplane.router;
  const ipv4 = new Ipv4Responders(proxyPolicy(dataplane, "ipv4", (b, o) => router.guest4(b, o)));
  const proxy6 = proxyPolicy(dataplane, "ipv6", (b, o) => router.guest6(b, o));
  const ndp = new NdpResponder({ ...options, proxy: (nic, target) => proxy6(nic, target, 0) });
  const icmp6 = new Icmpv6Responder();
  const dhcp6 = new Dhcpv6Responder();
  const errors6 = new Icmpv6ErrorSender();
  dataplane.register("arp", ipv4.arp, now);
  dataplane.register("icmp4", ipv4.icmp4, now);
  dataplane.register("dhcp4", ipv4.dhcp4, now);
  dataplane.register("ndp", ndp, now);
  dataplane.register("icmp6", icmp6, now);
  dataplane.register("dhcp6", dhcp6, now);
  dataplane.setIcmpErrors(icmpErrorsByVersion({ v4: ipv4.errors, v6: errors6 }));
  return {
    ipv4,
    ndp,
    icmp6,
    dhcp6,
    errors6,
    farewell: (nic) => ndp.farewell(nic),
    counts: (name) => ipv4.counts(name),
    ipv6Drops: () =>
      Object.fromEntries([
        ...prefixed("ndp", ndp.drops),
        ...prefixed("icmp6", icmp6.drops),
        ...prefixed("dhcp6", dhcp6.drops),
        ...prefixed("icmp6_error", errors6.suppressed),
      ]),
  };
}
