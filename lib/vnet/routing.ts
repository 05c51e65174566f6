/**
 * Routing between a `netkit vnet` daemon's NICs and its uplink: longest-prefix match over the
 * guests' addresses (a /32 and a /128 per guest, plus each `lan` NIC's prefix), and the
 * forwarding decision for one IPv4 or IPv6 packet, made in place on the frame's bytes.
 *
 * A packet to another guest is delivered with its Ethernet header rewritten (source: that NIC's
 * gateway MAC, destination: its guest MAC), its TTL or hop limit decremented and, for IPv4, the
 * header checksum updated incrementally (RFC 1624). A packet for no guest goes to the uplink
 * (when there is one), or is `unreachable`. `ttl_exceeded` and `too_big` say what an ICMP error
 * would need (the offending frame is the caller's, left unchanged; `too_big` carries the MTU).
 * Anything a router must not forward (bad headers, a source the guest does not own, multicast,
 * link-local destinations) is a `drop` with its reason.
 *
 * Pure, and free of per-packet allocation: the tables are rebuilt when the NICs change, and
 * {@linkcode VnetRouter.forward} fills one reused {@linkcode Decision}.
 *
 * @module
 */

import { updateChecksum } from "../packet/checksum.ts";
import { EtherType } from "../packet/ethernet.ts";
import type { NicConfig } from "./config.ts";

/** What to do with a packet (see the module doc). */
export type Verdict = "deliver" | "uplink" | "unreachable" | "ttl_exceeded" | "too_big" | "drop";

/** Why a packet was dropped without an ICMP error. */
export type RouteDropReason =
  | "bad_header"
  | "source_address"
  | "not_routable"
  | "needs_fragmentation"
  | "no_route";

/** The outcome of {@linkcode VnetRouter.forward}; one object, refilled by every call. */
export interface Decision {
  /** What to do. */
  verdict: Verdict;
  /** `deliver`: the index of the NIC to send to (in the list given to `setNics`); else -1. */
  nic: number;
  /** `deliver` and `uplink`: the bytes to send, Ethernet header included (padding cut). */
  length: number;
  /** `too_big`: the MTU of the link that would not take it; else 0. */
  mtu: number;
  /** `drop`: why; else null. */
  reason: RouteDropReason | null;
}

/** `from` for a packet that came from the uplink. */
export const FROM_UPLINK: number = -1;

const ETH = 14;

/** An exact-match table of addresses (4 or 16 bytes) to NIC indexes: open addressing. */
class HostTable {
  readonly #width: number;
  #mask = 0;
  #keys = new Uint8Array(0);
  #values = new Int32Array(0);

  constructor(width: number) {
    this.#width = width;
  }

  rebuild(entries: readonly { address: Uint8Array; nic: number }[]): void {
    let capacity = 16;
    while (capacity < entries.length * 4) capacity *= 2;
    this.#mask = capacity - 1;
    this.#keys = new Uint8Array(capacity * this.#width);
    this.#values = new Int32Array(capacity).fill(-1);
    for (const { address, nic } of entries) {
      let slot = this.#hash(address, 0);
      while (this.#values[slot] !== -1) slot = (slot + 1) & this.#mask;
      this.#keys.set(address, slot * this.#width);
      this.#values[slot] = nic;
    }
  }

  #hash(bytes: Uint8Array, offset: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < this.#width; i++) h = Math.imul(h ^ bytes[offset + i]!, 0x01000193);
    return (h ^ (h >>> 15)) & this.#mask;
  }

  /** The NIC whose address is at `bytes[offset]`, or -1. */
  find(bytes: Uint8Array, offset: number): number {
    if (this.#values.length === 0) return -1;
    const width = this.#width;
    for (let slot = this.#hash(bytes, offset);; slot = (slot + 1) & this.#mask) {
      const nic = this.#values[slot]!;
      if (nic === -1) return -1;
      const base = slot * width;
      let i = 0;
      while (i < width && this.#keys[base + i] === bytes[offset + i]) i++;
      if (i === width) return nic;
    }
  }
}

interface PrefixRoute {
  prefix: Uint8Array;
  length: number;
  nic: number;
}

/** Whether the bytes at `bytes[offset]` start with `prefix`'s first `length` bits. */
function inPrefix(bytes: Uint8Array, offset: number, prefix: Uint8Array, length: number): boolean {
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) if (bytes[offset + i] !== prefix[i]) return false;
  const rest = length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((bytes[offset + whole]! ^ prefix[whole]!) & mask) === 0;
}

/**
 * Longest-prefix match over host routes (exact) and prefix routes: a host route is always the
 * longest, so it is looked up first; prefixes are kept longest first.
 */
export class PrefixTable {
  readonly #hosts: HostTable;
  readonly #width: number;
  #prefixes: PrefixRoute[] = [];

  /** A table of `width`-byte addresses (4: IPv4, 16: IPv6). */
  constructor(width: 4 | 16) {
    this.#width = width;
    this.#hosts = new HostTable(width);
  }

  /** Replaces every route: `length` equal to the width in bits makes a host route. */
  rebuild(routes: readonly { prefix: Uint8Array; length: number; nic: number }[]): void {
    const bits = this.#width * 8;
    this.#hosts.rebuild(
      routes.filter((r) => r.length === bits).map((r) => ({ address: r.prefix, nic: r.nic })),
    );
    this.#prefixes = routes.filter((r) => r.length < bits).sort((a, b) => b.length - a.length);
  }

  /** The NIC of the host route (a guest's own address) at `bytes[offset]`, or -1. */
  host(bytes: Uint8Array, offset: number): number {
    return this.#hosts.find(bytes, offset);
  }

  /** The NIC of the longest route matching the address at `bytes[offset]`, or -1. */
  lookup(bytes: Uint8Array, offset: number): number {
    const host = this.#hosts.find(bytes, offset);
    if (host !== -1) return host;
    for (const route of this.#prefixes) {
      if (inPrefix(bytes, offset, route.prefix, route.length)) return route.nic;
    }
    return -1;
  }
}

/** The routing state of one daemon: its NICs' addresses and the uplink. */
export class VnetRouter {
  readonly #v4 = new PrefixTable(4);
  readonly #v6 = new PrefixTable(16);
  #nics: readonly NicConfig[] = [];
  #uplinkMtu: number | null;
  /** The last decision (the object {@linkcode forward} returns). */
  readonly decision: Decision = { verdict: "drop", nic: -1, length: 0, mtu: 0, reason: null };

  /** A router; `uplinkMtu` null: no uplink (unknown destinations are unreachable). */
  constructor(uplinkMtu: number | null = null) {
    this.#uplinkMtu = uplinkMtu;
  }

  /** Whether packets for no guest go to an uplink. */
  get hasUplink(): boolean {
    return this.#uplinkMtu !== null;
  }

  /** Sets or removes the uplink (its MTU, or null). */
  setUplink(mtu: number | null): void {
    this.#uplinkMtu = mtu;
  }

  /** Replaces the NICs; {@linkcode Decision.nic} indexes this list. */
  setNics(nics: readonly NicConfig[]): void {
    this.#nics = nics;
    const v4: PrefixRoute[] = [];
    const v6: PrefixRoute[] = [];
    nics.forEach((nic, i) => {
      if (nic.ipv4 !== null) {
        v4.push({ prefix: nic.ipv4.address, length: 32, nic: i });
        if (nic.profile === "lan") {
          v4.push({ prefix: nic.ipv4.address, length: nic.ipv4.prefixLength, nic: i });
        }
      }
      if (nic.ipv6 !== null) {
        v6.push({ prefix: nic.ipv6.address, length: 128, nic: i });
        if (nic.profile === "lan") {
          v6.push({ prefix: nic.ipv6.address, length: nic.ipv6.prefixLength, nic: i });
        }
      }
    });
    this.#v4.rebuild(v4);
    this.#v6.rebuild(v6);
  }

  /** The NIC whose guest owns the IPv4 address at `bytes[offset]` (LPM), or -1. */
  lookup4(bytes: Uint8Array, offset: number): number {
    return this.#v4.lookup(bytes, offset);
  }

  /** The NIC whose guest owns the IPv6 address at `bytes[offset]` (LPM), or -1. */
  lookup6(bytes: Uint8Array, offset: number): number {
    return this.#v6.lookup(bytes, offset);
  }

  /**
   * The NIC whose guest has exactly the IPv4 address at `bytes[offset]` as its configured
   * address (no prefix route), or -1: whom proxy ARP may answer for.
   */
  guest4(bytes: Uint8Array, offset: number): number {
    return this.#v4.host(bytes, offset);
  }

  /** As {@linkcode guest4}, for the IPv6 address at `bytes[offset]` (proxy NDP). */
  guest6(bytes: Uint8Array, offset: number): number {
    return this.#v6.host(bytes, offset);
  }

  #drop(reason: RouteDropReason): Decision {
    const d = this.decision;
    d.verdict = "drop";
    d.nic = -1;
    d.length = 0;
    d.mtu = 0;
    d.reason = reason;
    return d;
  }

  #set(verdict: Verdict, nic: number, length: number, mtu: number): Decision {
    const d = this.decision;
    d.verdict = verdict;
    d.nic = nic;
    d.length = length;
    d.mtu = mtu;
    d.reason = null;
    return d;
  }

  /**
   * Decides what to do with the IPv4 or IPv6 packet in `frame` (an Ethernet frame of `length`
   * bytes whose EtherType says which; from the uplink, the caller puts the packet behind 14
   * bytes it may overwrite and sets the EtherType) that came from NIC `from` (or
   * {@linkcode FROM_UPLINK}). For `deliver` and `uplink` the frame is changed in place (TTL,
   * checksum, and for `deliver` the Ethernet addresses); for every other verdict it is not.
   */
  forward(frame: Uint8Array, length: number, from: number): Decision {
    const type = (frame[12]! << 8) | frame[13]!;
    if (type === EtherType.IPV4) return this.#forward4(frame, length, from);
    if (type === EtherType.IPV6) return this.#forward6(frame, length, from);
    return this.#drop("bad_header");
  }

  #forward4(frame: Uint8Array, length: number, from: number): Decision {
    if (length < ETH + 20) return this.#drop("bad_header");
    const vihl = frame[ETH]!;
    const headerLength = (vihl & 0x0f) * 4;
    const total = (frame[ETH + 2]! << 8) | frame[ETH + 3]!;
    if (
      vihl >> 4 !== 4 || headerLength < 20 || total < headerLength || ETH + total > length ||
      !headerChecksumOk(frame, ETH, headerLength)
    ) return this.#drop("bad_header");
    const source = ETH + 12;
    const destination = ETH + 16;
    if (from !== FROM_UPLINK && this.#v4.lookup(frame, source) !== from) {
      return this.#drop("source_address");
    }
    const d0 = frame[destination]!;
    if (d0 >= 224 || d0 === 0 || d0 === 127) return this.#drop("not_routable");
    const target = this.#v4.lookup(frame, destination);
    if (target === -1 && (from === FROM_UPLINK || this.#uplinkMtu === null)) {
      return from === FROM_UPLINK ? this.#drop("no_route") : this.#set("unreachable", -1, 0, 0);
    }
    const ttl = frame[ETH + 8]!;
    if (ttl <= 1) return this.#set("ttl_exceeded", -1, 0, 0);
    const mtu = target === -1 ? this.#uplinkMtu! : this.#nics[target]!.mtu;
    if (total > mtu) {
      return (frame[ETH + 6]! & 0x40) !== 0
        ? this.#set("too_big", -1, 0, mtu)
        : this.#drop("needs_fragmentation");
    }
    const protocol = frame[ETH + 9]!;
    frame[ETH + 8] = ttl - 1;
    const checksum = (frame[ETH + 10]! << 8) | frame[ETH + 11]!;
    const updated = updateChecksum(checksum, (ttl << 8) | protocol, ((ttl - 1) << 8) | protocol);
    frame[ETH + 10] = updated >> 8;
    frame[ETH + 11] = updated & 0xff;
    return this.#deliver(frame, target, ETH + total);
  }

  #forward6(frame: Uint8Array, length: number, from: number): Decision {
    if (length < ETH + 40 || frame[ETH]! >> 4 !== 6) return this.#drop("bad_header");
    const total = 40 + ((frame[ETH + 4]! << 8) | frame[ETH + 5]!);
    if (ETH + total > length) return this.#drop("bad_header");
    const source = ETH + 8;
    const destination = ETH + 24;
    if (from !== FROM_UPLINK && this.#v6.lookup(frame, source) !== from) {
      return this.#drop("source_address");
    }
    const d0 = frame[destination]!;
    // Multicast, link-local and the unspecified/loopback block stay on their link.
    if (d0 === 0xff || (d0 === 0xfe && (frame[destination + 1]! & 0xc0) === 0x80) || d0 === 0) {
      return this.#drop("not_routable");
    }
    const target = this.#v6.lookup(frame, destination);
    if (target === -1 && (from === FROM_UPLINK || this.#uplinkMtu === null)) {
      return from === FROM_UPLINK ? this.#drop("no_route") : this.#set("unreachable", -1, 0, 0);
    }
    const hopLimit = frame[ETH + 7]!;
    if (hopLimit <= 1) return this.#set("ttl_exceeded", -1, 0, 0);
    const mtu = target === -1 ? this.#uplinkMtu! : this.#nics[target]!.mtu;
    if (total > mtu) return this.#set("too_big", -1, 0, mtu);
    frame[ETH + 7] = hopLimit - 1;
    return this.#deliver(frame, target, ETH + total);
  }

  #deliver(frame: Uint8Array, target: number, length: number): Decision {
    if (target === -1) return this.#set("uplink", -1, length, 0);
    const nic = this.#nics[target]!;
    frame.set(nic.guestMac, 0);
    frame.set(nic.gatewayMac, 6);
    return this.#set("deliver", target, length, 0);
  }
}

/** Whether the IPv4 header at `frame[offset]` sums to 0xffff (RFC 1071). */
function headerChecksumOk(frame: Uint8Array, offset: number, headerLength: number): boolean {
  let sum = 0;
  for (let i = 0; i < headerLength; i += 2) {
    sum += (frame[offset + i]! << 8) | frame[offset + i + 1]!;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}
