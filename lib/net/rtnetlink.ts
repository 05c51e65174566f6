/**
 * A NETLINK_ROUTE socket and synchronous link and address queries. rtnetlink answers a request while the
 * request is being sent, and produces further dump parts while they are being read, so the
 * queries here need no waiting.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { nk } from "../../ffi/native.ts";
import { NetkitError, NetkitOsError, unwrap } from "../errors.ts";
import { OwnedFd } from "./owned_fd.ts";
import {
  type Address,
  encodeGetAddresses,
  encodeGetLink,
  type GetLinkRequest,
  type Link,
  NetlinkFlag,
  type NetlinkMessage,
  NetlinkType,
  parseAddress,
  parseLink,
  parseNetlinkError,
  parseNetlinkMessages,
} from "./netlink_messages.ts";

/** Large enough for any single netlink datagram the kernel sends (it caps them at 32 KiB). */
const RECEIVE_BUFFER_BYTES = 64 * 1024;
/** Dumps interrupted by concurrent changes are retried this many times. */
export const MAX_DUMP_ATTEMPTS = 5;

/** Options for {@linkcode RtnetlinkSocket.open}. */
export interface RtnetlinkOptions {
  /** `RTMGRP_*` bitmask of event groups to subscribe to (default none). */
  groups?: number;
  /** Receive buffer size in bytes (default: the kernel's). */
  rcvbuf?: number;
}

/** A nonblocking NETLINK_ROUTE socket. Requires `--allow-ffi`. */
export class RtnetlinkSocket extends OwnedFd {
  readonly #buffer = new Uint8Array(RECEIVE_BUFFER_BYTES);
  readonly #subscribed: boolean;
  #seq = 1;

  private constructor(fd: number, subscribed: boolean) {
    super(fd);
    this.#subscribed = subscribed;
  }

  /** Opens the socket, subscribed to `groups`. */
  static open(options: RtnetlinkOptions = {}): RtnetlinkSocket {
    const fd = unwrap(
      nk.nk_netlink_open(options.groups ?? 0, options.rcvbuf ?? 0),
      "open rtnetlink socket",
    );
    return new RtnetlinkSocket(fd, (options.groups ?? 0) !== 0);
  }

  /** A fresh sequence number for a request. */
  nextSeq(): number {
    return this.#seq++;
  }

  /** Sends one encoded request. */
  send(request: Uint8Array): void {
    unwrap(nk.nk_write(this.fd, request, request.length), "send rtnetlink request");
  }

  /**
   * Reads one datagram and returns its messages: an empty array when nothing is queued.
   * Throws {@linkcode NetkitOsError} with `ENOBUFS` when the kernel dropped events (overrun).
   */
  receive(): NetlinkMessage[] {
    const n = nk.nk_read(this.fd, this.#buffer, this.#buffer.length);
    if (n === -Errno.EAGAIN) return [];
    unwrap(n, "receive from rtnetlink");
    return parseNetlinkMessages(this.#buffer.subarray(0, n));
  }

  /**
   * Sends `RTM_GETLINK` and collects the links of the reply. Messages that are not part of the
   * reply (events on a subscribed socket) are passed to `other` in arrival order. `interrupted`
   * says the kernel flagged the dump as inconsistent because links changed while it ran. On a
   * subscribed socket, a reply crowded out by notifications throws {@linkcode NetkitOsError}
   * `ENOBUFS`, as an overrun does: the caller asks again.
   */
  getLinks(
    request: Omit<GetLinkRequest, "seq">,
    other?: (message: NetlinkMessage) => void,
  ): { links: Link[]; interrupted: boolean } {
    const seq = this.nextSeq();
    const dump = request.ifindex === undefined && request.name === undefined;
    const reply = this.#query(encodeGetLink({ ...request, seq }), seq, {
      noun: "a link",
      what: describe(request),
      dump,
      replyType: NetlinkType.NEWLINK,
      parse: parseLink,
      other,
    });
    return { links: reply.entries, interrupted: reply.interrupted };
  }

  /**
   * Dumps every IPv4 and IPv6 address with `RTM_GETADDR`, as {@linkcode getLinks} dumps links
   * (other messages to `other`; `interrupted` when addresses changed during the dump).
   */
  getAddresses(
    other?: (message: NetlinkMessage) => void,
  ): { addresses: Address[]; interrupted: boolean } {
    const seq = this.nextSeq();
    const reply = this.#query(encodeGetAddresses(seq), seq, {
      noun: "an address",
      what: "dump addresses",
      dump: true,
      replyType: NetlinkType.NEWADDR,
      parse: parseAddress,
      other,
    });
    return { addresses: reply.entries, interrupted: reply.interrupted };
  }

  /** Sends `request` and collects the parsed `replyType` messages carrying `seq`. */
  #query<T>(request: Uint8Array, seq: number, how: {
    /** The request for the no-reply message: "a link". */
    noun: string;
    /** The request for an error: "dump addresses". */
    what: string;
    dump: boolean;
    replyType: number;
    parse: (message: NetlinkMessage) => T | null;
    other: ((message: NetlinkMessage) => void) | undefined;
  }): { entries: T[]; interrupted: boolean } {
    this.send(request);
    const reply = { entries: [] as T[], interrupted: false };
    for (;;) {
      const messages = this.receive();
      if (messages.length === 0) {
        // rtnetlink answers while the request is sent or read, so a missing reply was dropped:
        // on a subscribed socket, notifications can fill the receive buffer first.
        if (this.#subscribed) {
          throw new NetkitOsError(`${how.what}: the reply was dropped`, Errno.ENOBUFS);
        }
        throw new NetkitError(
          `rtnetlink gave no reply to ${how.noun} query; the kernel is not answering`,
        );
      }
      for (const message of messages) {
        if (message.seq !== seq) {
          how.other?.(message);
          continue;
        }
        if ((message.flags & NetlinkFlag.DUMP_INTR) !== 0) reply.interrupted = true;
        if (message.type === NetlinkType.ERROR) {
          const { errno, message: why } = parseNetlinkError(message);
          if (errno === 0) return reply;
          const err = new NetkitOsError(how.what, errno);
          if (why) err.message += `: ${why}`;
          throw err;
        }
        if (message.type === NetlinkType.DONE) return reply;
        if (message.type === how.replyType) {
          const entry = how.parse(message);
          if (entry !== null) reply.entries.push(entry);
          if (!how.dump && (message.flags & NetlinkFlag.MULTI) === 0) return reply;
        }
      }
    }
  }
}

function describe(request: Omit<GetLinkRequest, "seq">): string {
  if (request.name !== undefined) return `look up interface "${request.name}"`;
  if (request.ifindex !== undefined) return `look up interface index ${request.ifindex}`;
  return "dump interfaces";
}

/** Every link in the current network namespace. Requires `--allow-ffi`. */
export function dumpLinks(): Link[] {
  return consistentDump((socket) => {
    const reply = socket.getLinks({});
    return { entries: reply.links, interrupted: reply.interrupted };
  });
}

/**
 * Every IPv4 and IPv6 address in the current network namespace, in the kernel's order.
 * Requires `--allow-ffi`.
 */
export function dumpAddresses(): Address[] {
  return consistentDump((socket) => {
    const reply = socket.getAddresses();
    return { entries: reply.addresses, interrupted: reply.interrupted };
  });
}

/** A dump retried while the kernel flags it inconsistent; the last attempt is taken as it is. */
function consistentDump<T>(
  read: (socket: RtnetlinkSocket) => { entries: T[]; interrupted: boolean },
): T[] {
  using socket = RtnetlinkSocket.open();
  for (let attempt = 1; attempt < MAX_DUMP_ATTEMPTS; attempt++) {
    const reply = read(socket);
    if (!reply.interrupted) return reply.entries;
  }
  return read(socket).entries;
}

/**
 * One link by name or index, as the kernel sees it now (carrier included).
 * Throws {@linkcode NetkitOsError} `ENODEV` when there is no such link. Requires `--allow-ffi`.
 */
export function getLink(which: { name: string } | { ifindex: number }): Link {
  using socket = RtnetlinkSocket.open();
  const [link] = socket.getLinks(which).links;
  if (link === undefined) throw new NetkitOsError(describe(which), Errno.ENODEV);
  return link;
}
