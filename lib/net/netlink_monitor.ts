/**
 * The skeleton every rtnetlink table monitor shares (links, addresses): subscribe to the
 * notification groups, then dump the table, so that no change can fall between the two; apply
 * notifications as they come; when the kernel drops notifications (`ENOBUFS`), read the whole
 * table again and report the differences after a resync event. A monitor supplies the dump, how
 * one notification changes its table, and how a fresh dump replaces it.
 * Requires `--allow-ffi`.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { NetkitError, NetkitOsError } from "../errors.ts";
import { NetlinkFlag, type NetlinkMessage } from "./netlink_messages.ts";
import { Poller } from "./poller.ts";
import { MAX_DUMP_ATTEMPTS, RtnetlinkSocket } from "./rtnetlink.ts";

/** One dump's entries, and whether the kernel flagged it inconsistent. */
export interface DumpReply<Entry> {
  /** Every entry of the reply. */
  entries: Entry[];
  /** The table changed while the dump ran: it must be read again. */
  interrupted: boolean;
}

/**
 * A notification, not a late part of an abandoned dump. Its sequence number does not tell: a
 * change made by a request (`ip addr add`) is announced with that request's number and port.
 * Every part of a dump carries `NLM_F_MULTI`; a notification never does.
 */
function isNotification(message: NetlinkMessage): boolean {
  return (message.flags & NetlinkFlag.MULTI) === 0;
}

/**
 * Empties the socket's queue. Everything queued predates the dump about to be taken, and after
 * an overrun it has gaps: replaying a withdrawal whose re-announcement was lost would roll the
 * fresh table back, so none of it is applied.
 */
function discardQueued(socket: RtnetlinkSocket): void {
  for (;;) {
    try {
      if (socket.receive().length === 0) return;
    } catch (err) {
      if (!(err instanceof NetkitOsError && err.errno === Errno.ENOBUFS)) throw err;
    }
  }
}

/** Keeps a kernel table current from rtnetlink notifications and reports the changes. */
export abstract class NetlinkMonitor<Entry, Event> implements AsyncDisposable {
  #socket: RtnetlinkSocket | null;
  #poller: Poller | null = null;
  #resyncs = 0;
  /** A re-read failed (the table changed all through it): the next poll tries again. */
  #stale = false;

  /** Subscribes to `groups`; the subclass calls {@linkcode start} once its own fields exist. */
  protected constructor(groups: number, rcvbuf: number) {
    this.#socket = RtnetlinkSocket.open({ groups, rcvbuf });
  }

  /** Sends the table's dump request on `socket`, passing every other message to `other`. */
  protected abstract readDump(
    socket: RtnetlinkSocket,
    other: (message: NetlinkMessage) => void,
  ): DumpReply<Entry>;

  /** Applies one notification to the table, pushing what changed to `events`. */
  protected abstract apply(message: NetlinkMessage, events: Event[]): void;

  /**
   * Replaces the table with a fresh dump's entries, pushing the differences to `events`, or
   * reporting nothing when `events` is null (the first read).
   */
  protected abstract reset(entries: Entry[], events: Event[] | null): void;

  /** The event that announces a re-read table. */
  protected abstract resyncEvent(): Event;

  /** Names for errors: `{ table: "interface table", entries: "links" }`. */
  protected abstract readonly names: { table: string; entries: string };

  /** Reads the table for the first time; closes the socket if that fails. */
  protected start(): void {
    try {
      const { entries, pending } = this.#dump();
      this.reset(entries, null);
      for (const message of pending) this.apply(message, []);
    } catch (err) {
      this.#socket?.close();
      this.#socket = null;
      throw err;
    }
  }

  /** The notification socket's descriptor, for a daemon's own poll loop; -1 once closed. */
  get fd(): number {
    return this.#socket?.fd ?? -1;
  }

  /** How many times lost notifications forced a re-read of the table. */
  get resyncs(): number {
    return this.#resyncs;
  }

  /**
   * Whether the table may be out of date: a re-read after lost notifications failed (its
   * entries kept changing through every attempt). {@linkcode poll} tries again; a daemon calls
   * it soon even if the descriptor stays quiet.
   */
  get stale(): boolean {
    return this.#stale;
  }

  /**
   * Processes every queued notification without waiting; returns the resulting events. Throws
   * when a re-read fails; the monitor is then {@linkcode stale} and the next call tries again.
   */
  poll(): Event[] {
    const socket = this.#socket;
    const events: Event[] = [];
    if (socket === null) return events;
    if (this.#stale) events.push(...this.#resync());
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
      for (const message of messages) if (isNotification(message)) this.apply(message, events);
    }
  }

  /**
   * Yields events as they happen until `signal` aborts or the monitor closes. Daemons with
   * their own poll loop use {@linkcode fd} and {@linkcode poll} instead.
   */
  async *events(signal?: AbortSignal): AsyncGenerator<Event> {
    if (this.#poller !== null) {
      throw new Error(`${this.constructor.name}.events() is already running`);
    }
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

  /** Re-reads the table after an overrun and reports what changed. */
  #resync(): Event[] {
    this.#resyncs++;
    this.#stale = true;
    const { entries, pending } = this.#dump();
    this.#stale = false;
    const events: Event[] = [this.resyncEvent()];
    this.reset(entries, events);
    for (const message of pending) this.apply(message, events);
    return events;
  }

  /** A consistent dump, plus the notifications that arrived while it was read. */
  #dump(): { entries: Entry[]; pending: NetlinkMessage[] } {
    const socket = this.#socket!;
    for (let attempt = 1; attempt <= MAX_DUMP_ATTEMPTS; attempt++) {
      discardQueued(socket);
      const pending: NetlinkMessage[] = [];
      let reply: DumpReply<Entry>;
      try {
        reply = this.readDump(socket, (message) => {
          // A copy: the payload is a view of the socket's buffer, which the next read reuses.
          if (isNotification(message)) {
            pending.push({ ...message, payload: message.payload.slice() });
          }
        });
      } catch (err) {
        if (err instanceof NetkitOsError && err.errno === Errno.ENOBUFS) continue;
        throw err;
      }
      if (reply.interrupted) continue;
      return { entries: reply.entries, pending };
    }
    throw new NetkitError(
      `Could not read a consistent ${this.names.table} in ${MAX_DUMP_ATTEMPTS} attempts: ${this.names.entries} are changing too fast`,
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
