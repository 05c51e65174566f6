/**
 * Live view of the network namespace's links: a table from an rtnetlink dump kept current by
 * link notifications, turned into typed events (added, removed, renamed, admin and carrier
 * up/down, MTU and address changes). When the kernel drops notifications (`ENOBUFS`), the
 * table is read again and the differences are reported after a `resync` event.
 * Requires `--allow-ffi`.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { NetkitError, NetkitOsError } from "../errors.ts";
import {
  type Link,
  type NetlinkMessage,
  NetlinkType,
  parseLink,
  RTMGRP_LINK,
} from "./netlink_messages.ts";
import { Poller } from "./poller.ts";
import { MAX_DUMP_ATTEMPTS, RtnetlinkSocket } from "./rtnetlink.ts";

/** A change to one link, or a resynchronisation after lost notifications. */
export type LinkEvent =
  | { type: "added"; link: Link }
  | { type: "removed"; link: Link }
  | { type: "renamed"; link: Link; oldName: string }
  | { type: "admin"; link: Link; up: boolean }
  | { type: "carrier"; link: Link; up: boolean }
  | { type: "mtu"; link: Link; oldMtu: number }
  | { type: "address"; link: Link; oldMac: Uint8Array | null }
  | { type: "resync" };

/** Options for {@linkcode LinkMonitor.open}. */
export interface LinkMonitorOptions {
  /** Receive buffer for notifications in bytes (default 1 MiB). */
  rcvbuf?: number;
}

const AF_UNSPEC = 0;

function sameMac(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The differences between two states of one link, as events. */
export function diffLink(before: Link, after: Link): LinkEvent[] {
  const events: LinkEvent[] = [];
  if (before.name !== after.name) {
    events.push({ type: "renamed", link: after, oldName: before.name });
  }
  if (before.up !== after.up) events.push({ type: "admin", link: after, up: after.up });
  if (before.carrier !== after.carrier) {
    events.push({ type: "carrier", link: after, up: after.carrier });
  }
  if (before.mtu !== after.mtu) events.push({ type: "mtu", link: after, oldMtu: before.mtu });
  if (!sameMac(before.mac, after.mac)) {
    events.push({ type: "address", link: after, oldMac: before.mac });
  }
  return events;
}

/** Keeps the link table and reports changes. */
export class LinkMonitor implements AsyncDisposable {
  #socket: RtnetlinkSocket | null;
  #links = new Map<number, Link>();
  #poller: Poller | null = null;
  #resyncs = 0;

  private constructor(socket: RtnetlinkSocket) {
    this.#socket = socket;
  }

  /** Subscribes to link notifications, then reads the current table. */
  static open(options: LinkMonitorOptions = {}): LinkMonitor {
    // Subscribing before the dump means no change can fall between the two.
    const socket = RtnetlinkSocket.open({ groups: RTMGRP_LINK, rcvbuf: options.rcvbuf ?? 1 << 20 });
    const monitor = new LinkMonitor(socket);
    try {
      const early = monitor.#dump();
      monitor.#links = early.table;
      for (const message of early.pending) monitor.#apply(message, []);
    } catch (err) {
      socket.close();
      throw err;
    }
    return monitor;
  }

  /** The notification socket's descriptor, for a daemon's own poll loop; -1 once closed. */
  get fd(): number {
    return this.#socket?.fd ?? -1;
  }

  /** How many times lost notifications forced a re-read of the table. */
  get resyncs(): number {
    return this.#resyncs;
  }

  /** Every known link, by index. */
  links(): Link[] {
    return [...this.#links.values()].sort((a, b) => a.ifindex - b.ifindex);
  }

  /** The link with index `ifindex`. */
  get(ifindex: number): Link | undefined {
    return this.#links.get(ifindex);
  }

  /** The link currently named `name`. */
  find(name: string): Link | undefined {
    for (const link of this.#links.values()) if (link.name === name) return link;
    return undefined;
  }

  /** Processes every queued notification without waiting; returns the resulting events. */
  poll(): LinkEvent[] {
    const socket = this.#socket;
    const events: LinkEvent[] = [];
    if (socket === null) return events;
    for (;;) {
      let messages: NetlinkMessage[];
      try {
        messages = socket.receive();
      } catch (err) {
        if (err instanceof NetkitOsError && err.errno === Errno.ENOBUFS) {
          events.push(...this.#resync());
          continue;
        }
        throw err;
      }
      if (messages.length === 0) return events;
      for (const message of messages) this.#apply(message, events);
    }
  }

  /**
   * Yields events as they happen until `signal` aborts or the monitor closes. Daemons with
   * their own poll loop use {@linkcode fd} and {@linkcode poll} instead.
   */
  async *events(signal?: AbortSignal): AsyncGenerator<LinkEvent> {
    if (this.#poller !== null) throw new Error("LinkMonitor.events() is already running");
    const poller = new Poller();
    this.#poller = poller;
    const wake = () => poller.wake();
    signal?.addEventListener("abort", wake);
    try {
      while (this.#socket !== null && !signal?.aborted) {
        const events = this.poll();
        for (const event of events) yield event;
        if (events.length === 0) await poller.wait([this.#socket.fd], -1);
      }
    } finally {
      signal?.removeEventListener("abort", wake);
      this.#poller = null;
      await poller.close();
    }
  }

  #apply(message: NetlinkMessage, events: LinkEvent[]): void {
    if (message.type !== NetlinkType.NEWLINK && message.type !== NetlinkType.DELLINK) return;
    const link = parseLink(message);
    // AF_BRIDGE messages describe bridge ports joining or leaving, not links coming and going.
    if (link === null || link.family !== AF_UNSPEC) return;
    const before = this.#links.get(link.ifindex);
    if (message.type === NetlinkType.DELLINK) {
      if (before === undefined) return;
      this.#links.delete(link.ifindex);
      events.push({ type: "removed", link: before });
      return;
    }
    this.#links.set(link.ifindex, link);
    if (before === undefined) events.push({ type: "added", link });
    else events.push(...diffLink(before, link));
  }

  /** Re-reads the table after an overrun and reports what changed. */
  #resync(): LinkEvent[] {
    this.#resyncs++;
    // Everything still queued predates the dump about to be taken: applying it afterwards
    // could roll links back, so it is dropped.
    const socket = this.#socket!;
    for (;;) {
      try {
        if (socket.receive().length === 0) break;
      } catch (err) {
        if (!(err instanceof NetkitOsError && err.errno === Errno.ENOBUFS)) throw err;
      }
    }
    const { table, pending } = this.#dump();
    const events: LinkEvent[] = [{ type: "resync" }];
    for (const [ifindex, before] of this.#links) {
      const after = table.get(ifindex);
      if (after === undefined) events.push({ type: "removed", link: before });
      else events.push(...diffLink(before, after));
    }
    for (const [ifindex, link] of table) {
      if (!this.#links.has(ifindex)) events.push({ type: "added", link });
    }
    this.#links = table;
    for (const message of pending) this.#apply(message, events);
    return events;
  }

  /** A consistent dump, plus the notifications that arrived while it was read. */
  #dump(): { table: Map<number, Link>; pending: NetlinkMessage[] } {
    const socket = this.#socket!;
    for (let attempt = 1; attempt <= MAX_DUMP_ATTEMPTS; attempt++) {
      const pending: NetlinkMessage[] = [];
      let reply: { links: Link[]; interrupted: boolean };
      try {
        reply = socket.getLinks({}, (message) => {
          if (message.seq === 0) pending.push(message);
        });
      } catch (err) {
        if (err instanceof NetkitOsError && err.errno === Errno.ENOBUFS) continue;
        throw err;
      }
      if (reply.interrupted) continue;
      const table = new Map<number, Link>();
      for (const link of reply.links) if (link.family === AF_UNSPEC) table.set(link.ifindex, link);
      return { table, pending };
    }
    throw new NetkitError(
      `Could not read a consistent interface table in ${MAX_DUMP_ATTEMPTS} attempts: links are changing too fast`,
    );
  }

  /** Stops monitoring; an {@linkcode events} loop ends. Safe to repeat. */
  async close(): Promise<void> {
    const socket = this.#socket;
    if (socket === null) return;
    this.#socket = null;
    const poller = this.#poller;
    if (poller !== null) {
      poller.wake();
      await poller.close();
    }
    socket.close();
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
