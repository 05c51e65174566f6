/**
 * rtnetlink message encoding and decoding for links (`RTM_*LINK`) and addresses (`RTM_*ADDR`):
 * pure, bounds-checked, no I/O.
 * Layouts are those of `<linux/netlink.h>` and `<linux/rtnetlink.h>` (host byte order).
 *
 * @module
 */

import { bytesEqual } from "../packet/bytes.ts";
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
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
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
/** Multicast group bitmask for IPv4 address changes (`RTMGRP_IPV4_IFADDR`). */
export const RTMGRP_IPV4_IFADDR = 0x10;
/** Multicast group bitmask for IPv6 address changes (`RTMGRP_IPV6_IFADDR`). */
export const RTMGRP_IPV6_IFADDR = 0x100;

/** `IFA_F_*` address flag bits, as {@linkcode Address.flags} carries them. */
export const AddressFlag = {
  /** IPv4: not the first address of its subnet on the interface. IPv6: a temporary address. */
  SECONDARY: 0x1,
  NODAD: 0x2,
  OPTIMISTIC: 0x4,
  /** IPv6 duplicate address detection found another owner: the address is unusable. */
  DADFAILED: 0x8,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  /** IPv6 duplicate address detection is still running: the address is not usable yet. */
  TENTATIVE: 0x40,
  /** Configured, not autoconfigured (no lifetime). */
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
  MCAUTOJOIN: 0x400,
  STABLE_PRIVACY: 0x800,
} as const;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const AF_INET = 2;
const AF_INET6 = 10;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;
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
  /** `nlmsg_type`: `RTM_*`, or `NLMSG_DONE` / `NLMSG_ERROR`. */
  type: number;
  /** `nlmsg_flags` (`NLM_F_*`). */
  flags: number;
  /** `nlmsg_seq`: the request's sequence number in a reply, 0 in a notification. */
  seq: number;
  /** `nlmsg_pid`: the sender's port id, 0 for the kernel. */
  pid: number;
  /** The bytes after the 16-byte header, up to `nlmsg_len`. */
  payload: Uint8Array;
}

/** A link as the kernel describes it in `RTM_NEWLINK`. */
export interface Link {
  /** `ifi_family`: 0 for links; 7 (AF_BRIDGE) for bridge-port notifications. */
  family: number;
  /** Its index. */
  ifindex: number;
  /** Its name (`IFLA_IFNAME`). */
  name: string;
  /** ARPHRD_* link type (1 = Ethernet). */
  type: number;
  /** Full 32-bit `IFF_*` flags, including `IFF_LOWER_UP`. */
  flags: number;
  /** `IFLA_MTU`, in bytes. */
  mtu: number;
  /** Hardware address, or null for links without one. */
  mac: Uint8Array | null;
  /** RFC 2863 operational state (`IFLA_OPERSTATE`). */
  operState: (typeof OPER_STATES)[number];
  /** Administratively up (`IFF_UP`). */
  up: boolean;
  /** Carrier present (`IFLA_CARRIER`, else `IFF_LOWER_UP`). */
  carrier: boolean;
}

/** An interface address as the kernel describes it in `RTM_NEWADDR`/`RTM_DELADDR`. */
export interface Address {
  /** The interface it is on. */
  ifindex: number;
  /** IP version. */
  family: 4 | 6;
  /** The address itself, 4 or 16 bytes: `IFA_LOCAL` when present, else `IFA_ADDRESS`. */
  address: Uint8Array;
  /** The far end of a point-to-point address (`IFA_ADDRESS` when it differs from `IFA_LOCAL`). */
  peer: Uint8Array | null;
  /** Prefix length: at most 32 for IPv4, 128 for IPv6. */
  prefixLength: number;
  /** {@linkcode AddressFlag} bits: `IFA_FLAGS` when present (all 32 bits), else `ifa_flags`. */
  flags: number;
  /** `RT_SCOPE_*`: 0 universe, 200 site, 253 link, 254 host. */
  scope: number;
  /** The IPv4 label (`IFA_LABEL`, e.g. "eth0:1"); null when the kernel sends none (IPv6). */
  label: string | null;
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

/**
 * Decodes the payload of `RTM_NEWADDR`/`RTM_DELADDR`, or returns null when it is not an IPv4 or
 * IPv6 address the kernel could have sent (too short, another family, no address, a wrong-size
 * address, a prefix longer than the address, interface index 0).
 */
export function parseAddress(message: NetlinkMessage): Address | null {
  const p = message.payload;
  if (p.length < IFADDRMSG_LEN) return null;
  const family = p[0] === AF_INET ? 4 : p[0] === AF_INET6 ? 6 : null;
  if (family === null) return null;
  const size = family === 4 ? 4 : 16;
  const prefixLength = p[1]!;
  const ifindex = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(4, true);
  if (prefixLength > size * 8 || ifindex === 0) return null;
  let flags = p[2]!;
  let local: Uint8Array | null = null;
  let address: Uint8Array | null = null;
  let label: string | null = null;
  let wrongSize = false;
  forEachAttribute(p.subarray(IFADDRMSG_LEN), (type, value) => {
    switch (type) {
      case IFA_ADDRESS:
      case IFA_LOCAL:
        if (value.length !== size) wrongSize = true;
        else if (type === IFA_LOCAL) local = value.slice();
        else address = value.slice();
        break;
      case IFA_LABEL:
        label = attributeString(value);
        break;
      case IFA_FLAGS:
        flags = attributeU32(value) ?? flags;
        break;
    }
  });
  // Locals for TypeScript's flow analysis, which does not see the callback's assignments.
  const own = local as Uint8Array | null;
  const far = address as Uint8Array | null;
  const mine = own ?? far;
  if (wrongSize || mine === null) return null;
  return {
    ifindex,
    family,
    address: mine,
    peer: own !== null && far !== null && !bytesEqual(own, far) ? far : null,
    prefixLength,
    flags,
    scope: p[3]!,
    label,
  };
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

/** A zeroed request of `total` bytes with its `nlmsghdr` filled in. */
function requestHeader(
  total: number,
  type: number,
  flags: number,
  seq: number,
): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, total, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  return { bytes, view };
}

/** Options for {@linkcode encodeGetLink}. */
export interface GetLinkRequest {
  /** Sequence number the reply will carry. */
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
  const dump = request.ifindex === undefined && name === null;
  const { bytes, view } = requestHeader(
    total,
    NetlinkType.GETLINK,
    NetlinkFlag.REQUEST | (dump ? NetlinkFlag.DUMP : 0),
    request.seq,
  );
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

/**
 * Encodes an `RTM_GETADDR` dump of every IPv4 and IPv6 address (family `AF_UNSPEC`), whose
 * reply carries sequence number `seq`.
 */
export function encodeGetAddresses(seq: number): Uint8Array {
  return requestHeader(
    NLMSG_HDRLEN + IFADDRMSG_LEN,
    NetlinkType.GETADDR,
    NetlinkFlag.REQUEST | NetlinkFlag.DUMP,
    seq,
  ).bytes;
}
