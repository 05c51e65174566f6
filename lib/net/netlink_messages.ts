/**
 * rtnetlink message encoding and decoding for links (`RTM_*LINK`): pure, bounds-checked, no I/O.
 * Layouts are those of `<linux/netlink.h>` and `<linux/rtnetlink.h>` (host byte order).
 *
 * @module
 */

import {
  attributeString,
  attributeU32,
  forEachAttribute,
  netlinkAlign,
  NLA_HDRLEN,
} from "./netlink_attributes.ts";

/** `nlmsghdr.nlmsg_type` values used here. */
export const NetlinkType = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
} as const;

/** `nlmsghdr.nlmsg_flags` bits. */
export const NetlinkFlag = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  /** The dump was interrupted by changes and may be inconsistent. */
  DUMP_INTR: 0x10,
  DUMP: 0x300,
} as const;

/** Multicast group bitmask for `bind()` (`RTMGRP_LINK`). */
export const RTMGRP_LINK = 0x1;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_OPERSTATE = 16;
const IFLA_EXT_MASK = 29;
const IFLA_CARRIER = 33;
const RTEXT_FILTER_SKIP_STATS = 1 << 3;
const NLMSGERR_ATTR_MSG = 1;
const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;

/** RFC 2863 operational states, as `IFLA_OPERSTATE` reports them. */
export const OPER_STATES = [
  "unknown",
  "notpresent",
  "down",
  "lowerlayerdown",
  "testing",
  "dormant",
  "up",
] as const;

/** One netlink message: header fields and its payload (a view into the received buffer). */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Uint8Array;
}

/** A link as the kernel describes it in `RTM_NEWLINK`. */
export interface Link {
  /** `ifi_family`: 0 for links; 7 (AF_BRIDGE) for bridge-port notifications. */
  family: number;
  ifindex: number;
  name: string;
  /** ARPHRD_* link type (1 = Ethernet). */
  type: number;
  /** Full 32-bit `IFF_*` flags, including `IFF_LOWER_UP`. */
  flags: number;
  mtu: number;
  /** Hardware address, or null for links without one. */
  mac: Uint8Array | null;
  operState: (typeof OPER_STATES)[number];
  /** Administratively up (`IFF_UP`). */
  up: boolean;
  /** Carrier present (`IFLA_CARRIER`, else `IFF_LOWER_UP`). */
  carrier: boolean;
}

/** A decoded `NLMSG_ERROR`: errno 0 is an acknowledgement. */
export interface NetlinkError {
  /** Positive errno, or 0 for an ACK. */
  errno: number;
  /** The kernel's extended-ack explanation, when it gave one. */
  message?: string;
}

const encoder = new TextEncoder();

/** Splits a received buffer into netlink messages; stops at the first damaged header. */
export function parseNetlinkMessages(buffer: Uint8Array): NetlinkMessage[] {
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const messages: NetlinkMessage[] = [];
  let offset = 0;
  while (offset + NLMSG_HDRLEN <= buffer.length) {
    const len = view.getUint32(offset, true);
    if (len < NLMSG_HDRLEN || offset + len > buffer.length) break;
    messages.push({
      type: view.getUint16(offset + 4, true),
      flags: view.getUint16(offset + 6, true),
      seq: view.getUint32(offset + 8, true),
      pid: view.getUint32(offset + 12, true),
      payload: buffer.subarray(offset + NLMSG_HDRLEN, offset + len),
    });
    offset += netlinkAlign(len);
  }
  return messages;
}

/** Decodes the payload of `RTM_NEWLINK`/`RTM_DELLINK`, or returns null when it is too short. */
export function parseLink(message: NetlinkMessage): Link | null {
  const p = message.payload;
  if (p.length < IFINFOMSG_LEN) return null;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const flags = view.getUint32(8, true);
  const link: Link = {
    family: p[0]!,
    ifindex: view.getInt32(4, true),
    name: "",
    type: view.getUint16(2, true),
    flags,
    mtu: 0,
    mac: null,
    operState: "unknown",
    up: (flags & IFF_UP) !== 0,
    carrier: (flags & IFF_LOWER_UP) !== 0,
  };
  forEachAttribute(p.subarray(IFINFOMSG_LEN), (type, value) => {
    switch (type) {
      case IFLA_IFNAME:
        link.name = attributeString(value);
        break;
      case IFLA_MTU:
        link.mtu = attributeU32(value) ?? 0;
        break;
      case IFLA_ADDRESS:
        link.mac = value.slice();
        break;
      case IFLA_OPERSTATE:
        link.operState = OPER_STATES[value[0] ?? 0] ?? "unknown";
        break;
      case IFLA_CARRIER:
        if (value.length >= 1) link.carrier = value[0] === 1;
        break;
    }
  });
  return link;
}

/** Decodes an `NLMSG_ERROR` payload, including the extended-ack message when present. */
export function parseNetlinkError(message: NetlinkMessage): NetlinkError {
  const p = message.payload;
  if (p.length < 4) return { errno: 0 };
  const code = new DataView(p.buffer, p.byteOffset, 4).getInt32(0, true);
  const errno = code < 0 ? -code : 0;
  const result: NetlinkError = { errno };
  // NLM_F_CAPPED (0x100) means the kernel did not echo the request body, only its header.
  const echoed = (message.flags & 0x100) !== 0
    ? NLMSG_HDRLEN
    : attributeU32(p.subarray(4)) ?? NLMSG_HDRLEN;
  const tlvStart = 4 + netlinkAlign(echoed);
  if ((message.flags & 0x200) !== 0 && tlvStart <= p.length) { // NLM_F_ACK_TLVS
    forEachAttribute(p.subarray(tlvStart), (type, value) => {
      if (type === NLMSGERR_ATTR_MSG) result.message = attributeString(value);
    });
  }
  return result;
}

/** Options for {@linkcode encodeGetLink}. */
export interface GetLinkRequest {
  seq: number;
  /** Ask for one link by index. */
  ifindex?: number;
  /** Ask for one link by name. */
  name?: string;
}

/**
 * Encodes `RTM_GETLINK`: a dump of every link when neither `ifindex` nor `name` is given,
 * otherwise a request for that one link. Statistics are skipped to keep replies small.
 */
export function encodeGetLink(request: GetLinkRequest): Uint8Array {
  const name = request.name === undefined ? null : encoder.encode(request.name + "\0");
  const extMaskLen = NLA_HDRLEN + 4;
  const nameLen = name === null ? 0 : netlinkAlign(NLA_HDRLEN + name.length);
  const total = NLMSG_HDRLEN + IFINFOMSG_LEN + extMaskLen + nameLen;
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  const dump = request.ifindex === undefined && name === null;
  view.setUint32(0, total, true);
  view.setUint16(4, NetlinkType.GETLINK, true);
  view.setUint16(6, NetlinkFlag.REQUEST | (dump ? NetlinkFlag.DUMP : 0), true);
  view.setUint32(8, request.seq, true);
  // ifinfomsg: family AF_UNSPEC, then the index (0 = not selecting by index).
  view.setInt32(NLMSG_HDRLEN + 4, request.ifindex ?? 0, true);
  let offset = NLMSG_HDRLEN + IFINFOMSG_LEN;
  view.setUint16(offset, extMaskLen, true);
  view.setUint16(offset + 2, IFLA_EXT_MASK, true);
  view.setUint32(offset + 4, RTEXT_FILTER_SKIP_STATS, true);
  offset += extMaskLen;
  if (name !== null) {
    view.setUint16(offset, NLA_HDRLEN + name.length, true);
    view.setUint16(offset + 2, IFLA_IFNAME, true);
    bytes.set(name, offset + NLA_HDRLEN);
  }
  return bytes;
}
