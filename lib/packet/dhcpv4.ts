/**
 * DHCPv4 (RFC 2131) messages: the BOOTP fixed part (RFC 951), the magic cookie and the options of
 * RFC 2132 a virtual gateway serves and its clients send, with classless static routes in RFC
 * 3442's compact encoding (option 121, and Microsoft's code 249).
 *
 * {@linkcode encodeDhcp} builds a message (padded to the 300-byte BOOTP minimum, refused above
 * the maximum message size, 1500 bytes by default) and {@linkcode decodeDhcp} reads one back.
 * Options too long for one instance are split, and split ones joined again (RFC 3396). Options
 * this module does not name are kept raw in `unknown`, so a server sees everything a client
 * asked. Option overload (52, options in `sname` and `file`) is refused with a reason.
 * `createDhcp*` build the client's whole frames (Ethernet + IPv4 + UDP), {@linkcode
 * encodeDhcpFrame} any other, and {@linkcode decodeDhcpFrame} reads a frame down to the message.
 * Decoders are total: a refusal comes back as a {@linkcode MalformedPacketError}, never thrown.
 *
 * @example DISCOVER from a guest, read as a server would
 * ```ts
 * import {
 *   createDhcpDiscover,
 *   decodeDhcpFrame,
 *   DhcpMessageType,
 *   formatMac,
 *   isMalformed,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const frame = createDhcpDiscover({
 *   clientMac: parseMac("52:54:00:12:34:01"),
 *   xid: 0x12345678,
 *   options: { hostName: "vm0" },
 * });
 * const decoded = decodeDhcpFrame(frame);
 * if (isMalformed(decoded)) throw decoded;
 * const { dhcp } = decoded;
 * dhcp.options.messageType === DhcpMessageType.DISCOVER; // true
 * formatMac(dhcp.chaddr); // "52:54:00:12:34:01"
 * dhcp.options.parameterRequestList; // [1, 3, 6, 15, 26, 121]
 * ```
 *
 * @module
 */

import { setU16, u16, u32 } from "./bytes.ts";
import { catchMalformed, type Decoded, MalformedPacketError } from "./errors.ts";
import { encodeEthernet, ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";
import {
  encodeIpv4,
  IpProtocol,
  IPV4_ADDRESS_LEN,
  IPV4_HEADER_LEN,
  type Ipv4Packet,
} from "./ipv4.ts";
import { BROADCAST_MAC, MAC_LEN } from "./mac.ts";
import { encodeUdp, UDP_HEADER_LEN } from "./udp.ts";
import { decodeUdpFrame, type UdpFrame } from "./udp_frame.ts";

/** The UDP port DHCP servers (and relays) listen on. */
export const DHCP_SERVER_PORT = 67;
/** The UDP port DHCP clients listen on. */
export const DHCP_CLIENT_PORT = 68;
/** Length of the BOOTP fixed part, op to file. */
export const BOOTP_FIXED_LEN = 236;
/** The DHCP magic cookie after the fixed part: 99.130.83.99. */
export const DHCP_MAGIC_COOKIE = 0x63825363;
/** Offset of the first option: the fixed part and the cookie. */
export const DHCP_OPTIONS_OFFSET = 240;
/** Shortest BOOTP message (RFC 1542 section 2.1): shorter ones are padded. */
export const BOOTP_MIN_LEN = 300;
/** Smallest legal maximum message size (option 57), counting IP and UDP headers: RFC 2132 9.10. */
export const DHCP_MIN_MAX_MESSAGE_SIZE = 576;
/** The maximum message size {@linkcode encodeDhcp} keeps to unless told otherwise: an Ethernet MTU. */
export const DHCP_DEFAULT_MAX_MESSAGE_SIZE = 1500;
/** The BOOTP flags bit that asks the server to broadcast its reply (RFC 2131 section 2). */
export const BOOTP_BROADCAST_FLAG = 0x8000;
/** Longest client hardware address the chaddr field holds. */
export const BOOTP_CHADDR_LEN = 16;

/** BOOTP op codes. */
export const BootpOp = {
  /** Client to server. */
  REQUEST: 1,
  /** Server to client. */
  REPLY: 2,
} as const;

/** DHCP message types, the value of option 53 (RFC 2132 section 9.6). */
export const DhcpMessageType = {
  /** Client looks for servers. */
  DISCOVER: 1,
  /** Server offers an address. */
  OFFER: 2,
  /** Client asks for the offered (or its previous) address, or renews. */
  REQUEST: 3,
  /** Client found the address in use. */
  DECLINE: 4,
  /** Server commits the lease. */
  ACK: 5,
  /** Server refuses: the client's idea of its address is wrong. */
  NAK: 6,
  /** Client gives the address back. */
  RELEASE: 7,
  /** Client with an address asks for configuration only. */
  INFORM: 8,
} as const;

/** DHCP option codes this module decodes by name (RFC 2132, RFC 3442). */
export const DhcpOption = {
  /** Padding, no length byte. */
  PAD: 0,
  /** Subnet mask (4 bytes). */
  SUBNET_MASK: 1,
  /** Routers, in order of preference (4 bytes each). */
  ROUTER: 3,
  /** DNS servers (4 bytes each). */
  DNS_SERVERS: 6,
  /** The client's host name. */
  HOST_NAME: 12,
  /** The domain name for DNS resolution. */
  DOMAIN_NAME: 15,
  /** Interface MTU (2 bytes, at least 68). */
  INTERFACE_MTU: 26,
  /** The address the client asks for (4 bytes). */
  REQUESTED_IP: 50,
  /** Lease time in seconds (4 bytes; 0xffffffff is infinite). */
  LEASE_TIME: 51,
  /** Option overload: `sname` and/or `file` hold options (refused by this decoder). */
  OVERLOAD: 52,
  /** DHCP message type (1 byte). */
  MESSAGE_TYPE: 53,
  /** Server identifier (4 bytes). */
  SERVER_ID: 54,
  /** The option codes the client asks for. */
  PARAMETER_REQUEST_LIST: 55,
  /** An error message, e.g. in a NAK. */
  MESSAGE: 56,
  /** Largest message the client accepts, IP and UDP headers included (2 bytes). */
  MAX_MESSAGE_SIZE: 57,
  /** Renewal (T1) time in seconds (4 bytes). */
  RENEWAL_TIME: 58,
  /** Rebinding (T2) time in seconds (4 bytes). */
  REBINDING_TIME: 59,
  /** Client identifier: a type byte and an identifier. */
  CLIENT_ID: 61,
  /** Classless static routes (RFC 3442). */
  CLASSLESS_ROUTES: 121,
  /** Classless static routes under Microsoft's private code, the same encoding. */
  MS_CLASSLESS_ROUTES: 249,
  /** End of options, no length byte. */
  END: 255,
} as const;

/** One classless static route (RFC 3442): `destination/prefixLength via router`. */
export interface ClasslessRoute {
  /** The destination network (4 bytes; bits past the prefix are zero). */
  destination: Uint8Array;
  /** Prefix length, 0..32. */
  prefixLength: number;
  /** The router; 0.0.0.0 means the destination is on-link. */
  router: Uint8Array;
}

/** An option this module does not decode by name, as found: code and data. */
export interface DhcpRawOption {
  /** Option code, 1..254. */
  code: number;
  /** The option's data (instances of one code joined, RFC 3396). */
  data: Uint8Array;
}

/**
 * DHCP options by name; a field is present only when its option is. Addresses are 4 bytes,
 * times are seconds.
 */
export interface DhcpOptions {
  /** 53: the message type (see {@linkcode DhcpMessageType}). */
  messageType?: number;
  /** 1: subnet mask. */
  subnetMask?: Uint8Array;
  /** 3: routers. */
  routers?: Uint8Array[];
  /** 6: DNS servers. */
  dnsServers?: Uint8Array[];
  /** 12: host name. */
  hostName?: string;
  /** 15: domain name. */
  domainName?: string;
  /** 26: interface MTU. */
  interfaceMtu?: number;
  /** 50: requested IP address. */
  requestedIp?: Uint8Array;
  /** 51: lease time. */
  leaseTime?: number;
  /** 54: server identifier. */
  serverId?: Uint8Array;
  /** 55: parameter request list, the option codes asked for in the client's order. */
  parameterRequestList?: number[];
  /** 56: message, e.g. why a NAK. */
  message?: string;
  /** 57: maximum DHCP message size, 576..65535 when legal. */
  maxMessageSize?: number;
  /** 58: renewal time, T1. */
  renewalTime?: number;
  /** 59: rebinding time, T2. */
  rebindingTime?: number;
  /** 61: client identifier, type byte first. */
  clientId?: Uint8Array;
  /** 121: classless static routes. */
  classlessRoutes?: ClasslessRoute[];
  /** 249: classless static routes, Microsoft's code. */
  msClasslessRoutes?: ClasslessRoute[];
  /** Every other option, in order of first appearance; written after the named ones. */
  unknown?: DhcpRawOption[];
}

/** A decoded DHCP message. Addresses and `chaddr` are views into the bytes decoded. */
export interface DhcpMessage {
  /** {@linkcode BootpOp.REQUEST} or {@linkcode BootpOp.REPLY} (any value is kept). */
  op: number;
  /** Hardware type: 1 for Ethernet. */
  htype: number;
  /** Hops, incremented by relays. */
  hops: number;
  /** Transaction ID chosen by the client. */
  xid: number;
  /** Seconds since the client began. */
  secs: number;
  /** The flags field, broadcast bit included. */
  flags: number;
  /** Whether the broadcast flag is set. */
  broadcast: boolean;
  /** Client IP address: set by a client that has one (renewing, rebinding, inform, release). */
  ciaddr: Uint8Array;
  /** "Your" IP address: what the server gives. */
  yiaddr: Uint8Array;
  /** Next server IP address. */
  siaddr: Uint8Array;
  /** Relay agent IP address; 0.0.0.0 when no relay. */
  giaddr: Uint8Array;
  /** The client hardware address: the first `hlen` bytes of the field (6 for Ethernet). */
  chaddr: Uint8Array;
  /** Server host name, up to the first NUL. */
  sname: string;
  /** Boot file name, up to the first NUL. */
  file: string;
  /** The options. */
  options: DhcpOptions;
}

/** What {@linkcode encodeDhcp} builds a message from; omitted fields are zero or empty. */
export interface DhcpMessageInit {
  /** {@linkcode BootpOp.REQUEST} or {@linkcode BootpOp.REPLY}. */
  op: number;
  /** Transaction ID, 0..0xffffffff. */
  xid: number;
  /** Client hardware address, 0..16 bytes; its length is `hlen`. */
  chaddr: Uint8Array;
  /** Hardware type (default 1, Ethernet). */
  htype?: number;
  /** Hops (default 0). */
  hops?: number;
  /** Seconds (default 0). */
  secs?: number;
  /** Flags (default 0); `broadcast` sets its top bit. */
  flags?: number;
  /** Set the broadcast flag. */
  broadcast?: boolean;
  /** Client IP address. */
  ciaddr?: Uint8Array;
  /** "Your" IP address. */
  yiaddr?: Uint8Array;
  /** Next server IP address. */
  siaddr?: Uint8Array;
  /** Relay agent IP address. */
  giaddr?: Uint8Array;
  /** Server host name, at most 63 bytes of UTF-8. */
  sname?: string;
  /** Boot file name, at most 127 bytes of UTF-8. */
  file?: string;
  /** The options; `messageType` is written first, `unknown` last. */
  options?: DhcpOptions;
}

/** A decoded Ethernet frame carrying a DHCP message (views into the frame). */
export interface DhcpFrame extends UdpFrame {
  /** The IPv4 header. */
  ip: Ipv4Packet;
  /** The DHCP message. */
  dhcp: DhcpMessage;
}

const CIADDR = 12;
const YIADDR = 16;
const SIADDR = 20;
const GIADDR = 24;
const CHADDR = 28;
const SNAME = 44;
const SNAME_LEN = 64;
const FILE = 108;
const FILE_LEN = 128;
const COOKIE = 236;
const MAX_OPTION_LEN = 255;
const IP_UDP_HEADERS = IPV4_HEADER_LEN + UDP_HEADER_LEN;
const ZERO_IP = new Uint8Array(IPV4_ADDRESS_LEN);
const BROADCAST_IP = new Uint8Array(IPV4_ADDRESS_LEN).fill(0xff);
const utf8 = new TextEncoder();
const text = new TextDecoder();

function checkInteger(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from 0 to ${max}`);
  }
}

function checkAddress(address: Uint8Array, what: string): void {
  if (address.length !== IPV4_ADDRESS_LEN) {
    throw new RangeError(`Invalid ${what}: expected 4 bytes, got ${address.length}`);
  }
}

/** The bits of `destination` octet `octet` that lie past `prefixLength`. */
function hostBits(destination: Uint8Array, prefixLength: number, octet: number): number {
  const bits = Math.min(Math.max(prefixLength - 8 * octet, 0), 8);
  return destination[octet]! & (0xff >>> bits);
}

/**
 * Encodes classless static routes in RFC 3442's compact form: per route the prefix length, the
 * destination's significant octets (`ceil(prefixLength / 8)` of them) and the router. Throws a
 * `RangeError` for no routes, a prefix length outside 0..32, an address that is not 4 bytes, or
 * a destination with bits set past its prefix.
 *
 * @example 169.254.0.1/32 on-link and the default route via it
 * ```ts
 * import { encodeClasslessRoutes, parseIpv4 } from "./mod.ts";
 *
 * const gateway = parseIpv4("169.254.0.1");
 * encodeClasslessRoutes([
 *   { destination: gateway, prefixLength: 32, router: parseIpv4("0.0.0.0") },
 *   { destination: parseIpv4("0.0.0.0"), prefixLength: 0, router: gateway },
 * ]); // [32, 169, 254, 0, 1, 0, 0, 0, 0, 0, 169, 254, 0, 1]
 * ```
 */
export function encodeClasslessRoutes(routes: readonly ClasslessRoute[]): Uint8Array<ArrayBuffer> {
  if (routes.length === 0) {
    throw new RangeError("Invalid classless static routes: RFC 3442 needs at least one route");
  }
  const out: number[] = [];
  for (const { destination, prefixLength, router } of routes) {
    checkInteger(prefixLength, 32, "classless route prefix length");
    checkAddress(destination, "classless route destination");
    checkAddress(router, "classless route router");
    for (let octet = 0; octet < IPV4_ADDRESS_LEN; octet++) {
      if (hostBits(destination, prefixLength, octet) !== 0) {
        throw new RangeError(
          `Invalid classless route ${
            destination.join(".")
          }/${prefixLength}: bits are set past the prefix`,
        );
      }
    }
    out.push(prefixLength, ...destination.subarray(0, Math.ceil(prefixLength / 8)), ...router);
  }
  return new Uint8Array(out);
}

/**
 * Decodes RFC 3442's compact encoding (the data of option 121 or 249). Returns, never throws, a
 * {@linkcode MalformedPacketError} with reason `"bad_classless_route"` for empty data, a prefix
 * length above 32, a route cut off by the end of the data, or bits set past a prefix. Destinations
 * are new 4-byte arrays; routers are views into `data`.
 */
export function decodeClasslessRoutes(data: Uint8Array): Decoded<ClasslessRoute[]> {
  const bad = (why: string) =>
    new MalformedPacketError("bad_classless_route", `Classless static routes: ${why}`);
  if (data.length === 0) return bad("no routes (RFC 3442 needs at least 5 bytes)");
  const routes: ClasslessRoute[] = [];
  let i = 0;
  while (i < data.length) {
    const prefixLength = data[i]!;
    if (prefixLength > 32) return bad(`prefix length ${prefixLength} at byte ${i} is above 32`);
    const width = Math.ceil(prefixLength / 8);
    const end = i + 1 + width + IPV4_ADDRESS_LEN;
    if (end > data.length) {
      return bad(
        `the /${prefixLength} route at byte ${i} needs ${end - i} bytes, ${
          data.length - i
        } are left`,
      );
    }
    const destination = new Uint8Array(IPV4_ADDRESS_LEN);
    destination.set(data.subarray(i + 1, i + 1 + width));
    if (width > 0 && hostBits(destination, prefixLength, width - 1) !== 0) {
      return bad(`the /${prefixLength} route at byte ${i} has bits set past its prefix`);
    }
    routes.push({ destination, prefixLength, router: data.subarray(end - IPV4_ADDRESS_LEN, end) });
    i = end;
  }
  return routes;
}

/** The option instances of `code` carrying `data`: split in 255-byte pieces (RFC 3396). */
function writeOption(out: number[], code: number, data: Uint8Array): void {
  let offset = 0;
  do {
    const piece = data.subarray(offset, offset + MAX_OPTION_LEN);
    out.push(code, piece.length, ...piece);
    offset += MAX_OPTION_LEN;
  } while (offset < data.length);
}

function u8(value: number, what: string): Uint8Array {
  checkInteger(value, 0xff, what);
  return new Uint8Array([value]);
}

function be16(value: number, what: string): Uint8Array {
  checkInteger(value, 0xffff, what);
  return new Uint8Array([value >>> 8, value & 0xff]);
}

function be32(value: number, what: string): Uint8Array {
  checkInteger(value, 0xffff_ffff, what);
  return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}

function address(value: Uint8Array, what: string): Uint8Array {
  checkAddress(value, what);
  return value;
}

function addresses(values: readonly Uint8Array[], what: string): Uint8Array {
  if (values.length === 0) throw new RangeError(`Invalid ${what}: at least one address`);
  const out = new Uint8Array(values.length * IPV4_ADDRESS_LEN);
  values.forEach((value, i) => out.set(address(value, what), i * IPV4_ADDRESS_LEN));
  return out;
}

function codes(values: readonly number[]): Uint8Array {
  for (const code of values) checkInteger(code, 0xff, "parameter request list code");
  return new Uint8Array(values);
}

function clientId(value: Uint8Array): Uint8Array {
  if (value.length < 2) {
    throw new RangeError(`Invalid client identifier: ${value.length} bytes, RFC 2132 needs 2`);
  }
  return value;
}

/** The named options in the order they are written, each with its encoder. */
const ENCODERS: readonly [number, (options: DhcpOptions) => Uint8Array | undefined][] = [
  [53, (o) => o.messageType === undefined ? undefined : u8(o.messageType, "message type")],
  [54, (o) => o.serverId && address(o.serverId, "server identifier")],
  [51, (o) => o.leaseTime === undefined ? undefined : be32(o.leaseTime, "lease time")],
  [58, (o) => o.renewalTime === undefined ? undefined : be32(o.renewalTime, "renewal time")],
  [59, (o) => o.rebindingTime === undefined ? undefined : be32(o.rebindingTime, "rebinding time")],
  [1, (o) => o.subnetMask && address(o.subnetMask, "subnet mask")],
  [3, (o) => o.routers && addresses(o.routers, "routers")],
  [6, (o) => o.dnsServers && addresses(o.dnsServers, "DNS servers")],
  [12, (o) => o.hostName === undefined ? undefined : utf8.encode(o.hostName)],
  [15, (o) => o.domainName === undefined ? undefined : utf8.encode(o.domainName)],
  [26, (o) => o.interfaceMtu === undefined ? undefined : be16(o.interfaceMtu, "interface MTU")],
  [50, (o) => o.requestedIp && address(o.requestedIp, "requested IP address")],
  [55, (o) => o.parameterRequestList && codes(o.parameterRequestList)],
  [56, (o) => o.message === undefined ? undefined : utf8.encode(o.message)],
  [57, (o) => o.maxMessageSize === undefined ? undefined : be16(o.maxMessageSize, "max size")],
  [61, (o) => o.clientId && clientId(o.clientId)],
  [121, (o) => o.classlessRoutes && encodeClasslessRoutes(o.classlessRoutes)],
  [249, (o) => o.msClasslessRoutes && encodeClasslessRoutes(o.msClasslessRoutes)],
];

function encodeOptions(options: DhcpOptions): number[] {
  const out: number[] = [];
  for (const [code, encode] of ENCODERS) {
    const data = encode(options);
    if (data !== undefined) writeOption(out, code, data);
  }
  for (const { code, data } of options.unknown ?? []) {
    if (!Number.isInteger(code) || code < 1 || code > 254) {
      throw new RangeError(`Invalid DHCP option code "${code}": expected 1..254`);
    }
    writeOption(out, code, data);
  }
  out.push(DhcpOption.END);
  return out;
}

function writeString(
  message: Uint8Array,
  offset: number,
  length: number,
  value: string,
  what: string,
): void {
  const bytes = utf8.encode(value);
  if (bytes.length >= length) {
    throw new RangeError(`Invalid ${what}: ${bytes.length} bytes, at most ${length - 1} fit`);
  }
  message.set(bytes, offset);
}

/**
 * Builds a new DHCP message: the fixed part, the magic cookie, the options (split where longer
 * than 255 bytes) and the End option, zero-padded to 300 bytes. Throws a `RangeError` for a field
 * out of range, an address that is not 4 bytes, a chaddr above 16 bytes, or a message that with
 * its IP and UDP headers would exceed `maxMessageSize` (576..65535, default 1500).
 *
 * @example An OFFER of 192.0.2.5/24
 * ```ts
 * import { BootpOp, DhcpMessageType, encodeDhcp, parseIpv4, parseMac } from "./mod.ts";
 *
 * const offer = encodeDhcp({
 *   op: BootpOp.REPLY,
 *   xid: 0x12345678,
 *   chaddr: parseMac("52:54:00:12:34:01"),
 *   yiaddr: parseIpv4("192.0.2.5"),
 *   options: {
 *     messageType: DhcpMessageType.OFFER,
 *     serverId: parseIpv4("192.0.2.1"),
 *     leaseTime: 86400,
 *     subnetMask: parseIpv4("255.255.255.0"),
 *     routers: [parseIpv4("192.0.2.1")],
 *   },
 * });
 * offer.length; // 300
 * ```
 */
export function encodeDhcp(
  init: DhcpMessageInit,
  maxMessageSize: number = DHCP_DEFAULT_MAX_MESSAGE_SIZE,
): Uint8Array<ArrayBuffer> {
  const { op, xid, chaddr, htype = 1, hops = 0, secs = 0, flags = 0 } = init;
  checkInteger(maxMessageSize, 0xffff, "maximum DHCP message size");
  if (maxMessageSize < DHCP_MIN_MAX_MESSAGE_SIZE) {
    throw new RangeError(
      `Invalid maximum DHCP message size "${maxMessageSize}": at least ${DHCP_MIN_MAX_MESSAGE_SIZE}`,
    );
  }
  checkInteger(op, 0xff, "BOOTP op");
  checkInteger(htype, 0xff, "BOOTP hardware type");
  checkInteger(hops, 0xff, "BOOTP hops");
  checkInteger(xid, 0xffff_ffff, "DHCP transaction ID");
  checkInteger(secs, 0xffff, "BOOTP secs");
  checkInteger(flags, 0xffff, "BOOTP flags");
  if (chaddr.length > BOOTP_CHADDR_LEN) {
    throw new RangeError(
      `Invalid client hardware address: ${chaddr.length} bytes, at most ${BOOTP_CHADDR_LEN}`,
    );
  }
  const options = encodeOptions(init.options ?? {});
  const length = Math.max(DHCP_OPTIONS_OFFSET + options.length, BOOTP_MIN_LEN);
  if (length + IP_UDP_HEADERS > maxMessageSize) {
    throw new RangeError(
      `DHCP message of ${length} bytes is too long: with IP and UDP headers it exceeds the maximum message size of ${maxMessageSize}`,
    );
  }
  const message = new Uint8Array(length);
  message[0] = op;
  message[1] = htype;
  message[2] = chaddr.length;
  message[3] = hops;
  message.set(be32(xid, "xid"), 4);
  setU16(message, 8, secs);
  setU16(message, 10, init.broadcast ? flags | BOOTP_BROADCAST_FLAG : flags);
  message.set(address(init.ciaddr ?? ZERO_IP, "ciaddr"), CIADDR);
  message.set(address(init.yiaddr ?? ZERO_IP, "yiaddr"), YIADDR);
  message.set(address(init.siaddr ?? ZERO_IP, "siaddr"), SIADDR);
  message.set(address(init.giaddr ?? ZERO_IP, "giaddr"), GIADDR);
  message.set(chaddr, CHADDR);
  writeString(message, SNAME, SNAME_LEN, init.sname ?? "", "BOOTP sname");
  writeString(message, FILE, FILE_LEN, init.file ?? "", "BOOTP file");
  message.set(be32(DHCP_MAGIC_COOKIE, "cookie"), COOKIE);
  message.set(options, DHCP_OPTIONS_OFFSET);
  return message;
}

function readString(bytes: Uint8Array, offset: number, length: number): string {
  const field = bytes.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return text.decode(end < 0 ? field : field.subarray(0, end));
}

function badLength(code: number, length: number, expected: string): MalformedPacketError {
  return new MalformedPacketError(
    "bad_dhcp_option_length",
    `DHCP option ${code} has ${length} bytes, expected ${expected}`,
  );
}

function addressList(code: number, data: Uint8Array): Decoded<Uint8Array[]> {
  if (data.length === 0 || data.length % IPV4_ADDRESS_LEN !== 0) {
    return badLength(code, data.length, "a non-zero multiple of 4");
  }
  const list: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += IPV4_ADDRESS_LEN) {
    list.push(data.subarray(i, i + IPV4_ADDRESS_LEN));
  }
  return list;
}

/** Stores option `code`'s `data` in `options` by name, or returns why it cannot be. */
function decodeOption(
  options: DhcpOptions,
  code: number,
  data: Uint8Array,
): MalformedPacketError | undefined {
  const fixed = (length: number) =>
    data.length === length ? undefined : badLength(code, data.length, `exactly ${length}`);
  let problem: MalformedPacketError | undefined;
  switch (code) {
    case DhcpOption.MESSAGE_TYPE:
      if (!(problem = fixed(1))) options.messageType = data[0]!;
      break;
    case DhcpOption.SUBNET_MASK:
      if (!(problem = fixed(4))) options.subnetMask = data;
      break;
    case DhcpOption.SERVER_ID:
      if (!(problem = fixed(4))) options.serverId = data;
      break;
    case DhcpOption.REQUESTED_IP:
      if (!(problem = fixed(4))) options.requestedIp = data;
      break;
    case DhcpOption.LEASE_TIME:
      if (!(problem = fixed(4))) options.leaseTime = u32(data, 0);
      break;
    case DhcpOption.RENEWAL_TIME:
      if (!(problem = fixed(4))) options.renewalTime = u32(data, 0);
      break;
    case DhcpOption.REBINDING_TIME:
      if (!(problem = fixed(4))) options.rebindingTime = u32(data, 0);
      break;
    case DhcpOption.INTERFACE_MTU:
      if (!(problem = fixed(2))) options.interfaceMtu = u16(data, 0);
      break;
    case DhcpOption.MAX_MESSAGE_SIZE:
      if (!(problem = fixed(2))) options.maxMessageSize = u16(data, 0);
      break;
    case DhcpOption.ROUTER:
    case DhcpOption.DNS_SERVERS: {
      const list = addressList(code, data);
      if (list instanceof MalformedPacketError) return list;
      if (code === DhcpOption.ROUTER) options.routers = list;
      else options.dnsServers = list;
      break;
    }
    case DhcpOption.HOST_NAME:
      options.hostName = text.decode(data);
      break;
    case DhcpOption.DOMAIN_NAME:
      options.domainName = text.decode(data);
      break;
    case DhcpOption.MESSAGE:
      options.message = text.decode(data);
      break;
    case DhcpOption.PARAMETER_REQUEST_LIST:
      options.parameterRequestList = [...data];
      break;
    case DhcpOption.CLIENT_ID:
      if (data.length < 2) return badLength(code, data.length, "at least 2");
      options.clientId = data;
      break;
    case DhcpOption.CLASSLESS_ROUTES:
    case DhcpOption.MS_CLASSLESS_ROUTES: {
      const routes = decodeClasslessRoutes(data);
      if (routes instanceof MalformedPacketError) return routes;
      if (code === DhcpOption.CLASSLESS_ROUTES) options.classlessRoutes = routes;
      else options.msClasslessRoutes = routes;
      break;
    }
    default:
      (options.unknown ??= []).push({ code, data });
  }
  return problem;
}

/**
 * Walks the options from byte 240 to the End option (or the end of `bytes`, for senders that
 * leave it out): each code's instances in order of first appearance, joined (RFC 3396).
 */
function collectOptions(bytes: Uint8Array): Decoded<Map<number, Uint8Array[]>> {
  const found = new Map<number, Uint8Array[]>();
  let i = DHCP_OPTIONS_OFFSET;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === DhcpOption.END) break;
    if (code === DhcpOption.PAD) {
      i++;
      continue;
    }
    if (i + 2 > bytes.length || i + 2 + bytes[i + 1]! > bytes.length) {
      return new MalformedPacketError(
        "truncated_dhcp_option",
        `DHCP option ${code} at byte ${i} runs past the end of the ${bytes.length}-byte message`,
      );
    }
    const data = bytes.subarray(i + 2, i + 2 + bytes[i + 1]!);
    const pieces = found.get(code);
    if (pieces === undefined) found.set(code, [data]);
    else pieces.push(data);
    i += 2 + data.length;
  }
  return found;
}

function join(pieces: Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(pieces.reduce((n, piece) => n + piece.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

/**
 * Decodes a DHCP message that fills `bytes` (the UDP payload; padding after the End option is
 * ignored). Returns, never throws, a {@linkcode MalformedPacketError} with reason
 * `"truncated_dhcp"` (shorter than the fixed part and cookie, 240 bytes), `"bad_dhcp_cookie"`
 * (a plain BOOTP message), `"bad_dhcp_hardware_length"` (hlen above 16),
 * `"truncated_dhcp_option"`, `"bad_dhcp_option_length"` (a named option of the wrong size),
 * `"bad_classless_route"` (see {@linkcode decodeClasslessRoutes}) or `"dhcp_option_overload"`
 * (option 52: options in `sname`/`file`, which this decoder does not read).
 *
 * @example
 * ```ts
 * import { BootpOp, decodeDhcp, encodeDhcp, isMalformed, parseMac } from "./mod.ts";
 *
 * const bytes = encodeDhcp({
 *   op: BootpOp.REQUEST,
 *   xid: 1,
 *   chaddr: parseMac("52:54:00:12:34:01"),
 *   options: { messageType: 1, unknown: [{ code: 60, data: new TextEncoder().encode("vm") }] },
 * });
 * const dhcp = decodeDhcp(bytes);
 * !isMalformed(dhcp) && dhcp.options.unknown?.[0]?.code; // 60, the vendor class, kept raw
 * ```
 */
export function decodeDhcp(bytes: Uint8Array): Decoded<DhcpMessage> {
  if (bytes.length < DHCP_OPTIONS_OFFSET) {
    return new MalformedPacketError(
      "truncated_dhcp",
      `DHCP message too short: ${bytes.length} bytes, the fixed part and cookie need ${DHCP_OPTIONS_OFFSET}`,
    );
  }
  if (u32(bytes, COOKIE) !== DHCP_MAGIC_COOKIE) {
    return new MalformedPacketError(
      "bad_dhcp_cookie",
      `BOOTP message without the DHCP magic cookie: found 0x${
        u32(bytes, COOKIE).toString(16).padStart(8, "0")
      }`,
    );
  }
  const hlen = bytes[2]!;
  if (hlen > BOOTP_CHADDR_LEN) {
    return new MalformedPacketError(
      "bad_dhcp_hardware_length",
      `BOOTP hardware address length ${hlen} is above the ${BOOTP_CHADDR_LEN} bytes of chaddr`,
    );
  }
  const found = collectOptions(bytes);
  if (found instanceof MalformedPacketError) return found;
  if (found.has(DhcpOption.OVERLOAD)) {
    return new MalformedPacketError(
      "dhcp_option_overload",
      "DHCP message overloads sname/file with options (option 52), which is not supported",
    );
  }
  const options: DhcpOptions = {};
  for (const [code, pieces] of found) {
    const problem = decodeOption(options, code, join(pieces));
    if (problem !== undefined) return problem;
  }
  const flags = u16(bytes, 10);
  return {
    op: bytes[0]!,
    htype: bytes[1]!,
    hops: bytes[3]!,
    xid: u32(bytes, 4),
    secs: u16(bytes, 8),
    flags,
    broadcast: (flags & BOOTP_BROADCAST_FLAG) !== 0,
    ciaddr: bytes.subarray(CIADDR, YIADDR),
    yiaddr: bytes.subarray(YIADDR, SIADDR),
    siaddr: bytes.subarray(SIADDR, GIADDR),
    giaddr: bytes.subarray(GIADDR, CHADDR),
    chaddr: bytes.subarray(CHADDR, CHADDR + hlen),
    sname: readString(bytes, SNAME, SNAME_LEN),
    file: readString(bytes, FILE, FILE_LEN),
    options,
  };
}

/**
 * Whether `frame` (VLAN tags allowed) carries UDP to port 67 or 68 in an unfragmented IPv4
 * packet, by its header fields alone, without decoding or allocating: the receive path's first
 * test. {@linkcode decodeDhcpFrame} then checks checksums and the message.
 */
export function isDhcpv4Frame(frame: Uint8Array): boolean {
  if (etherTypeAt(frame) !== EtherType.IPV4) return false;
  const ip = ethernetHeaderLengthAt(frame);
  if (frame.length < ip + IPV4_HEADER_LEN || frame[ip]! >>> 4 !== 4) return false;
  const udp = ip + (frame[ip]! & 0x0f) * 4;
  if (frame[ip + 9] !== IpProtocol.UDP || (u16(frame, ip + 6) & 0x3fff) !== 0) return false;
  if (udp + UDP_HEADER_LEN > frame.length) return false;
  const port = u16(frame, udp + 2);
  return port === DHCP_SERVER_PORT || port === DHCP_CLIENT_PORT;
}

/**
 * Decodes an Ethernet frame down to its DHCP message, verifying the IPv4 and UDP checksums.
 * Returns the reasons of `decodeUdpFrame` and {@linkcode decodeDhcp}, or `"not_ipv4"` (UDP over
 * IPv6) or `"not_dhcp"` (destination port neither 67 nor 68).
 */
export function decodeDhcpFrame(frame: Uint8Array): Decoded<DhcpFrame> {
  const udpFrame = catchMalformed(() => decodeUdpFrame(frame));
  if (udpFrame instanceof MalformedPacketError) return udpFrame;
  const { ethernet, ip, udp } = udpFrame;
  if (ip.version !== 4) {
    return new MalformedPacketError("not_ipv4", "UDP over IPv6 cannot carry DHCPv4");
  }
  if (udp.dstPort !== DHCP_SERVER_PORT && udp.dstPort !== DHCP_CLIENT_PORT) {
    return new MalformedPacketError(
      "not_dhcp",
      `UDP datagram to port ${udp.dstPort}, not DHCP's 67 or 68`,
    );
  }
  const dhcp = decodeDhcp(udp.payload);
  return dhcp instanceof MalformedPacketError ? dhcp : { ethernet, ip, udp, dhcp };
}

/** What {@linkcode encodeDhcpFrame} builds a frame from. */
export interface DhcpFrameInit {
  /** Ethernet source. */
  srcMac: Uint8Array;
  /** Ethernet destination. */
  dstMac: Uint8Array;
  /** IPv4 source (0.0.0.0 for a client without an address). */
  src: Uint8Array;
  /** IPv4 destination (255.255.255.255 for broadcast). */
  dst: Uint8Array;
  /** UDP source port. */
  srcPort: number;
  /** UDP destination port. */
  dstPort: number;
  /** The message. */
  message: DhcpMessageInit;
  /** IPv4 TTL (default 64). */
  ttl?: number;
  /** The maximum message size to keep to (see {@linkcode encodeDhcp}; default 1500). */
  maxMessageSize?: number;
}

/**
 * Builds a whole Ethernet + IPv4 + UDP frame carrying `message`, every length and checksum
 * filled in. Throws a `RangeError` as {@linkcode encodeDhcp} and the lower encoders do.
 *
 * @example A server's broadcast ACK
 * ```ts
 * import {
 *   BootpOp,
 *   BROADCAST_MAC,
 *   DhcpMessageType,
 *   encodeDhcpFrame,
 *   parseIpv4,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const frame = encodeDhcpFrame({
 *   srcMac: parseMac("02:00:00:00:00:01"),
 *   dstMac: BROADCAST_MAC,
 *   src: parseIpv4("169.254.0.1"),
 *   dst: parseIpv4("255.255.255.255"),
 *   srcPort: 67,
 *   dstPort: 68,
 *   message: {
 *     op: BootpOp.REPLY,
 *     xid: 7,
 *     chaddr: parseMac("52:54:00:12:34:01"),
 *     broadcast: true,
 *     yiaddr: parseIpv4("169.254.0.5"),
 *     options: { messageType: DhcpMessageType.ACK, serverId: parseIpv4("169.254.0.1") },
 *   },
 * });
 * frame.length; // 342: 14 + 20 + 8 + 300
 * ```
 */
export function encodeDhcpFrame(init: DhcpFrameInit): Uint8Array<ArrayBuffer> {
  const { srcMac, dstMac, src, dst, srcPort, dstPort, ttl = 64 } = init;
  const payload = encodeDhcp(init.message, init.maxMessageSize);
  const datagram = encodeUdp({ srcPort, dstPort, payload, src, dst });
  return encodeEthernet({
    dst: dstMac,
    src: srcMac,
    etherType: EtherType.IPV4,
    payload: encodeIpv4({ src, dst, protocol: IpProtocol.UDP, ttl, payload: datagram }),
  });
}

/** The options every client message of the `createDhcp*` builders carries unless overridden. */
export const DEFAULT_PARAMETER_REQUEST_LIST: readonly number[] = [1, 3, 6, 15, 26, 121];

/** What the client frame builders share. */
export interface DhcpClientInit {
  /** The client's MAC: Ethernet source and chaddr. */
  clientMac: Uint8Array;
  /** Transaction ID. */
  xid: number;
  /** Ask for a broadcast reply (default false). */
  broadcast?: boolean;
  /** Seconds since the client began (default 0). */
  secs?: number;
  /**
   * More options (host name, client ID, maximum message size, raw ones ...), over the builder's
   * own; `parameterRequestList` replaces {@linkcode DEFAULT_PARAMETER_REQUEST_LIST}.
   */
  options?: DhcpOptions;
}

/** Where a client sends a unicast message: the server's MAC and address. */
export interface DhcpServerAddress {
  /** The server's MAC (or the gateway's, towards a relay). */
  mac: Uint8Array;
  /** The server's IPv4 address. */
  ip: Uint8Array;
}

/** What {@linkcode createDhcpDiscover} builds a frame from. */
export interface DhcpDiscoverInit extends DhcpClientInit {
  /** The address the client would like (option 50). */
  requestedIp?: Uint8Array;
}

/**
 * What {@linkcode createDhcpRequest} builds a frame from. The client's state follows from the
 * fields (RFC 2131 section 4.3.2): SELECTING sets `requestedIp` and `serverId`, INIT-REBOOT
 * `requestedIp` only, RENEWING `ciaddr` and `server` (unicast), REBINDING `ciaddr` only.
 */
export interface DhcpRequestInit extends DhcpClientInit {
  /** Option 50: the offered or remembered address. */
  requestedIp?: Uint8Array;
  /** Option 54: the server whose offer the client takes. */
  serverId?: Uint8Array;
  /** The client's current address, when renewing or rebinding. */
  ciaddr?: Uint8Array;
  /** Send unicast to this server (renewing) rather than broadcast. */
  server?: DhcpServerAddress;
}

/** What {@linkcode createDhcpRelease} builds a frame from. */
export interface DhcpReleaseInit extends DhcpClientInit {
  /** The address given back. */
  ciaddr: Uint8Array;
  /** The server that leased it: option 54 and the unicast destination. */
  server: DhcpServerAddress;
}

/** What {@linkcode createDhcpDecline} builds a frame from. */
export interface DhcpDeclineInit extends DhcpClientInit {
  /** The address found in use (option 50). */
  requestedIp: Uint8Array;
  /** The server that offered it (option 54). */
  serverId: Uint8Array;
}

/** What {@linkcode createDhcpInform} builds a frame from. */
export interface DhcpInformInit extends DhcpClientInit {
  /** The client's own, configured address. */
  ciaddr: Uint8Array;
  /** Send unicast to this server rather than broadcast. */
  server?: DhcpServerAddress;
}

/** Options some of which a builder may leave undefined: dropped before encoding. */
type SparseOptions = { [K in keyof DhcpOptions]?: DhcpOptions[K] | undefined };

/** What a client builder adds to the message: its addressing and its options. */
interface ClientFields {
  ciaddr?: Uint8Array | undefined;
  server?: DhcpServerAddress | undefined;
  options: SparseOptions;
}

function definedOptions(options: SparseOptions): DhcpOptions {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as DhcpOptions;
}

function clientFrame(
  init: DhcpClientInit,
  messageType: number,
  fields: ClientFields,
): Uint8Array<ArrayBuffer> {
  const { clientMac, xid, broadcast = false, secs = 0 } = init;
  const ciaddr = fields.ciaddr ?? ZERO_IP;
  return encodeDhcpFrame({
    srcMac: clientMac,
    dstMac: fields.server?.mac ?? BROADCAST_MAC,
    src: ciaddr,
    dst: fields.server?.ip ?? BROADCAST_IP,
    srcPort: DHCP_CLIENT_PORT,
    dstPort: DHCP_SERVER_PORT,
    message: {
      op: BootpOp.REQUEST,
      xid,
      secs,
      broadcast,
      chaddr: clientMac,
      ciaddr,
      options: definedOptions({ messageType, ...fields.options, ...init.options }),
    },
  });
}

/**
 * Builds a whole broadcast DHCPDISCOVER frame from 0.0.0.0:68 to 255.255.255.255:67, asking for
 * {@linkcode DEFAULT_PARAMETER_REQUEST_LIST}. Throws a `RangeError` for a field out of range.
 */
export function createDhcpDiscover(init: DhcpDiscoverInit): Uint8Array<ArrayBuffer> {
  return clientFrame(init, DhcpMessageType.DISCOVER, {
    options: {
      requestedIp: init.requestedIp,
      parameterRequestList: [...DEFAULT_PARAMETER_REQUEST_LIST],
    },
  });
}

/**
 * Builds a whole DHCPREQUEST frame; see {@linkcode DhcpRequestInit} for the client states.
 * Broadcast from 0.0.0.0 (or `ciaddr`) unless `server` is given. Throws a `RangeError` for a
 * field out of range.
 *
 * @example SELECTING: take 192.0.2.5 from 192.0.2.1
 * ```ts
 * import { createDhcpRequest, parseIpv4, parseMac } from "./mod.ts";
 *
 * const frame = createDhcpRequest({
 *   clientMac: parseMac("52:54:00:12:34:01"),
 *   xid: 0x12345678,
 *   requestedIp: parseIpv4("192.0.2.5"),
 *   serverId: parseIpv4("192.0.2.1"),
 * });
 * frame.length; // 342
 * ```
 */
export function createDhcpRequest(init: DhcpRequestInit): Uint8Array<ArrayBuffer> {
  return clientFrame(init, DhcpMessageType.REQUEST, {
    ciaddr: init.ciaddr,
    server: init.server,
    options: {
      requestedIp: init.requestedIp,
      serverId: init.serverId,
      parameterRequestList: [...DEFAULT_PARAMETER_REQUEST_LIST],
    },
  });
}

/** Builds a whole DHCPRELEASE frame, unicast to the server. Throws a `RangeError` as the others. */
export function createDhcpRelease(init: DhcpReleaseInit): Uint8Array<ArrayBuffer> {
  return clientFrame(init, DhcpMessageType.RELEASE, {
    ciaddr: init.ciaddr,
    server: init.server,
    options: { serverId: init.server.ip },
  });
}

/** Builds a whole broadcast DHCPDECLINE frame. Throws a `RangeError` as the others. */
export function createDhcpDecline(init: DhcpDeclineInit): Uint8Array<ArrayBuffer> {
  return clientFrame(init, DhcpMessageType.DECLINE, {
    options: { requestedIp: init.requestedIp, serverId: init.serverId },
  });
}

/**
 * Builds a whole DHCPINFORM frame from `ciaddr`, broadcast unless `server` is given. Throws a
 * `RangeError` as the others.
 */
export function createDhcpInform(init: DhcpInformInit): Uint8Array<ArrayBuffer> {
  return clientFrame(init, DhcpMessageType.INFORM, {
    ciaddr: init.ciaddr,
    server: init.server,
    options: { parameterRequestList: [...DEFAULT_PARAMETER_REQUEST_LIST] },
  });
}

/** Where a server sends its reply to a client's message: RFC 2131 section 4.1. */
export interface DhcpReplyDestination {
  /** Ethernet destination. */
  dstMac: Uint8Array;
  /** IPv4 destination. */
  dst: Uint8Array;
  /** UDP destination port: 67 towards a relay, 68 towards the client. */
  dstPort: number;
}

/**
 * Where the reply to `request` goes (RFC 2131 section 4.1): through the relay in `giaddr` (to
 * port 67, at `relayMac`, the request's Ethernet source); a NAK broadcast; to `ciaddr` when the
 * client has an address; broadcast when the client set the broadcast flag; otherwise unicast to
 * `yiaddr` at chaddr, which the client accepts before it has configured the address.
 */
export function dhcpReplyDestination(
  request: DhcpMessage,
  replyType: number,
  yiaddr: Uint8Array,
  relayMac: Uint8Array,
): DhcpReplyDestination {
  const isZero = (address: Uint8Array) => address.every((byte) => byte === 0);
  const chaddr = request.htype === 1 && request.chaddr.length === MAC_LEN
    ? request.chaddr
    : BROADCAST_MAC;
  if (!isZero(request.giaddr)) {
    return { dstMac: relayMac, dst: request.giaddr, dstPort: DHCP_SERVER_PORT };
  }
  if (replyType === DhcpMessageType.NAK) {
    return { dstMac: BROADCAST_MAC, dst: BROADCAST_IP, dstPort: DHCP_CLIENT_PORT };
  }
  if (!isZero(request.ciaddr)) {
    return { dstMac: chaddr, dst: request.ciaddr, dstPort: DHCP_CLIENT_PORT };
  }
  if (request.broadcast || isZero(yiaddr)) {
    return { dstMac: BROADCAST_MAC, dst: BROADCAST_IP, dstPort: DHCP_CLIENT_PORT };
  }
  return { dstMac: chaddr, dst: yiaddr, dstPort: DHCP_CLIENT_PORT };
}
