/**
 * What the IPv4 responders of `netkit vnet` (ARP, ICMPv4, DHCPv4) need of one NIC, and what they
 * give back. The daemon maps its NIC configuration into an {@linkcode Ipv4NicView} once (when a
 * NIC is added or changed), and for each frame from the guest calls a responder: a pure function
 * of the view, the frame and the time, with no I/O and no clock of its own. It returns
 * `undefined` when the frame is not its protocol's business (the daemon routes or drops it), or a
 * {@linkcode ResponderResult}: the frames to send back on the NIC, an outcome to count and,
 * sometimes, an event for `vnet monitor`.
 *
 * @example A view of a cloud-style NIC
 * ```ts
 * import { createIpv4NicView } from "./nic_view.ts";
 * import { formatIpv4, parseIpv4, parseMac } from "../../packet/mod.ts";
 *
 * const view = createIpv4NicView({
 *   guestMac: parseMac("52:54:00:12:34:01"),
 *   guestIpv4: parseIpv4("10.0.0.5"),
 *   prefixLength: 24,
 *   profile: "linklocal",
 * });
 * formatIpv4(view.gatewayIpv4); // "169.254.0.1"
 * view.renewalTime; // 43200, half the default lease of a day
 * ```
 *
 * @module
 */

import { InvalidInputError } from "../../errors.ts";
import {
  formatMac,
  IPV4_ADDRESS_LEN,
  isMulticastMac,
  MAC_LEN,
  parseIpv4,
  parseMac,
} from "../../packet/mod.ts";
import { GATEWAY_MAC, LINKLOCAL_GATEWAY4, type VnetProfile } from "../config.ts";
import type { ResponderEventKind } from "../dataplane.ts";

/** The gateway MAC of every NIC unless configured otherwise: config.ts's, as bytes. */
export const DEFAULT_GATEWAY_MAC: Readonly<Uint8Array<ArrayBuffer>> = parseMac(GATEWAY_MAC);
/** The IPv4 gateway of the `linklocal` profile unless configured otherwise: config.ts's. */
export const DEFAULT_LINKLOCAL_GATEWAY_IPV4: Readonly<Uint8Array<ArrayBuffer>> = parseIpv4(
  LINKLOCAL_GATEWAY4,
);
/** Lease time in seconds unless configured otherwise: one day. */
export const DEFAULT_LEASE_TIME = 86_400;
/** The shortest lease time a view accepts, in seconds: shorter makes clients renew in a loop. */
export const MIN_LEASE_TIME = 60;
/** The most DNS servers a view carries: they must fit a 576-byte DHCP reply with room to spare. */
export const MAX_DNS_SERVERS = 8;
/** The smallest MTU a view accepts: IPv4's minimum (RFC 791, RFC 2132 section 5.1). */
export const MIN_MTU = 68;
/** The largest MTU a view accepts: the DHCP option and the IPv4 total length are 16 bits. */
export const MAX_MTU = 65_535;

/**
 * One NIC as the IPv4 responders see it. Addresses are 4 bytes, MACs 6; every field is read on
 * each frame and none is copied, so the daemon builds a new view rather than changing one.
 */
export interface Ipv4NicView {
  /** The guest's MAC: the only sender answered, and the only DHCP chaddr served. */
  readonly guestMac: Uint8Array;
  /** The gateway's MAC: source of every frame the responders send. */
  readonly gatewayMac: Uint8Array;
  /** The gateway's IPv4 address: what ARP and ping answer for, and the DHCP server identifier. */
  readonly gatewayIpv4: Uint8Array;
  /** The guest's one IPv4 address, or `undefined` when the NIC has none (no DHCP then). */
  readonly guestIpv4: Uint8Array | undefined;
  /** The prefix length of the guest's network, 0..32 (the `lan` profile's subnet mask). */
  readonly prefixLength: number;
  /** How the guest is addressed; see {@linkcode VnetProfile}. */
  readonly profile: VnetProfile;
  /** IPv4 DNS servers for DHCP option 6, at most {@linkcode MAX_DNS_SERVERS}; may be empty. */
  readonly dnsServers: readonly Uint8Array[];
  /** The NIC's MTU: DHCP option 26 and the next-hop MTU of "fragmentation needed". */
  readonly mtu: number;
  /** DHCP lease time (option 51), seconds. */
  readonly leaseTime: number;
  /** DHCP renewal time T1 (option 58), seconds; below {@linkcode rebindingTime}. */
  readonly renewalTime: number;
  /** DHCP rebinding time T2 (option 59), seconds; below {@linkcode leaseTime}. */
  readonly rebindingTime: number;
  /**
   * Whether the gateway answers an ARP request for the address at `bytes[offset]` with its own
   * MAC because routing makes it necessary (proxy ARP, RFC 1027): the daemon says yes for
   * another NIC's guest inside this NIC's `lan` prefix. Without it, no proxy ARP.
   */
  readonly proxyArp: ProxyArpCheck | undefined;
}

/** See {@linkcode Ipv4NicView.proxyArp}; reads the 4 bytes in place. */
export type ProxyArpCheck = (bytes: Uint8Array, offset: number) => boolean;

/** What {@linkcode createIpv4NicView} builds a view from; omitted fields take the defaults. */
export interface Ipv4NicViewInit {
  /** The guest's MAC (unicast). */
  guestMac: Uint8Array;
  /** The guest's IPv4 address; none means DHCP is not served. */
  guestIpv4?: Uint8Array;
  /** Prefix length of the guest's network, 0..32 (default 32). */
  prefixLength?: number;
  /** Default `linklocal`. */
  profile?: VnetProfile;
  /** Default {@linkcode DEFAULT_GATEWAY_MAC}. */
  gatewayMac?: Uint8Array;
  /** Default 169.254.0.1 in `linklocal`; required in `lan`. */
  gatewayIpv4?: Uint8Array;
  /** Default none. */
  dnsServers?: readonly Uint8Array[];
  /** Default 1500. */
  mtu?: number;
  /** Default {@linkcode DEFAULT_LEASE_TIME}. */
  leaseTime?: number;
  /** Default half the lease time (RFC 2131 section 4.4.5). */
  renewalTime?: number;
  /** Default 0.875 of the lease time (RFC 2131 section 4.4.5). */
  rebindingTime?: number;
  /** Default none: no proxy ARP. */
  proxyArp?: ProxyArpCheck;
}

/** What a responder gives back for a frame that is its protocol's business. */
export interface ResponderResult {
  /** Frames to send on the NIC, in order; empty when nothing is sent. */
  readonly frames: readonly Uint8Array[];
  /**
   * The outcome as a counter name, such as `"arp_reply"` or `"dhcp_foreign_chaddr"`: for a frame
   * answered, what was sent; for one not answered, why not.
   */
  readonly reason: string;
  /** Something `vnet monitor` shows, when there is one. */
  readonly event?: Ipv4ResponderEvent;
}

/**
 * Kinds of {@linkcode Ipv4ResponderEvent}: the daemon's event kinds (dataplane.ts), with
 * `ignored` where the daemon says `unknown`.
 */
export type Ipv4ResponderEventKind = Exclude<ResponderEventKind, "unknown"> | "ignored";

/**
 * An event of the IPv4 responders, which know no NIC name: the daemon publishes it for
 * `vnet monitor` as a dataplane `ResponderEvent` with the NIC's name added (responders/ipv4.ts).
 * Plain strings, so it serialises as is. Events about ignored frames are shared constants
 * without addresses: a stranger's flood of them costs nothing to report.
 */
export interface Ipv4ResponderEvent {
  /** What happened. */
  readonly kind: Ipv4ResponderEventKind;
  /** The protocol that saw it. */
  readonly protocol: "arp" | "icmpv4" | "dhcpv4";
  /** The counter reason of the result it came with. */
  readonly reason: string;
  /** The guest's MAC, as text, when the event is about the guest. */
  readonly mac?: string;
  /** The IPv4 address concerned (leased, released, declined, refused, claimed), as text. */
  readonly address?: string;
}

/**
 * A responder as the daemon calls it: `now` in milliseconds from a monotonic clock. Responders
 * that keep no time take only the first two arguments.
 */
export type Ipv4Responder = (
  view: Ipv4NicView,
  frame: Uint8Array,
  now: number,
) => ResponderResult | undefined;

/**
 * The result for a frame a responder does not answer, shared so that not answering allocates
 * nothing. With `eventKind`, it carries a shared event of that kind too.
 */
export function silentResult(
  protocol: Ipv4ResponderEvent["protocol"],
  reason: string,
  eventKind?: Ipv4ResponderEventKind,
): ResponderResult {
  const event = eventKind === undefined
    ? undefined
    : Object.freeze({ kind: eventKind, protocol, reason });
  return Object.freeze(
    event === undefined ? { frames: [], reason } : { frames: [], reason, event },
  );
}

function checkAddress(address: Uint8Array, what: string): void {
  if (address.length !== IPV4_ADDRESS_LEN) {
    throw new InvalidInputError(`Invalid ${what}: expected 4 bytes, got ${address.length}`);
  }
}

function checkSeconds(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > 0xffff_ffff) {
    throw new InvalidInputError(
      `Invalid ${what} "${value}": expected whole seconds from ${min} to 4294967295`,
    );
  }
}

/**
 * Builds a view, filling in defaults, and checks it: MACs of 6 bytes (unicast), addresses of 4,
 * prefix length 0..32, MTU 68..65535, at most {@linkcode MAX_DNS_SERVERS} DNS servers, and
 * T1 < T2 < lease time. Throws an `InvalidInputError` naming the first problem.
 */
export function createIpv4NicView(init: Ipv4NicViewInit): Ipv4NicView {
  const profile = init.profile ?? "linklocal";
  const gatewayIpv4 = init.gatewayIpv4 ??
    (profile === "linklocal" ? DEFAULT_LINKLOCAL_GATEWAY_IPV4 : undefined);
  if (gatewayIpv4 === undefined) {
    throw new InvalidInputError("The lan profile needs a gateway IPv4 address: give one");
  }
  const gatewayMac = init.gatewayMac ?? DEFAULT_GATEWAY_MAC;
  for (const [mac, what] of [[init.guestMac, "guest MAC"], [gatewayMac, "gateway MAC"]] as const) {
    if (mac.length !== MAC_LEN || isMulticastMac(mac)) {
      throw new InvalidInputError(`Invalid ${what} "${formatMac(mac)}": expected a unicast MAC`);
    }
  }
  checkAddress(gatewayIpv4, "gateway IPv4 address");
  if (init.guestIpv4 !== undefined) checkAddress(init.guestIpv4, "guest IPv4 address");
  const prefixLength = init.prefixLength ?? 32;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new InvalidInputError(`Invalid prefix length "${prefixLength}": expected 0..32`);
  }
  const dnsServers = init.dnsServers ?? [];
  if (dnsServers.length > MAX_DNS_SERVERS) {
    throw new InvalidInputError(
      `Too many DNS servers: ${dnsServers.length}, at most ${MAX_DNS_SERVERS}`,
    );
  }
  dnsServers.forEach((server) => checkAddress(server, "DNS server address"));
  const mtu = init.mtu ?? 1500;
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    throw new InvalidInputError(`Invalid MTU "${mtu}": expected ${MIN_MTU}..${MAX_MTU}`);
  }
  const leaseTime = init.leaseTime ?? DEFAULT_LEASE_TIME;
  checkSeconds(leaseTime, MIN_LEASE_TIME, "lease time");
  const renewalTime = init.renewalTime ?? Math.floor(leaseTime / 2);
  const rebindingTime = init.rebindingTime ?? Math.floor((leaseTime * 7) / 8);
  checkSeconds(renewalTime, 1, "renewal time (T1)");
  checkSeconds(rebindingTime, 1, "rebinding time (T2)");
  if (!(renewalTime < rebindingTime && rebindingTime < leaseTime)) {
    throw new InvalidInputError(
      `Invalid DHCP times: T1 ${renewalTime} s, T2 ${rebindingTime} s, lease ${leaseTime} s; ` +
        "expected T1 < T2 < lease (RFC 2131 section 4.4.5)",
    );
  }
  return Object.freeze({
    guestMac: init.guestMac,
    gatewayMac,
    gatewayIpv4,
    guestIpv4: init.guestIpv4,
    prefixLength,
    profile,
    dnsServers: Object.freeze([...dnsServers]),
    mtu,
    leaseTime,
    renewalTime,
    rebindingTime,
    proxyArp: init.proxyArp,
  });
}

/** Whether the 4 bytes at `bytes[offset]` equal `address`: an in-place compare for receive paths. */
export function ipv4At(bytes: Uint8Array, offset: number, address: Uint8Array): boolean {
  return bytes[offset] === address[0] && bytes[offset + 1] === address[1] &&
    bytes[offset + 2] === address[2] && bytes[offset + 3] === address[3];
}
