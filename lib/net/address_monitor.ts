/**
 * Live view of the network namespace's IPv4 and IPv6 addresses: a table from an rtnetlink dump
 * kept current by address notifications, turned into typed events (added, changed, removed).
 * When the kernel drops notifications (`ENOBUFS`), the table is read again and the differences
 * are reported after a `resync` event. The table is capped: addresses beyond the cap are refused
 * and counted, never stored.
 * Requires `--allow-ffi` (the {@linkcode AddressTable} alone does not).
 *
 * @example The table alone, fed by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { AddressTable } from "./address_monitor.ts";
 *
 * const table = new AddressTable(1);
 * const address = {
 *   ifindex: 2, family: 4 as const, address: new Uint8Array([192, 0, 2, 1]), peer: null,
 *   prefixLength: 24, flags: 0x80, scope: 0, label: "eth0",
 * };
 * assert.equal(table.set(address)?.type, "added");
 * assert.equal(table.set({ ...address, address: new Uint8Array([192, 0, 2, 2]) }), null);
 * assert.equal(table.refused, 1);
 * ```
 *
 * @module
 */

import {
  type Address,
  type NetlinkMessage,
  NetlinkType,
  parseAddress,
  RTMGRP_IPV4_IFADDR,
  RTMGRP_IPV6_IFADDR,
} from "./netlink_messages.ts";
import { type DumpReply, NetlinkMonitor } from "./netlink_monitor.ts";
import type { RtnetlinkSocket } from "./rtnetlink.ts";
import { compareBytes } from "../packet/bytes.ts";

/** A change to the address table, or a resynchronisation after lost notifications. */
export type AddressEvent =
  | { type: "added"; address: Address }
  | { type: "removed"; address: Address }
  /** Same address, other flags, scope, label or (IPv6) prefix length: e.g. DAD finished. */
  | { type: "changed"; address: Address; before: Address }
  | { type: "resync" };

/** The default cap of {@linkcode AddressTable}: far above any real namespace. */
export const MAX_ADDRESSES = 65_536;

/** Options for {@linkcode AddressMonitor.open}. */
export interface AddressMonitorOptions {
  /** Receive buffer for notifications in bytes (default 1 MiB). */
  rcvbuf?: number;
  /** Most addresses kept (default {@linkcode MAX_ADDRESSES}); more are refused and counted. */
  maxAddresses?: number;
}

/**
 * What the kernel itself tells addresses apart by: an IPv6 address is unique on its interface;
 * IPv4 can hold the same local address with other prefix lengths or peers.
 */
function identity(a: Address): string {
  const base = `${a.ifindex} ${a.address.join(".")}`;
  return a.family === 6 ? base : `${base}/${a.prefixLength} ${a.peer?.join(".") ?? ""}`;
}

/** {@linkcode compareBytes}, with no peer (null) first. */
function comparePeers(a: Uint8Array | null, b: Uint8Array | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  return compareBytes(a, b);
}

/** Deterministic order: interface, IPv4 before IPv6, address, prefix length, peer. */
export function compareAddresses(a: Address, b: Address): number {
  return a.ifindex - b.ifindex || a.family - b.family || compareBytes(a.address, b.address) ||
    a.prefixLength - b.prefixLength || comparePeers(a.peer, b.peer);
}

function sameState(a: Address, b: Address): boolean {
  return a.prefixLength === b.prefixLength && a.flags === b.flags && a.scope === b.scope &&
    a.label === b.label && comparePeers(a.peer, b.peer) === 0;
}

/** The address table: pure, capped, reporting each change as an event. */
export class AddressTable {
  #entries = new Map<string, Address>();
  #refused = 0;

  /** A table that keeps at most `capacity` addresses. */
  constructor(readonly capacity: number = MAX_ADDRESSES) {}

  /** How many addresses were refused because the table was full. */
  get refused(): number {
    return this.#refused;
  }

  /** How many addresses it holds. */
  get size(): number {
    return this.#entries.size;
  }

  /** Every address, in {@linkcode compareAddresses} order. */
  list(): Address[] {
    return [...this.#entries.values()].sort(compareAddresses);
  }

  /** An address announced (`RTM_NEWADDR`): the event, or null when nothing changed or it was refused. */
  set(address: Address): AddressEvent | null {
    const key = identity(address);
    const before = this.#entries.get(key);
    if (before === undefined && this.#entries.size >= this.capacity) {
      this.#refused++;
      return null;
    }
    this.#entries.set(key, address);
    if (before === undefined) return { type: "added", address };
    return sameState(before, address) ? null : { type: "changed", address, before };
  }

  /** An address withdrawn (`RTM_DELADDR`): the event, or null when it was not in the table. */
  delete(address: Address): AddressEvent | null {
    const key = identity(address);
    const before = this.#entries.get(key);
    if (before === undefined) return null;
    this.#entries.delete(key);
    return { type: "removed", address: before };
  }

  /** Takes `addresses` (a fresh dump) as the whole table; returns what differs from before. */
  replace(addresses: readonly Address[]): AddressEvent[] {
    const old = this.#entries;
    this.#entries = new Map();
    const events: AddressEvent[] = [];
    for (const address of addresses) {
      const key = identity(address);
      if (this.#entries.has(key)) continue;
      if (this.#entries.size >= this.capacity) {
        this.#refused++;
        continue;
      }
      this.#entries.set(key, address);
      const before = old.get(key);
      if (before === undefined) events.push({ type: "added", address });
      else if (!sameState(before, address)) events.push({ type: "changed", address, before });
    }
    for (const [key, before] of old) {
      if (!this.#entries.has(key)) events.push({ type: "removed", address: before });
    }
    return events;
  }
}

/** Keeps the namespace's address table and reports changes. */
export class AddressMonitor extends NetlinkMonitor<Address, AddressEvent> {
  readonly #table: AddressTable;
  /** Names for errors. */
  protected readonly names = { table: "address table", entries: "addresses" };

  private constructor(options: AddressMonitorOptions) {
    super(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, options.rcvbuf ?? 1 << 20);
    this.#table = new AddressTable(options.maxAddresses ?? MAX_ADDRESSES);
  }

  /** Subscribes to IPv4 and IPv6 address notifications, then reads the current table. */
  static open(options: AddressMonitorOptions = {}): AddressMonitor {
    const monitor = new AddressMonitor(options);
    monitor.start();
    return monitor;
  }

  /** Every known address, in {@linkcode compareAddresses} order (interface, family, address). */
  addresses(): Address[] {
    return this.#table.list();
  }

  /** How many addresses were refused because the table was full. */
  get refused(): number {
    return this.#table.refused;
  }

  /** Dumps every address. */
  protected readDump(
    socket: RtnetlinkSocket,
    other: (message: NetlinkMessage) => void,
  ): DumpReply<Address> {
    const reply = socket.getAddresses(other);
    return { entries: reply.addresses, interrupted: reply.interrupted };
  }

  /** Applies one `RTM_NEWADDR`/`RTM_DELADDR`. */
  protected apply(message: NetlinkMessage, events: AddressEvent[]): void {
    if (message.type !== NetlinkType.NEWADDR && message.type !== NetlinkType.DELADDR) return;
    const address = parseAddress(message);
    if (address === null) return;
    const event = message.type === NetlinkType.NEWADDR
      ? this.#table.set(address)
      : this.#table.delete(address);
    if (event !== null) events.push(event);
  }

  /** Takes a fresh dump as the table, reporting what differs from the old one. */
  protected reset(addresses: Address[], events: AddressEvent[] | null): void {
    const changes = this.#table.replace(addresses);
    events?.push(...changes);
  }

  /** The resync event. */
  protected resyncEvent(): AddressEvent {
    return { type: "resync" };
  }
}
