/**
 * Live view of the network namespace's links: a table from an rtnetlink dump kept current by
 * link notifications, turned into typed events (added, removed, renamed, admin and carrier
 * up/down, MTU and address changes). When the kernel drops notifications (`ENOBUFS`), the
 * table is read again and the differences are reported after a `resync` event.
 * Requires `--allow-ffi`.
 *
 * @module
 */

import { bytesEqual } from "../packet/bytes.ts";
import {
  type Link,
  type NetlinkMessage,
  NetlinkType,
  parseLink,
  RTMGRP_LINK,
} from "./netlink_messages.ts";
import { type DumpReply, NetlinkMonitor } from "./netlink_monitor.ts";
import type { RtnetlinkSocket } from "./rtnetlink.ts";

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
  return a === null || b === null ? a === b : bytesEqual(a, b);
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
export class LinkMonitor extends NetlinkMonitor<Link, LinkEvent> {
  #links = new Map<number, Link>();
  /** Names for errors. */
  protected readonly names = { table: "interface table", entries: "links" };

  private constructor(rcvbuf: number) {
    super(RTMGRP_LINK, rcvbuf);
  }

  /** Subscribes to link notifications, then reads the current table. */
  static open(options: LinkMonitorOptions = {}): LinkMonitor {
    const monitor = new LinkMonitor(options.rcvbuf ?? 1 << 20);
    monitor.start();
    return monitor;
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

  /** Dumps the links. */
  protected readDump(
    socket: RtnetlinkSocket,
    other: (message: NetlinkMessage) => void,
  ): DumpReply<Link> {
    const reply = socket.getLinks({}, other);
    return { entries: reply.links, interrupted: reply.interrupted };
  }

  /** Applies one `RTM_NEWLINK`/`RTM_DELLINK`. */
  protected apply(message: NetlinkMessage, events: LinkEvent[]): void {
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

  /** Takes a fresh dump as the table, reporting what differs from the old one. */
  protected reset(links: Link[], events: LinkEvent[] | null): void {
    const table = new Map<number, Link>();
    for (const link of links) if (link.family === AF_UNSPEC) table.set(link.ifindex, link);
    if (events !== null) {
      for (const [ifindex, before] of this.#links) {
        const after = table.get(ifindex);
        if (after === undefined) events.push({ type: "removed", link: before });
        else events.push(...diffLink(before, after));
      }
      for (const [ifindex, link] of table) {
        if (!this.#links.has(ifindex)) events.push({ type: "added", link });
      }
    }
    this.#links = table;
  }

  /** The resync event. */
  protected resyncEvent(): LinkEvent {
    return { type: "resync" };
  }
}
