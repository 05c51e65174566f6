/**
 * What `netkit vnet` does with each frame, without I/O: a frame from a guest whose source MAC
 * is not the NIC's guest MAC is dropped; a frame for the gateway itself (ARP, ICMP echo to a
 * gateway address, DHCPv4 to port 67, DHCPv6 to port 547, NDP) goes to the
 * {@linkcode Responder} registered for its {@linkcode GatewayTraffic}, or is dropped as
 * `no_responder` while none is; everything else is routed ({@linkcode VnetRouter}). IP packets
 * from the uplink are routed to the guests.
 *
 * `unreachable`, `ttl_exceeded` and `too_big` verdicts go to an {@linkcode IcmpErrorSender} when
 * one is set (it comes with the responders); the packet itself is dropped and counted by that
 * reason either way.
 *
 * Every frame is counted per NIC ({@linkcode NicCounters}); nothing is allocated per frame on
 * the routed path: frames are changed in place and handed to a {@linkcode FrameOutput}.
 *
 * @module
 */

// JSON field names are snake_case by house rule.
// deno-lint-ignore-file camelcase

import { EtherType } from "../packet/ethernet.ts";
import type { NicConfig } from "./config.ts";
import { type Decision, FROM_UPLINK, VnetRouter } from "./routing.ts";
import { bytesEqualAt } from "../packet/bytes.ts";

/** The kinds of frame addressed to the gateway itself, one {@linkcode Responder} each. */
export type GatewayTraffic = "arp" | "icmp4" | "dhcp4" | "ndp" | "icmp6" | "dhcp6";

/** Every {@linkcode GatewayTraffic}, in the order SHOW lists responders. */
export const GATEWAY_TRAFFIC: readonly GatewayTraffic[] = [
  "arp",
  "icmp4",
  "dhcp4",
  "ndp",
  "icmp6",
  "dhcp6",
];

/** Why a frame was dropped: the keys of {@linkcode NicCounters.drops}. */
export const DROP_REASONS = [
  "source_mac",
  "destination_mac",
  "no_responder",
  "gateway_unsupported",
  "unsupported_ethertype",
  "bad_header",
  "source_address",
  "not_routable",
  "needs_fragmentation",
  "no_route",
  "unreachable",
  "ttl_exceeded",
  "too_big",
  "tx_full",
  "tx_error",
] as const;

/** Why a frame was dropped (see {@linkcode DROP_REASONS}). */
export type DropReason = typeof DROP_REASONS[number];

/** One NIC's (or the uplink's) counters, as SHOW reports them. */
export interface NicCounters {
  /** Frames received from the guest. */
  rx_frames: number;
  /** Bytes received from the guest. */
  rx_bytes: number;
  /** Frames sent to the guest. */
  tx_frames: number;
  /** Bytes sent to the guest. */
  tx_bytes: number;
  /** Packets routed from here to another NIC or the uplink. */
  routed: number;
  /** Frames handed to a responder. */
  to_responder: number;
  /** ICMP errors sent back for packets that could not be forwarded. */
  icmp_errors: number;
  /** Frames dropped, by reason. */
  drops: Record<DropReason, number>;
}

/** Zeroed counters. */
export function newCounters(): NicCounters {
  const drops = {} as Record<DropReason, number>;
  for (const reason of DROP_REASONS) drops[reason] = 0;
  return {
    rx_frames: 0,
    rx_bytes: 0,
    tx_frames: 0,
    tx_bytes: 0,
    routed: 0,
    to_responder: 0,
    icmp_errors: 0,
    drops,
  };
}

/** What a {@linkcode ResponderEvent} says happened (see there). */
export type ResponderEventKind =
  | "lease"
  | "release"
  | "decline"
  | "nak"
  | "inform"
  | "conflict"
  | "unknown";

/**
 * An event a responder reports (SUBSCRIBE streams it): `lease`, `release`, `decline`, `nak`,
 * `inform` (configuration given without a lease), `conflict` (an address claimed or defended),
 * or `unknown` traffic (ignored, such as another client's DHCP message), with the NIC's name and
 * fields of the responder's choosing (snake_case).
 */
export interface ResponderEvent {
  /** What happened. */
  event: ResponderEventKind;
  /** The NIC it happened on. */
  nic: string;
  /** Details (address, lease time, message type, ...). */
  [field: string]: unknown;
}

/** What a responder may use besides the frame. */
export interface ResponderContext {
  /** Reports an event to subscribers. */
  emit(event: ResponderEvent): void;
}

/** A frame a responder sends on its own (a periodic RA, say), and the NIC it goes out of. */
export interface TimedFrame {
  /** The NIC's name. */
  nic: string;
  /** The whole Ethernet frame. */
  frame: Uint8Array;
}

/**
 * Answers one kind of gateway traffic (lib/vnet's responders implement this). `handle` gets
 * only frames from the NIC's guest MAC and returns the frames to send back to that guest
 * (none: silence). A responder with timers (periodic RAs) reports its next deadline in
 * `next(now)` and sends in `tick(now)`; it hears of NICs coming and going.
 */
export interface Responder {
  /** The frames that answer `frame` (the guest's, on `nic`); `now` in ms. */
  handle(
    nic: NicConfig,
    frame: Uint8Array,
    now: number,
    context: ResponderContext,
  ): readonly Uint8Array[];
  /** When `tick` must next run (ms, same clock as `now`), or null for no timer. */
  next?(now: number): number | null;
  /** Runs the timers due; returns the frames to send. */
  tick?(now: number, context: ResponderContext): readonly TimedFrame[];
  /** A NIC was added (or restored, or reconfigured). */
  nicAdded?(nic: NicConfig, now: number): void;
  /** A NIC was removed. */
  nicRemoved?(nic: NicConfig): void;
}

/**
 * Sends ICMP errors for packets that could not be forwarded (comes with the responders):
 * returns the error frames to send to `nic`'s guest. `frame` is the offending frame, unchanged.
 */
export interface IcmpErrorSender {
  /** The error for `decision` (`unreachable`, `ttl_exceeded`, `too_big` with its MTU). */
  error(nic: NicConfig, frame: Uint8Array, decision: Decision, now: number): readonly Uint8Array[];
}

/** Where the dataplane's frames go (the daemon's batched writers; a recorder in tests). */
export interface FrameOutput {
  /** Queues the first `length` bytes of `frame` (Ethernet) to NIC `nic`; false: no room. */
  toNic(nic: number, frame: Uint8Array, length: number): boolean;
  /** Queues the IP packet `packet[offset, offset + length)` to the uplink; false: no room. */
  toUplink(packet: Uint8Array, offset: number, length: number): boolean;
}

const ETH = 14;
const ETHERTYPE_ARP = EtherType.ARP;
const ETHERTYPE_IPV4 = EtherType.IPV4;
const ETHERTYPE_IPV6 = EtherType.IPV6;
const BROADCAST4 = new Uint8Array([255, 255, 255, 255]);

/** The per-frame logic of one daemon (see the module doc). */
export class Dataplane {
  readonly #router: VnetRouter;
  readonly #output: FrameOutput;
  readonly #responders = new Map<GatewayTraffic, Responder>();
  #icmpErrors: IcmpErrorSender | null = null;
  #nics: NicConfig[] = [];
  #counters: NicCounters[] = [];
  /** The uplink's counters: rx from the host, tx to it. */
  readonly uplink: NicCounters = newCounters();
  readonly #context: ResponderContext;

  /**
   * A dataplane writing to `output`; `uplinkMtu` null: no uplink. `onEvent` receives the
   * responders' events.
   */
  constructor(
    output: FrameOutput,
    options: { uplinkMtu?: number | null; onEvent?: (event: ResponderEvent) => void } = {},
  ) {
    this.#output = output;
    this.#router = new VnetRouter(options.uplinkMtu ?? null);
    const onEvent = options.onEvent ?? (() => {});
    this.#context = { emit: (event) => onEvent(event) };
  }

  /** The NICs, in the order frames name them. */
  get nics(): readonly NicConfig[] {
    return this.#nics;
  }

  /** The router (for lookups). */
  get router(): VnetRouter {
    return this.#router;
  }

  /** Whether packets for no guest go to an uplink. */
  get hasUplink(): boolean {
    return this.#router.hasUplink;
  }

  /** The traffic kinds a responder is registered for. */
  get responders(): GatewayTraffic[] {
    return GATEWAY_TRAFFIC.filter((t) => this.#responders.has(t));
  }

  /** Registers `responder` for `traffic` (replacing one before); every NIC is announced to it. */
  register(traffic: GatewayTraffic, responder: Responder, now = 0): void {
    this.#responders.set(traffic, responder);
    for (const nic of this.#nics) responder.nicAdded?.(nic, now);
  }

  /** Sets who sends ICMP errors (null: nobody; the verdicts are only counted). */
  setIcmpErrors(sender: IcmpErrorSender | null): void {
    this.#icmpErrors = sender;
  }

  /**
   * Replaces the NICs (index = position in `nics`). Counters are kept for NICs that stay (by
   * name); responders hear of NICs added and removed.
   */
  setNics(nics: readonly NicConfig[], now = 0): void {
    const before = new Map(
      this.#nics.map((n, i) => [n.name, { nic: n, counters: this.#counters[i]! }]),
    );
    const after = new Set(nics.map((n) => n.name));
    for (const [name, { nic }] of before) {
      if (!after.has(name)) { for (const r of this.#responders.values()) r.nicRemoved?.(nic); }
    }
    this.#nics = [...nics];
    this.#counters = nics.map((n) => before.get(n.name)?.counters ?? newCounters());
    this.#router.setNics(this.#nics);
    for (const nic of nics) {
      const old = before.get(nic.name)?.nic;
      if (old !== nic) { for (const r of this.#responders.values()) r.nicAdded?.(nic, now); }
    }
  }

  /** NIC `index`'s counters (live: the object is updated in place). */
  counters(index: number): NicCounters {
    return this.#counters[index]!;
  }

  /** Counts `count` frames of NIC `index` (or the uplink, {@linkcode FROM_UPLINK}) dropped for `reason`. */
  countDrop(index: number, reason: DropReason, count = 1): void {
    (index === FROM_UPLINK ? this.uplink : this.#counters[index]!).drops[reason] += count;
  }

  #send(index: number, frame: Uint8Array, length: number): void {
    const counters = this.#counters[index]!;
    if (this.#output.toNic(index, frame, length)) {
      counters.tx_frames++;
      counters.tx_bytes += length;
    } else counters.drops.tx_full++;
  }

  /** Which responder `frame` (from `nic`'s guest) is for, or null when it is to be routed. */
  #classify(
    nic: NicConfig,
    frame: Uint8Array,
    length: number,
  ): GatewayTraffic | "unsupported" | null {
    const type = (frame[12]! << 8) | frame[13]!;
    if (type === ETHERTYPE_ARP) return "arp";
    if (type === ETHERTYPE_IPV4) {
      if (length < ETH + 20) return null;
      const protocol = frame[ETH + 9]!;
      const l4 = ETH + (frame[ETH]! & 0x0f) * 4;
      const toGateway = nic.ipv4 !== null && bytesEqualAt(frame, ETH + 16, nic.ipv4.gateway);
      // UDP to port 67, broadcast (DISCOVER from 0.0.0.0) or to the gateway (a renewal); to any
      // other address it is another server's, and routed.
      if (
        protocol === 17 && length >= l4 + 4 && frame[l4 + 2] === 0 && frame[l4 + 3] === 67 &&
        (toGateway || bytesEqualAt(frame, ETH + 16, BROADCAST4))
      ) {
        return "dhcp4";
      }
      if (toGateway) return protocol === 1 ? "icmp4" : "unsupported";
      return null;
    }
    if (type === ETHERTYPE_IPV6) {
      if (length < ETH + 40) return null;
      const next = frame[ETH + 6]!;
      const l4 = ETH + 40;
      if (next === 58 && length > l4) {
        const icmpType = frame[l4]!;
        if (icmpType >= 133 && icmpType <= 137) return "ndp";
      }
      if (next === 17 && length >= l4 + 4 && frame[l4 + 2] === 0x02 && frame[l4 + 3] === 0x23) {
        return "dhcp6";
      }
      if (
        bytesEqualAt(frame, ETH + 24, nic.gateway6LinkLocal) ||
        (nic.ipv6 !== null && bytesEqualAt(frame, ETH + 24, nic.ipv6.gateway))
      ) {
        return next === 58 ? "icmp6" : "unsupported";
      }
      return null;
    }
    return "unsupported";
  }

  /**
   * Handles one frame (`frame[0, length)`, which may be changed in place) that NIC `index`'s
   * device received at `now` (ms).
   */
  fromNic(index: number, frame: Uint8Array, length: number, now: number): void {
    const nic = this.#nics[index]!;
    const counters = this.#counters[index]!;
    counters.rx_frames++;
    counters.rx_bytes += length;
    if (length < ETH) {
      counters.drops.bad_header++;
      return;
    }
    if (!bytesEqualAt(frame, 6, nic.guestMac)) {
      counters.drops.source_mac++;
      return;
    }
    const group = (frame[0]! & 1) !== 0;
    if (!group && !bytesEqualAt(frame, 0, nic.gatewayMac)) {
      counters.drops.destination_mac++;
      return;
    }
    const traffic = this.#classify(nic, frame, length);
    if (traffic === "unsupported") {
      const type = (frame[12]! << 8) | frame[13]!;
      if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) counters.drops.gateway_unsupported++;
      else counters.drops.unsupported_ethertype++;
      return;
    }
    if (traffic !== null) {
      const responder = this.#responders.get(traffic);
      if (responder === undefined) {
        counters.drops.no_responder++;
        return;
      }
      counters.to_responder++;
      for (const reply of responder.handle(nic, frame.subarray(0, length), now, this.#context)) {
        this.#send(index, reply, reply.length);
      }
      return;
    }
    if (group) {
      counters.drops.not_routable++;
      return;
    }
    const decision = this.#router.forward(frame, length, index);
    this.#apply(decision, frame, length, index, counters, now);
  }

  /**
   * Handles one IP packet from the uplink: `buffer[14, 14 + length)` holds it, and the 14 bytes
   * before it are room for the Ethernet header this writes.
   */
  fromUplink(buffer: Uint8Array, length: number, now: number): void {
    const counters = this.uplink;
    counters.rx_frames++;
    counters.rx_bytes += length;
    if (length < 1) {
      counters.drops.bad_header++;
      return;
    }
    const version = buffer[ETH]! >> 4;
    const type = version === 4 ? ETHERTYPE_IPV4 : version === 6 ? ETHERTYPE_IPV6 : 0;
    if (type === 0) {
      counters.drops.bad_header++;
      return;
    }
    buffer[12] = type >> 8;
    buffer[13] = type & 0xff;
    const decision = this.#router.forward(buffer, ETH + length, FROM_UPLINK);
    this.#apply(decision, buffer, ETH + length, FROM_UPLINK, counters, now);
  }

  /** Acts on `decision` about `frame[0, length)` (the rest of `frame` is a slot's stale bytes). */
  #apply(
    decision: Decision,
    frame: Uint8Array,
    length: number,
    from: number,
    counters: NicCounters,
    now: number,
  ): void {
    switch (decision.verdict) {
      case "deliver":
        counters.routed++;
        this.#send(decision.nic, frame, decision.length);
        return;
      case "uplink":
        counters.routed++;
        if (this.#output.toUplink(frame, ETH, decision.length - ETH)) {
          this.uplink.tx_frames++;
          this.uplink.tx_bytes += decision.length - ETH;
        } else this.uplink.drops.tx_full++;
        return;
      case "drop":
        counters.drops[decision.reason!]++;
        return;
      default: {
        counters.drops[decision.verdict]++;
        if (this.#icmpErrors === null || from === FROM_UPLINK) return;
        const nic = this.#nics[from]!;
        // The frame alone: the senders size their checks and quotes by its length.
        const offending = frame.subarray(0, length);
        for (const reply of this.#icmpErrors.error(nic, offending, decision, now)) {
          counters.icmp_errors++;
          this.#send(from, reply, reply.length);
        }
      }
    }
  }

  /** The earliest deadline of any responder (ms), or null. */
  next(now: number): number | null {
    let earliest: number | null = null;
    for (const responder of this.#responders.values()) {
      const at = responder.next?.(now) ?? null;
      if (at !== null && (earliest === null || at < earliest)) earliest = at;
    }
    return earliest;
  }

  /** Runs the responders' timers due at `now` and sends what they make. */
  tick(now: number): void {
    for (const responder of this.#responders.values()) {
      for (const { nic, frame } of responder.tick?.(now, this.#context) ?? []) {
        const index = this.#nics.findIndex((n) => n.name === nic);
        if (index >= 0) this.#send(index, frame, frame.length);
      }
    }
  }
}
