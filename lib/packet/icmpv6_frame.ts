/**
 * Whole Ethernet frames carrying ICMPv6: the builders a guest's side of a test sends (mvirt-net's
 * names: `createRouterSolicitation`, `createNeighborSolicitation`, `createIcmpv6EchoRequest`) and
 * a router's side answers with (advertisements, echo replies, errors), hop limit 255 for Neighbor
 * Discovery; and the total frame decoder a responder sorts a guest's frames with.
 *
 * @example A guest's Router Solicitation, answered with an advertisement
 * ```ts
 * import {
 *   createRouterAdvertisement,
 *   createRouterSolicitation,
 *   decodeIcmpv6Frame,
 *   formatIpv6,
 *   isMalformed,
 *   parseIpv6,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const rs = decodeIcmpv6Frame(createRouterSolicitation({ srcMac: parseMac("52:54:00:12:34:01") }));
 * if (!isMalformed(rs) && rs.icmpv6.kind === "router_solicitation" && rs.ip.hopLimit === 255) {
 *   const ra = createRouterAdvertisement({
 *     srcMac: parseMac("02:00:00:00:00:01"),
 *     src: parseIpv6("fe80::1"),
 *     managed: true,
 *     routerLifetime: 1800,
 *     options: [{ kind: "mtu", mtu: 1500 }],
 *   });
 *   const reply = decodeIcmpv6Frame(ra);
 *   if (!isMalformed(reply)) formatIpv6(reply.ip.dst); // "ff02::1"
 * }
 * ```
 *
 * @module
 */

import { type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { type EthernetHeader, ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";
import { checkIpv6Length } from "./field_checks.ts";
import {
  decodeIcmpv6,
  encodeIcmpv6,
  type Icmpv6Echo,
  type Icmpv6Error,
  type Icmpv6Message,
  ND_HOP_LIMIT,
  type RouterAdvertisement,
} from "./icmpv6.ts";
import { IpProtocol } from "./ipv4.ts";
import {
  IPV6_ALL_NODES,
  IPV6_ALL_ROUTERS,
  IPV6_HEADER_LEN,
  type Ipv6Packet,
  isIpv6Unspecified,
  linkLocalFromMac,
  solicitedNodeMulticast,
} from "./ipv6.ts";
import { decodeIpv6Frame, encodeIpv6Frame } from "./ipv6_frame.ts";
import type { LinkAddressOption, NdOption } from "./nd_options.ts";

function malformed(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

/** A decoded Ethernet frame carrying ICMPv6. Every array in it is a view into the frame. */
export interface Icmpv6Frame {
  /** The Ethernet header (VLAN tags included). */
  ethernet: EthernetHeader;
  /** The IPv6 header: `hopLimit` must be 255 for ND messages to count (RFC 4861). */
  ip: Ipv6Packet;
  /** The message, its checksum verified. */
  icmpv6: Icmpv6Message;
}

/** How a frame is addressed: the fields every ICMPv6 frame builder shares. */
export interface Icmpv6FrameAddressing {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC; optional when `dst` is multicast (its 33:33 MAC is used). */
  dstMac?: Uint8Array | undefined;
  /** IPv6 source address (16 bytes). */
  src: Uint8Array;
  /** IPv6 destination address (16 bytes). */
  dst: Uint8Array;
  /** Hop limit; default 255 for Neighbor Discovery messages and 64 for the others. */
  hopLimit?: number | undefined;
}

/** What {@linkcode encodeIcmpv6Frame} builds a frame from. */
export interface Icmpv6FrameInit extends Icmpv6FrameAddressing {
  /** The message to carry. */
  message: Icmpv6Message;
}

const ND_KINDS: ReadonlySet<Icmpv6Message["kind"]> = new Set([
  "router_solicitation",
  "router_advertisement",
  "neighbor_solicitation",
  "neighbor_advertisement",
]);

/**
 * Builds an Ethernet + IPv6 + ICMPv6 frame with lengths and the checksum filled in. Throws a
 * `RangeError` for a unicast `dst` without `dstMac` or any field out of range.
 *
 * @example An Echo Reply
 * ```ts
 * import { encodeIcmpv6Frame, parseIpv6, parseMac } from "./mod.ts";
 *
 * const frame = encodeIcmpv6Frame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("fe80::5054:ff:fe12:3401"),
 *   message: { kind: "echo_reply", code: 0, identifier: 1, sequence: 1, data: new Uint8Array(56) },
 * });
 * frame.length; // 118: 14 + 40 + 8 + 56
 * ```
 */
export function encodeIcmpv6Frame(init: Icmpv6FrameInit): Uint8Array<ArrayBuffer> {
  const { srcMac, dstMac, src, dst, message } = init;
  return encodeIpv6Frame({
    srcMac,
    dstMac,
    src,
    dst,
    nextHeader: IpProtocol.ICMPV6,
    hopLimit: init.hopLimit ?? (ND_KINDS.has(message.kind) ? ND_HOP_LIMIT : 64),
    payload: encodeIcmpv6(message, { src, dst }),
  });
}

/**
 * Decodes an Ethernet frame carrying ICMPv6 directly after the IPv6 header, verifying the
 * checksum. Never throws on bad bytes: the reasons of {@linkcode decodeIcmpv6} and of the
 * Ethernet and IPv6 decoders, `"not_ipv6"`, or `"not_icmpv6"` (another next header; extension
 * headers are not walked).
 *
 * @example
 * ```ts
 * import { createNeighborSolicitation, decodeIcmpv6Frame, isMalformed, parseIpv6, parseMac } from "./mod.ts";
 *
 * const frame = createNeighborSolicitation({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   target: parseIpv6("fe80::1"),
 * });
 * const ns = decodeIcmpv6Frame(frame);
 * if (!isMalformed(ns)) ns.icmpv6.kind; // "neighbor_solicitation"
 * ```
 */
export function decodeIcmpv6Frame(frame: Uint8Array): Decoded<Icmpv6Frame> {
  const decoded = decodeIpv6Frame(frame);
  if (isMalformed(decoded)) return decoded;
  const { ethernet, ip } = decoded;
  if (ip.nextHeader !== IpProtocol.ICMPV6) {
    return malformed(
      "not_icmpv6",
      `IPv6 packet carries next header ${ip.nextHeader}, not ICMPv6 (58)`,
    );
  }
  const icmpv6 = decodeIcmpv6(ip.payload, ip);
  return isMalformed(icmpv6) ? icmpv6 : { ethernet, ip, icmpv6 };
}

/**
 * The ICMPv6 type of an Ethernet frame carrying IPv6 with ICMPv6 as its first next header, or -1
 * for any other frame. Allocation-free and unchecked beyond the bytes it reads (no checksum), for
 * sorting a guest's frames before decoding them.
 *
 * @example
 * ```ts
 * import { createRouterSolicitation, Icmpv6Type, icmpv6TypeAt, parseMac } from "./mod.ts";
 *
 * const frame = createRouterSolicitation({ srcMac: parseMac("52:54:00:12:34:01") });
 * icmpv6TypeAt(frame) === Icmpv6Type.ROUTER_SOLICITATION; // true
 * ```
 */
export function icmpv6TypeAt(frame: Uint8Array): number {
  if (etherTypeAt(frame) !== EtherType.IPV6) return -1;
  const ip = ethernetHeaderLengthAt(frame);
  if (frame.length < ip + IPV6_HEADER_LEN + 1) return -1;
  if (frame[ip]! >>> 4 !== 6 || frame[ip + 6] !== IpProtocol.ICMPV6) return -1;
  return frame[ip + IPV6_HEADER_LEN]!;
}

/** Shared fields of the ND builders: the sender's MAC, and optionally its address. */
export interface NdSender {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** IPv6 source; default the EUI-64 link-local address of `srcMac`. */
  src?: Uint8Array;
}

function linkAddress(kind: LinkAddressOption["kind"], mac: Uint8Array): LinkAddressOption {
  return { kind, address: mac };
}

/** What {@linkcode createRouterSolicitation} builds a frame from. */
export interface RouterSolicitationInit extends NdSender {
  /** Extra options after the source link-layer address. */
  options?: NdOption[];
}

/**
 * Builds a Router Solicitation frame to all routers (`ff02::2`) with hop limit 255. It carries
 * the source link-layer address option unless `src` is `::`, where RFC 4861 section 4.1 forbids
 * it.
 *
 * @example A solicitation from an address-less host
 * ```ts
 * import { createRouterSolicitation, IPV6_UNSPECIFIED, parseMac } from "./mod.ts";
 *
 * createRouterSolicitation({ srcMac: parseMac("52:54:00:12:34:01"), src: IPV6_UNSPECIFIED });
 * ```
 */
export function createRouterSolicitation(init: RouterSolicitationInit): Uint8Array<ArrayBuffer> {
  const src = init.src ?? linkLocalFromMac(init.srcMac);
  const options: NdOption[] = isIpv6Unspecified(src)
    ? []
    : [linkAddress("source_link_address", init.srcMac)];
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    src,
    dst: IPV6_ALL_ROUTERS,
    message: { kind: "router_solicitation", code: 0, options: [...options, ...init.options ?? []] },
  });
}

/** What {@linkcode createRouterAdvertisement} builds a frame from. */
export interface RouterAdvertisementInit
  extends Partial<Omit<RouterAdvertisement, "kind" | "code" | "options">> {
  /** The router's MAC (6 bytes), also sent as the source link-layer address option. */
  srcMac: Uint8Array;
  /** The router's link-local address (16 bytes). */
  src: Uint8Array;
  /** Destination; default all nodes (`ff02::1`). */
  dst?: Uint8Array;
  /** Destination MAC; needed only for a unicast `dst`. */
  dstMac?: Uint8Array | undefined;
  /** Options after the source link-layer address (MTU, Prefix Information, RDNSS). */
  options?: NdOption[];
}

/**
 * Builds a Router Advertisement frame with hop limit 255 and the source link-layer address
 * option first. Defaults: to `ff02::1`, current hop limit 64, M and O clear, router lifetime
 * 1800 s, reachable time and retransmission timer 0 (unspecified).
 *
 * @example M=1 with an MTU and a prefix for SLAAC
 * ```ts
 * import { createRouterAdvertisement, parseIpv6, parseMac } from "./mod.ts";
 *
 * createRouterAdvertisement({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("fe80::1"),
 *   managed: true,
 *   options: [
 *     { kind: "mtu", mtu: 1500 },
 *     {
 *       kind: "prefix_information",
 *       prefix: parseIpv6("2001:db8:1::"),
 *       prefixLength: 64,
 *       onLink: true,
 *       autonomous: true,
 *       validLifetime: 86400,
 *       preferredLifetime: 14400,
 *     },
 *   ],
 * });
 * ```
 */
export function createRouterAdvertisement(
  init: RouterAdvertisementInit,
): Uint8Array<ArrayBuffer> {
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src,
    dst: init.dst ?? IPV6_ALL_NODES,
    message: {
      kind: "router_advertisement",
      code: 0,
      curHopLimit: init.curHopLimit ?? 64,
      managed: init.managed ?? false,
      other: init.other ?? false,
      routerLifetime: init.routerLifetime ?? 1800,
      reachableTime: init.reachableTime ?? 0,
      retransTimer: init.retransTimer ?? 0,
      options: [linkAddress("source_link_address", init.srcMac), ...init.options ?? []],
    },
  });
}

/** What {@linkcode createNeighborSolicitation} builds a frame from. */
export interface NeighborSolicitationInit extends NdSender {
  /** The address to resolve, or to check for duplicates with `src` `::` (16 bytes). */
  target: Uint8Array;
  /** Destination; default the target's solicited-node group. */
  dst?: Uint8Array;
  /** Destination MAC; needed only for a unicast `dst` (a reachability probe). */
  dstMac?: Uint8Array | undefined;
}

/**
 * Builds a Neighbor Solicitation frame with hop limit 255, to the target's solicited-node group
 * unless `dst` says otherwise. With `src` `::` it is a Duplicate Address Detection probe and
 * carries no source link-layer address option (RFC 4861 section 4.3); otherwise it does.
 *
 * @example Resolve the gateway, and probe an address for duplicates
 * ```ts
 * import { createNeighborSolicitation, IPV6_UNSPECIFIED, parseIpv6, parseMac } from "./mod.ts";
 *
 * const mac = parseMac("52:54:00:12:34:01");
 * createNeighborSolicitation({ srcMac: mac, target: parseIpv6("fe80::1") });
 * createNeighborSolicitation({
 *   srcMac: mac,
 *   src: IPV6_UNSPECIFIED,
 *   target: parseIpv6("fe80::5054:ff:fe12:3401"),
 * });
 * ```
 */
export function createNeighborSolicitation(
  init: NeighborSolicitationInit,
): Uint8Array<ArrayBuffer> {
  const src = init.src ?? linkLocalFromMac(init.srcMac);
  checkIpv6Length(init.target, "ND target address");
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src,
    dst: init.dst ?? solicitedNodeMulticast(init.target),
    message: {
      kind: "neighbor_solicitation",
      code: 0,
      target: init.target,
      options: isIpv6Unspecified(src) ? [] : [linkAddress("source_link_address", init.srcMac)],
    },
  });
}

/** What {@linkcode createNeighborAdvertisement} builds a frame from. */
export interface NeighborAdvertisementInit {
  /** The advertiser's MAC (6 bytes), sent as the target link-layer address. */
  srcMac: Uint8Array;
  /** Destination MAC; needed only for a unicast `dst`. */
  dstMac?: Uint8Array | undefined;
  /** The advertiser's address (16 bytes). */
  src: Uint8Array;
  /** The soliciting node, or all nodes (`ff02::1`) for an answer to a DAD probe. */
  dst: Uint8Array;
  /** The address advertised; default `src`. */
  target?: Uint8Array;
  /** R flag (default false). */
  router?: boolean;
  /** S flag (default false); RFC 4861 section 7.2.4: clear when answering a DAD probe. */
  solicited?: boolean;
  /** O flag (default true). */
  override?: boolean;
  /** Whether to send the target link-layer address option (default true). */
  targetLinkAddress?: boolean;
}

/**
 * Builds a Neighbor Advertisement frame with hop limit 255, carrying `srcMac` as the target
 * link-layer address unless `targetLinkAddress` is false.
 *
 * @example A router answering a guest's solicitation for it
 * ```ts
 * import { createNeighborAdvertisement, parseIpv6, parseMac } from "./mod.ts";
 *
 * createNeighborAdvertisement({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("fe80::5054:ff:fe12:3401"),
 *   router: true,
 *   solicited: true,
 * });
 * ```
 */
export function createNeighborAdvertisement(
  init: NeighborAdvertisementInit,
): Uint8Array<ArrayBuffer> {
  const withAddress = init.targetLinkAddress ?? true;
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src,
    dst: init.dst,
    message: {
      kind: "neighbor_advertisement",
      code: 0,
      router: init.router ?? false,
      solicited: init.solicited ?? false,
      override: init.override ?? true,
      target: init.target ?? init.src,
      options: withAddress ? [linkAddress("target_link_address", init.srcMac)] : [],
    },
  });
}

/** What {@linkcode createIcmpv6EchoRequest} and {@linkcode createIcmpv6EchoReply} build from. */
export interface Icmpv6EchoInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC; optional when `dst` is multicast. */
  dstMac?: Uint8Array | undefined;
  /** IPv6 source; default the EUI-64 link-local address of `srcMac`. */
  src?: Uint8Array;
  /** IPv6 destination (16 bytes). */
  dst: Uint8Array;
  /** Identifier, 16 bits. */
  identifier: number;
  /** Sequence number, 16 bits. */
  sequence: number;
  /** Data after the header (default none). */
  data?: Uint8Array;
  /** Hop limit (default 64). */
  hopLimit?: number | undefined;
}

function createEcho(kind: Icmpv6Echo["kind"], init: Icmpv6EchoInit): Uint8Array<ArrayBuffer> {
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src ?? linkLocalFromMac(init.srcMac),
    dst: init.dst,
    hopLimit: init.hopLimit,
    message: {
      kind,
      code: 0,
      identifier: init.identifier,
      sequence: init.sequence,
      data: init.data ?? new Uint8Array(),
    },
  });
}

/**
 * Builds an Echo Request frame (`ping -6`).
 *
 * @example
 * ```ts
 * import { createIcmpv6EchoRequest, parseIpv6, parseMac } from "./mod.ts";
 *
 * createIcmpv6EchoRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   dstMac: parseMac("02:00:00:00:00:01"),
 *   dst: parseIpv6("fe80::1"),
 *   identifier: 0x1234,
 *   sequence: 1,
 *   data: new TextEncoder().encode("ping"),
 * });
 * ```
 */
export function createIcmpv6EchoRequest(init: Icmpv6EchoInit): Uint8Array<ArrayBuffer> {
  return createEcho("echo_request", init);
}

/** Builds an Echo Reply frame; the same fields as {@linkcode createIcmpv6EchoRequest}. */
export function createIcmpv6EchoReply(init: Icmpv6EchoInit): Uint8Array<ArrayBuffer> {
  return createEcho("echo_reply", init);
}

/** What {@linkcode createIcmpv6Error} builds a frame from. */
export interface Icmpv6ErrorInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC (6 bytes): the offending packet's sender, or its next hop. */
  dstMac: Uint8Array;
  /** The reporting router's address (16 bytes). */
  src: Uint8Array;
  /** Destination; default the offending packet's source. */
  dst?: Uint8Array;
  /** Which error. */
  kind: Icmpv6Error["kind"];
  /** Code (default 0). */
  code?: number;
  /** The MTU for `packet_too_big`, the pointer for `parameter_problem` (default 0). */
  parameter?: number;
  /** The offending IPv6 packet, from its header on; cut to fit 1280 bytes. */
  invoking: Uint8Array;
}

/**
 * Builds an ICMPv6 error frame quoting as much of the offending packet as fits in the IPv6
 * minimum MTU (RFC 4443 section 2.4). Throws a `RangeError` when `dst` is not given and
 * `invoking` is too short to name its source.
 *
 * @example Hop limit exceeded in transit
 * ```ts
 * import { createIcmpv6Error, createIcmpv6EchoRequest, parseIpv6, parseMac } from "./mod.ts";
 *
 * const echo = createIcmpv6EchoRequest({
 *   srcMac: parseMac("52:54:00:12:34:01"),
 *   dstMac: parseMac("02:00:00:00:00:01"),
 *   src: parseIpv6("2001:db8::5"),
 *   dst: parseIpv6("2001:db8:2::9"),
 *   identifier: 1,
 *   sequence: 1,
 *   hopLimit: 1,
 * });
 * createIcmpv6Error({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: parseMac("52:54:00:12:34:01"),
 *   src: parseIpv6("2001:db8::1"),
 *   kind: "time_exceeded",
 *   invoking: echo.subarray(14),
 * });
 * ```
 */
export function createIcmpv6Error(init: Icmpv6ErrorInit): Uint8Array<ArrayBuffer> {
  const { invoking } = init;
  let dst = init.dst;
  if (dst === undefined) {
    if (invoking.length < 24) {
      throw new RangeError(
        `The offending packet has ${invoking.length} bytes, too few to name its source: give dst`,
      );
    }
    dst = invoking.subarray(8, 24);
  }
  return encodeIcmpv6Frame({
    srcMac: init.srcMac,
    dstMac: init.dstMac,
    src: init.src,
    dst,
    message: { kind: init.kind, code: init.code ?? 0, parameter: init.parameter ?? 0, invoking },
  });
}
