/**
 * The responders a `netkit vnet` daemon registers with its {@linkcode Dataplane}: NDP
 * (ndp.ts), ICMPv6 echo and errors (icmpv6.ts) and the DHCPv6 server (dhcpv6.ts); and the one
 * {@linkcode IcmpErrorSender} made of a sender per IP version.
 *
 * @example
 * ```ts
 * import { Dataplane, type FrameOutput } from "../dataplane.ts";
 * import { registerResponders } from "./mod.ts";
 *
 * const output: FrameOutput = { toNic: () => true, toUplink: () => true };
 * const dataplane = new Dataplane(output);
 * const responders = registerResponders(dataplane, performance.now());
 * dataplane.responders; // ["ndp", "icmp6", "dhcp6"]
 * responders.ndp.drops.hop_limit; // 0
 * ```
 *
 * @module
 */

import type { NicConfig } from "../config.ts";
import type { Dataplane, IcmpErrorSender } from "../dataplane.ts";
import type { Decision } from "../routing.ts";
import { Dhcpv6Responder } from "./dhcpv6.ts";
import { Icmpv6ErrorSender, Icmpv6Responder } from "./icmpv6.ts";
import { type NdpOptions, NdpResponder } from "./ndp.ts";

export { Dhcpv6Responder } from "./dhcpv6.ts";
export { Icmpv6ErrorSender, Icmpv6Responder } from "./icmpv6.ts";
export { NdpResponder } from "./ndp.ts";

/** The responders of one daemon, registered (kept for their counters and farewells). */
export interface VnetResponders {
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
  const ndp = new NdpResponder(options);
  const icmp6 = new Icmpv6Responder();
  const dhcp6 = new Dhcpv6Responder();
  const errors6 = new Icmpv6ErrorSender();
  dataplane.register("ndp", ndp, now);
  dataplane.register("icmp6", icmp6, now);
  dataplane.register("dhcp6", dhcp6, now);
  dataplane.setIcmpErrors(icmpErrorsByVersion({ v6: errors6 }));
  return { ndp, icmp6, dhcp6, errors6, farewell: (nic) => ndp.farewell(nic) };
}
