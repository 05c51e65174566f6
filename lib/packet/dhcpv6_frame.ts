/**
 * Whole Ethernet frames carrying DHCPv6 (IPv6, UDP ports 546 and 547): the client builders a
 * guest's side of a test sends (mvirt-net's `createDhcpv6Solicit` and `createDhcpv6Request`, any
 * other client message), the frame a server answers with, and the total frame decoder a
 * responder sorts a guest's frames with.
 *
 * @example A client's Solicit, as a server sees it
 * ```ts
 * import {
 *   createDhcpv6Solicit,
 *   decodeDhcpv6Frame,
 *   decodeDuid,
 *   findOfKind,
 *   formatMac,
 *   isMalformed,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const frame = createDhcpv6Solicit({
 *   mac: parseMac("52:54:00:12:34:01"),
 *   transactionId: 0xabcdef,
 *   iaid: 1,
 *   rapidCommit: true,
 * });
 * const solicit = decodeDhcpv6Frame(frame);
 * if (!isMalformed(solicit) && solicit.dhcpv6.kind === "client_server") {
 *   const clientId = findOfKind(solicit.dhcpv6.options, "client_id");
 *   const duid = clientId && decodeDuid(clientId.duid);
 *   if (duid && !isMalformed(duid) && duid.kind === "ll") formatMac(duid.linkLayerAddress); // "52:54:00:12:34:01"
 *   findOfKind(solicit.dhcpv6.options, "ia_na")?.iaid; // 1
 * }
 * ```
 *
 * @module
 */

import { u16 } from "./bytes.ts";
import {
  decodeDhcpv6,
  type Dhcpv6Message,
  Dhcpv6MessageType,
  type Dhcpv6Option,
  Dhcpv6OptionCode,
  encodeDhcpv6,
} from "./dhcpv6.ts";
import { generateDuidLl } from "./duid.ts";
import { catchMalformed, type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { type EthernetHeader, ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";
import { checkIpv6Length } from "./field_checks.ts";
import { IpProtocol } from "./ipv4.ts";
import {
  IPV6_HEADER_LEN,
  type Ipv6Packet,
  isIpv6Multicast,
  linkLocalFromMac,
  parseIpv6,
} from "./ipv6.ts";
import { decodeIpv6Frame, encodeIpv6Frame } from "./ipv6_frame.ts";
import { decodeUdp, encodeUdp, type UdpDatagram } from "./udp.ts";

/** The UDP port clients listen on. */
export const DHCPV6_CLIENT_PORT = 546;
/** The UDP port servers and relay agents listen on. */
export const DHCPV6_SERVER_PORT = 547;
/** `ff02::1:2`, where clients send. Shared: never write to it; `.slice()` it first. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Readonly<Uint8Array<ArrayBuffer>> = parseIpv6(
  "ff02::1:2",
);

function malformed(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

/** A decoded Ethernet frame carrying DHCPv6. Every array in it is a view into the frame. */
export interface Dhcpv6Frame {
  /** The Ethernet header (VLAN tags included). */
  ethernet: EthernetHeader;
  /** The IPv6 header. */
  ip: Ipv6Packet;
  /** The UDP datagram, its checksum verified. */
  udp: UdpDatagram;
  /** The message. */
  dhcpv6: Dhcpv6Message;
}

/** What {@linkcode encodeDhcpv6Frame} builds a frame from. */
export interface Dhcpv6FrameInit {
  /** Source MAC address (6 bytes). */
  srcMac: Uint8Array;
  /** Destination MAC; optional when `dst` is multicast. */
  dstMac?: Uint8Array | undefined;
  /** IPv6 source address: a link-local one for clients and for servers on the link. */
  src: Uint8Array;
  /** IPv6 destination address. */
  dst: Uint8Array;
  /** UDP source port; default 547 for server and relay messages, 546 for client messages. */
  srcPort?: number | undefined;
  /** UDP destination port; default 546 for Advertise, Reply and Reconfigure, 547 otherwise. */
  dstPort?: number | undefined;
  /** Hop limit; default 1 to a multicast destination, 64 otherwise. */
  hopLimit?: number | undefined;
  /** The message to carry. */
  message: Dhcpv6Message;
}

const SERVER_TO_CLIENT: ReadonlySet<number> = new Set([
  Dhcpv6MessageType.ADVERTISE,
  Dhcpv6MessageType.REPLY,
  Dhcpv6MessageType.RECONFIGURE,
]);

/**
 * Builds an Ethernet + IPv6 + UDP + DHCPv6 frame with lengths and the UDP checksum filled in.
 * Throws a `RangeError` for a unicast `dst` without `dstMac` or any field out of range.
 *
 * @example A server's Reply to a client's link-local address
 * ```ts
 * import { Dhcpv6MessageType, encodeDhcpv6Frame, generateDuidLl, parseIpv6, parseMac } from "./mod.ts";
 *
 * const gateway = parseMac("02:00:00:00:00:01");
 * const client = parseMac("52:54:00:12:34:01");
 * encodeDhcpv6Frame({
 *   srcMac: gateway,
 *   dstMac: client,
 *   src: parseIpv6("fe80::1"),
 *   dst: parseIpv6("fe80::5054:ff:fe12:3401"),
 *   message: {
 *     kind: "client_server",
 *     messageType: Dhcpv6MessageType.REPLY,
 *     transactionId: 0x123456,
 *     options: [
 *       { kind: "server_id", duid: generateDuidLl(gateway) },
 *       { kind: "client_id", duid: generateDuidLl(client) },
 *       { kind: "status_code", status: 0, message: "" },
 *     ],
 *   },
 * });
 * ```
 */
export function encodeDhcpv6Frame(init: Dhcpv6FrameInit): Uint8Array<ArrayBuffer> {
  const { srcMac, dstMac, src, dst, message } = init;
  const fromServer = message.kind === "relay" || SERVER_TO_CLIENT.has(message.messageType);
  const toClient = SERVER_TO_CLIENT.has(message.messageType);
  const srcPort = init.srcPort ?? (fromServer ? DHCPV6_SERVER_PORT : DHCPV6_CLIENT_PORT);
  const dstPort = init.dstPort ?? (toClient ? DHCPV6_CLIENT_PORT : DHCPV6_SERVER_PORT);
  checkIpv6Length(dst, "IPv6 destination address");
  return encodeIpv6Frame({
    srcMac,
    dstMac,
    src,
    dst,
    nextHeader: IpProtocol.UDP,
    hopLimit: init.hopLimit ?? (isIpv6Multicast(dst) ? 1 : 64),
    payload: encodeUdp({ srcPort, dstPort, src, dst, payload: encodeDhcpv6(message) }),
  });
}

/**
 * Decodes an Ethernet frame carrying DHCPv6: IPv6 with UDP as the first next header, to or from
 * port 546 or 547, checksum verified. Never throws on bad bytes: the reasons of
 * {@linkcode decodeDhcpv6}, of the Ethernet, IPv6 and UDP decoders, `"not_ipv6"`, `"not_udp"` or
 * `"not_dhcpv6"` (neither port is 546 or 547).
 *
 * @example
 * ```ts
 * import { createDhcpv6Solicit, decodeDhcpv6Frame, isMalformed, parseMac } from "./mod.ts";
 *
 * const decoded = decodeDhcpv6Frame(
 *   createDhcpv6Solicit({ mac: parseMac("52:54:00:12:34:01"), transactionId: 1, iaid: 1 }),
 * );
 * if (!isMalformed(decoded)) decoded.udp.dstPort; // 547
 * ```
 */
export function decodeDhcpv6Frame(frame: Uint8Array): Decoded<Dhcpv6Frame> {
  const decoded = decodeIpv6Frame(frame);
  if (isMalformed(decoded)) return decoded;
  const { ethernet, ip } = decoded;
  if (ip.nextHeader !== IpProtocol.UDP) {
    return malformed("not_udp", `IPv6 packet carries next header ${ip.nextHeader}, not UDP (17)`);
  }
  const udp = catchMalformed(() => decodeUdp(ip.payload, ip));
  if (isMalformed(udp)) return udp;
  if (!isDhcpv6Port(udp.srcPort) && !isDhcpv6Port(udp.dstPort)) {
    return malformed(
      "not_dhcpv6",
      `UDP datagram from port ${udp.srcPort} to ${udp.dstPort}: neither is 546 or 547`,
    );
  }
  const dhcpv6 = decodeDhcpv6(udp.payload);
  return isMalformed(dhcpv6) ? dhcpv6 : { ethernet, ip, udp, dhcpv6 };
}

function isDhcpv6Port(port: number): boolean {
  return port === DHCPV6_CLIENT_PORT || port === DHCPV6_SERVER_PORT;
}

/**
 * The DHCPv6 message type of an Ethernet frame carrying IPv6 and UDP (as the first next header)
 * to port 546 or 547, or -1 for any other frame. Allocation-free and unchecked beyond the bytes
 * it reads (no checksum), for sorting a guest's frames before decoding them.
 *
 * @example
 * ```ts
 * import { createDhcpv6Solicit, Dhcpv6MessageType, dhcpv6MessageTypeAt, parseMac } from "./mod.ts";
 *
 * const frame = createDhcpv6Solicit({ mac: parseMac("52:54:00:12:34:01"), transactionId: 1, iaid: 1 });
 * dhcpv6MessageTypeAt(frame) === Dhcpv6MessageType.SOLICIT; // true
 * ```
 */
export function dhcpv6MessageTypeAt(frame: Uint8Array): number {
  if (etherTypeAt(frame) !== EtherType.IPV6) return -1;
  const ip = ethernetHeaderLengthAt(frame);
  const udp = ip + IPV6_HEADER_LEN;
  if (frame.length < udp + 9) return -1;
  if (frame[ip]! >>> 4 !== 6 || frame[ip + 6] !== IpProtocol.UDP) return -1;
  return isDhcpv6Port(u16(frame, udp + 2)) ? frame[udp + 8]! : -1;
}

/** What {@linkcode createDhcpv6ClientMessage} builds a frame from. */
export interface Dhcpv6ClientInit {
  /** The client's MAC (6 bytes). */
  mac: Uint8Array;
  /** Transaction id, 24 bits. */
  transactionId: number;
  /** The client's DUID; default {@linkcode generateDuidLl} of `mac`. */
  clientDuid?: Uint8Array;
  /** Elapsed time in hundredths of a second (default 0). */
  elapsedTime?: number;
  /** IPv6 source; default the EUI-64 link-local address of `mac`. */
  src?: Uint8Array;
}

/** What {@linkcode createDhcpv6ClientMessage} adds to {@linkcode Dhcpv6ClientInit}. */
export interface Dhcpv6ClientMessageInit extends Dhcpv6ClientInit {
  /** The client message type (Solicit, Request, Renew, Release, ...). */
  messageType: number;
  /** Options after the client identifier and elapsed time. */
  options: Dhcpv6Option[];
}

/**
 * Builds a client's message frame to all DHCP servers (`ff02::1:2`, port 547, hop limit 1) from
 * its link-local address, with the client identifier and elapsed time options first, as RFC 8415
 * section 18.2 requires of every client message.
 *
 * @example A Renew
 * ```ts
 * import { createDhcpv6ClientMessage, Dhcpv6MessageType, generateDuidLl, parseIpv6, parseMac } from "./mod.ts";
 *
 * createDhcpv6ClientMessage({
 *   mac: parseMac("52:54:00:12:34:01"),
 *   messageType: Dhcpv6MessageType.RENEW,
 *   transactionId: 0x010203,
 *   options: [
 *     { kind: "server_id", duid: generateDuidLl(parseMac("02:00:00:00:00:01")) },
 *     { kind: "ia_na", iaid: 1, t1: 0, t2: 0, options: [] },
 *   ],
 * });
 * ```
 */
export function createDhcpv6ClientMessage(init: Dhcpv6ClientMessageInit): Uint8Array<ArrayBuffer> {
  return encodeDhcpv6Frame({
    srcMac: init.mac,
    src: init.src ?? linkLocalFromMac(init.mac),
    dst: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
    message: {
      kind: "client_server",
      messageType: init.messageType,
      transactionId: init.transactionId,
      options: [
        { kind: "client_id", duid: init.clientDuid ?? generateDuidLl(init.mac) },
        { kind: "elapsed_time", elapsedTime: init.elapsedTime ?? 0 },
        ...init.options,
      ],
    },
  });
}

/** What {@linkcode createDhcpv6Solicit} builds a frame from. */
export interface Dhcpv6SolicitInit extends Dhcpv6ClientInit {
  /** The IA_NA's identifier. */
  iaid: number;
  /** Whether to ask for a two-message exchange (default false). */
  rapidCommit?: boolean;
  /** Options to request (default `[23]`: DNS servers). */
  requestedOptions?: number[];
}

/**
 * Builds a Solicit frame asking for one address in an IA_NA (T1 and T2 0: the server's choice).
 *
 * @example
 * ```ts
 * import { createDhcpv6Solicit, parseMac } from "./mod.ts";
 *
 * createDhcpv6Solicit({ mac: parseMac("52:54:00:12:34:01"), transactionId: 0xabcdef, iaid: 1 });
 * ```
 */
export function createDhcpv6Solicit(init: Dhcpv6SolicitInit): Uint8Array<ArrayBuffer> {
  const options: Dhcpv6Option[] = [
    { kind: "oro", codes: init.requestedOptions ?? [Dhcpv6OptionCode.DNS_SERVERS] },
    { kind: "ia_na", iaid: init.iaid, t1: 0, t2: 0, options: [] },
  ];
  if (init.rapidCommit) options.push({ kind: "rapid_commit" });
  return createDhcpv6ClientMessage({
    ...init,
    messageType: Dhcpv6MessageType.SOLICIT,
    options,
  });
}

/** What {@linkcode createDhcpv6Request} builds a frame from. */
export interface Dhcpv6RequestInit extends Dhcpv6ClientInit {
  /** The chosen server's DUID, from its Advertise. */
  serverDuid: Uint8Array;
  /** The advertised address (16 bytes). */
  address: Uint8Array;
  /** The IA_NA's identifier. */
  iaid: number;
  /** Options to request (default `[23]`: DNS servers). */
  requestedOptions?: number[];
}

/**
 * Builds a Request frame for the address a server advertised (mvirt-net's
 * `create_dhcpv6_request(mac, client_duid, server_duid, addr, iaid)`).
 *
 * @example
 * ```ts
 * import { createDhcpv6Request, generateDuidLl, parseIpv6, parseMac } from "./mod.ts";
 *
 * createDhcpv6Request({
 *   mac: parseMac("52:54:00:12:34:01"),
 *   transactionId: 0x000102,
 *   serverDuid: generateDuidLl(parseMac("02:00:00:00:00:01")),
 *   address: parseIpv6("2001:db8::5"),
 *   iaid: 1,
 * });
 * ```
 */
export function createDhcpv6Request(init: Dhcpv6RequestInit): Uint8Array<ArrayBuffer> {
  return createDhcpv6ClientMessage({
    ...init,
    messageType: Dhcpv6MessageType.REQUEST,
    options: [
      { kind: "server_id", duid: init.serverDuid },
      { kind: "oro", codes: init.requestedOptions ?? [Dhcpv6OptionCode.DNS_SERVERS] },
      {
        kind: "ia_na",
        iaid: init.iaid,
        t1: 0,
        t2: 0,
        options: [{
          kind: "iaaddr",
          address: init.address,
          preferredLifetime: 0,
          validLifetime: 0,
          options: [],
        }],
      },
    ],
  });
}
