/**
 * DHCPv6 (RFC 8415): client/server and relay messages of every type, the options a server for
 * virtual machines needs (client and server identifiers, IA_NA with IAADDR, the Option Request
 * option, elapsed time, status code, Rapid Commit, DNS servers of RFC 3646, IA_PD and IAPREFIX),
 * DUIDs of the four RFC types, and whole frames from a client's MAC.
 *
 * Messages start at the DHCPv6 header, as in a UDP payload. {@linkcode decodeDhcpv6} and
 * {@linkcode decodeDhcpv6Frame} are total: bytes that do not form a message give the
 * {@linkcode MalformedPacketError} as the result, never as an exception. Unknown options are
 * kept raw; decoded arrays are views into the input. DUIDs stay bytes inside messages, since a
 * server compares them as bytes; {@linkcode decodeDuid} reads one.
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

import { setU16, setU32, u16, u32 } from "./bytes.ts";
import { catchMalformed, type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { checkIpv6Length, checkUint } from "./field_checks.ts";
import { type EthernetHeader, ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";
import { IpProtocol } from "./ipv4.ts";
import {
  IPV6_ADDRESS_LEN,
  IPV6_HEADER_LEN,
  type Ipv6Packet,
  isIpv6Multicast,
  linkLocalFromMac,
  parseIpv6,
} from "./ipv6.ts";
import { decodeIpv6Frame, encodeIpv6Frame } from "./ipv6_frame.ts";
import { MAC_LEN } from "./mac.ts";
import { decodeUdp, encodeUdp, type UdpDatagram } from "./udp.ts";

/** The UDP port clients listen on. */
export const DHCPV6_CLIENT_PORT = 546;
/** The UDP port servers and relay agents listen on. */
export const DHCPV6_SERVER_PORT = 547;
/** `ff02::1:2`, where clients send. Shared: never write to it; `.slice()` it first. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS: Readonly<Uint8Array<ArrayBuffer>> = parseIpv6(
  "ff02::1:2",
);

/** DHCPv6 message types (RFC 8415 section 7.3). */
export const Dhcpv6MessageType = {
  /** Client looks for servers. */
  SOLICIT: 1,
  /** Server offers itself. */
  ADVERTISE: 2,
  /** Client asks one server for addresses. */
  REQUEST: 3,
  /** Client checks its addresses still fit the link. */
  CONFIRM: 4,
  /** Client extends its lease with the server that gave it. */
  RENEW: 5,
  /** Client extends its lease with any server. */
  REBIND: 6,
  /** Server answers. */
  REPLY: 7,
  /** Client gives addresses back. */
  RELEASE: 8,
  /** Client found its addresses in use. */
  DECLINE: 9,
  /** Server asks the client to renew. */
  RECONFIGURE: 10,
  /** Client wants configuration without addresses. */
  INFORMATION_REQUEST: 11,
  /** Relay agent forwards a message to a server. */
  RELAY_FORW: 12,
  /** Server answers through a relay agent. */
  RELAY_REPL: 13,
} as const;

/** DHCPv6 option codes this module names. */
export const Dhcpv6OptionCode = {
  /** Client identifier (a DUID). */
  CLIENTID: 1,
  /** Server identifier (a DUID). */
  SERVERID: 2,
  /** Identity association for non-temporary addresses. */
  IA_NA: 3,
  /** Identity association for temporary addresses (kept raw). */
  IA_TA: 4,
  /** An address inside an IA. */
  IAADDR: 5,
  /** Option Request option. */
  ORO: 6,
  /** Server preference. */
  PREFERENCE: 7,
  /** Time since the client began the exchange. */
  ELAPSED_TIME: 8,
  /** Relayed message (kept raw). */
  RELAY_MSG: 9,
  /** Status code and message. */
  STATUS_CODE: 13,
  /** Rapid Commit: two-message exchange. */
  RAPID_COMMIT: 14,
  /** DNS recursive name servers (RFC 3646). */
  DNS_SERVERS: 23,
  /** Domain search list (RFC 3646, kept raw). */
  DOMAIN_LIST: 24,
  /** Identity association for prefix delegation. */
  IA_PD: 25,
  /** A prefix inside an IA_PD. */
  IAPREFIX: 26,
} as const;

/** Status codes (RFC 8415 section 21.13). */
export const Dhcpv6StatusCode = {
  /** Success. */
  SUCCESS: 0,
  /** Failure, reason unspecified. */
  UNSPEC_FAIL: 1,
  /** The server has no addresses for the IA. */
  NO_ADDRS_AVAIL: 2,
  /** The client's binding is not known. */
  NO_BINDING: 3,
  /** The addresses do not fit the link. */
  NOT_ON_LINK: 4,
  /** Send to the multicast address instead. */
  USE_MULTICAST: 5,
  /** The server has no prefixes for the IA_PD. */
  NO_PREFIX_AVAIL: 6,
} as const;

/** DUID types (RFC 8415 section 11, RFC 6355). */
export const DuidType = {
  /** Link-layer address plus time. */
  LLT: 1,
  /** Enterprise number plus identifier. */
  EN: 2,
  /** Link-layer address. */
  LL: 3,
  /** UUID (RFC 6355). */
  UUID: 4,
} as const;

/** Client or server identifier option: a DUID, as bytes. */
export interface Dhcpv6IdOption {
  /** Client identifier (1) or server identifier (2). */
  kind: "client_id" | "server_id";
  /** The DUID, 2 to 130 bytes (see {@linkcode decodeDuid}). */
  duid: Uint8Array;
}

/** An IA_NA (3) or IA_PD (25): an identity association with its timers and addresses. */
export interface Dhcpv6IaOption {
  /** IA_NA or IA_PD. */
  kind: "ia_na" | "ia_pd";
  /** The client's identifier for the IA, echoed by the server. */
  iaid: number;
  /** Seconds until the client renews (T1). */
  t1: number;
  /** Seconds until the client rebinds (T2). */
  t2: number;
  /** IAADDR or IAPREFIX options, status codes. */
  options: Dhcpv6Option[];
}

/** An IAADDR (5): one address of an IA_NA. */
export interface Dhcpv6IaAddressOption {
  /** Always `"iaaddr"`. */
  kind: "iaaddr";
  /** The address (16 bytes). */
  address: Uint8Array;
  /** Preferred lifetime in seconds. */
  preferredLifetime: number;
  /** Valid lifetime in seconds. */
  validLifetime: number;
  /** Sub-options (a status code). */
  options: Dhcpv6Option[];
}

/** An IAPREFIX (26): one prefix of an IA_PD. */
export interface Dhcpv6IaPrefixOption {
  /** Always `"iaprefix"`. */
  kind: "iaprefix";
  /** Preferred lifetime in seconds. */
  preferredLifetime: number;
  /** Valid lifetime in seconds. */
  validLifetime: number;
  /** Prefix length, 0..128. */
  prefixLength: number;
  /** The prefix (16 bytes). */
  prefix: Uint8Array;
  /** Sub-options (a status code). */
  options: Dhcpv6Option[];
}

/** The Option Request option (6): the option codes the client asks for. */
export interface Dhcpv6OroOption {
  /** Always `"oro"`. */
  kind: "oro";
  /** Requested option codes, 16 bits each. */
  codes: number[];
}

/** The Preference option (7): a server's rank, 0..255. */
export interface Dhcpv6PreferenceOption {
  /** Always `"preference"`. */
  kind: "preference";
  /** 255 makes a client take this server at once. */
  preference: number;
}

/** The Elapsed Time option (8). */
export interface Dhcpv6ElapsedTimeOption {
  /** Always `"elapsed_time"`. */
  kind: "elapsed_time";
  /** Hundredths of a second since the exchange began; 0xffff means longer. */
  elapsedTime: number;
}

/** The Status Code option (13). */
export interface Dhcpv6StatusOption {
  /** Always `"status_code"`. */
  kind: "status_code";
  /** See {@linkcode Dhcpv6StatusCode}. */
  status: number;
  /** A message for people (UTF-8 on the wire). */
  message: string;
}

/** The Rapid Commit option (14): no data. */
export interface Dhcpv6RapidCommitOption {
  /** Always `"rapid_commit"`. */
  kind: "rapid_commit";
}

/** The DNS Recursive Name Server option (23). */
export interface Dhcpv6DnsServersOption {
  /** Always `"dns_servers"`. */
  kind: "dns_servers";
  /** The servers, 16 bytes each. */
  servers: Uint8Array[];
}

/** An option this module does not interpret, kept as it came. */
export interface Dhcpv6RawOption {
  /** Always `"raw"`. */
  kind: "raw";
  /** Option code, 16 bits. */
  code: number;
  /** Option data, at most 65535 bytes. */
  data: Uint8Array;
}

/** One DHCPv6 option; `kind` says which. */
export type Dhcpv6Option =
  | Dhcpv6IdOption
  | Dhcpv6IaOption
  | Dhcpv6IaAddressOption
  | Dhcpv6IaPrefixOption
  | Dhcpv6OroOption
  | Dhcpv6PreferenceOption
  | Dhcpv6ElapsedTimeOption
  | Dhcpv6StatusOption
  | Dhcpv6RapidCommitOption
  | Dhcpv6DnsServersOption
  | Dhcpv6RawOption;

/** A client/server message (every type but the two relay ones). */
export interface Dhcpv6ClientServerMessage {
  /** Always `"client_server"`. */
  kind: "client_server";
  /** See {@linkcode Dhcpv6MessageType}; 1..11, or an unassigned type above 13. */
  messageType: number;
  /** Transaction id, 24 bits: a reply carries the request's. */
  transactionId: number;
  /** The options, in order. */
  options: Dhcpv6Option[];
}

/** A Relay-forward (12) or Relay-reply (13) message. */
export interface Dhcpv6RelayMessage {
  /** Always `"relay"`. */
  kind: "relay";
  /** 12 or 13. */
  messageType: number;
  /** How many relay agents have relayed it. */
  hopCount: number;
  /** An address of the link the client is on (16 bytes). */
  linkAddress: Uint8Array;
  /** The client's or previous relay's address (16 bytes). */
  peerAddress: Uint8Array;
  /** The options (the relayed message is a raw option 9). */
  options: Dhcpv6Option[];
}

/** One DHCPv6 message. */
export type Dhcpv6Message = Dhcpv6ClientServerMessage | Dhcpv6RelayMessage;

/** A DUID-LLT (1): hardware type, time and link-layer address. */
export interface DuidLlt {
  /** Always `"llt"`. */
  kind: "llt";
  /** IANA hardware type; 1 is Ethernet. */
  hardwareType: number;
  /** Seconds since 2000-01-01 00:00 UTC, modulo 2^32. */
  time: number;
  /** The link-layer address. */
  linkLayerAddress: Uint8Array;
}

/** A DUID-EN (2): enterprise number and an identifier it assigns. */
export interface DuidEn {
  /** Always `"en"`. */
  kind: "en";
  /** IANA private enterprise number. */
  enterpriseNumber: number;
  /** The identifier, at least one byte. */
  identifier: Uint8Array;
}

/** A DUID-LL (3): hardware type and link-layer address. */
export interface DuidLl {
  /** Always `"ll"`. */
  kind: "ll";
  /** IANA hardware type; 1 is Ethernet. */
  hardwareType: number;
  /** The link-layer address. */
  linkLayerAddress: Uint8Array;
}

/** A DUID-UUID (4, RFC 6355). */
export interface DuidUuid {
  /** Always `"uuid"`. */
  kind: "uuid";
  /** The 16-byte UUID. */
  uuid: Uint8Array;
}

/** A DUID of another type. */
export interface RawDuid {
  /** Always `"raw"`. */
  kind: "raw";
  /** DUID type, 16 bits. */
  type: number;
  /** The bytes after the type. */
  data: Uint8Array;
}

/** A decoded DUID. */
export type Duid = DuidLlt | DuidEn | DuidLl | DuidUuid | RawDuid;

const HEADER_LEN = 4;
const RELAY_HEADER_LEN = 34;
const OPTION_HEADER_LEN = 4;
const MAX_OPTION_LEN = 0xffff;
const MIN_DUID_LEN = 2;
/** RFC 8415 section 11.1: at most 128 bytes after the 2-byte type. */
const MAX_DUID_LEN = 130;
/** IAs hold addresses that hold status codes: deeper nesting is not meaningful. */
const MAX_OPTION_DEPTH = 4;
const HARDWARE_TYPE_ETHERNET = 1;
const utf8 = new TextDecoder();
const utf8Encoder = new TextEncoder();

function malformed(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

/** Concatenates byte strings into a new array. */
function join(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// DUIDs

/**
 * Encodes a DUID. Throws a `RangeError` for a field out of range or a DUID longer than 130
 * bytes (RFC 8415 section 11.1).
 *
 * @example A DUID-LLT for an Ethernet interface
 * ```ts
 * import { encodeDuid, parseMac } from "./mod.ts";
 *
 * encodeDuid({
 *   kind: "llt",
 *   hardwareType: 1,
 *   time: 0x2c5a1b00,
 *   linkLayerAddress: parseMac("52:54:00:12:34:01"),
 * }).length; // 14
 * ```
 */
export function encodeDuid(duid: Duid): Uint8Array<ArrayBuffer> {
  let out: Uint8Array<ArrayBuffer>;
  switch (duid.kind) {
    case "llt":
      checkUint(duid.hardwareType, 0xffff, "DUID hardware type");
      checkUint(duid.time, 0xffff_ffff, "DUID time");
      out = new Uint8Array(8 + duid.linkLayerAddress.length);
      setU16(out, 0, DuidType.LLT);
      setU16(out, 2, duid.hardwareType);
      setU32(out, 4, duid.time);
      out.set(duid.linkLayerAddress, 8);
      break;
    case "en":
      checkUint(duid.enterpriseNumber, 0xffff_ffff, "DUID enterprise number");
      out = new Uint8Array(6 + duid.identifier.length);
      setU16(out, 0, DuidType.EN);
      setU32(out, 2, duid.enterpriseNumber);
      out.set(duid.identifier, 6);
      break;
    case "ll":
      checkUint(duid.hardwareType, 0xffff, "DUID hardware type");
      out = new Uint8Array(4 + duid.linkLayerAddress.length);
      setU16(out, 0, DuidType.LL);
      setU16(out, 2, duid.hardwareType);
      out.set(duid.linkLayerAddress, 4);
      break;
    case "uuid":
      if (duid.uuid.length !== 16) {
        throw new RangeError(`Invalid DUID-UUID: expected 16 bytes, got ${duid.uuid.length}`);
      }
      out = new Uint8Array(18);
      setU16(out, 0, DuidType.UUID);
      out.set(duid.uuid, 2);
      break;
    case "raw":
      checkUint(duid.type, 0xffff, "DUID type");
      out = new Uint8Array(2 + duid.data.length);
      setU16(out, 0, duid.type);
      out.set(duid.data, 2);
      break;
  }
  if (out.length > MAX_DUID_LEN) {
    throw new RangeError(`DUID of ${out.length} bytes is too long: at most ${MAX_DUID_LEN}`);
  }
  return out;
}

/**
 * The DUID-LL (type 3, hardware type 1: Ethernet) of a MAC, as mvirt-net's `generate_duid_ll`
 * makes it: 10 bytes. Throws a `RangeError` for a MAC that is not 6 bytes.
 *
 * @example
 * ```ts
 * import { generateDuidLl, parseMac } from "./mod.ts";
 *
 * generateDuidLl(parseMac("52:54:00:12:34:01")); // [0, 3, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 1]
 * ```
 */
export function generateDuidLl(mac: Uint8Array): Uint8Array<ArrayBuffer> {
  if (mac.length !== MAC_LEN) {
    throw new RangeError(`Invalid MAC address: expected ${MAC_LEN} bytes, got ${mac.length}`);
  }
  return encodeDuid({ kind: "ll", hardwareType: HARDWARE_TYPE_ETHERNET, linkLayerAddress: mac });
}

/**
 * Decodes a DUID (2 to 130 bytes). Never throws on bad bytes: the result is then a
 * {@linkcode MalformedPacketError} with reason `"bad_duid_length"` (outside 2..130 bytes, or too
 * short for its type: DUID-LLT needs 9, DUID-EN 7, DUID-LL 5, DUID-UUID exactly 18).
 *
 * @example
 * ```ts
 * import { decodeDuid, formatMac, generateDuidLl, isMalformed, parseMac } from "./mod.ts";
 *
 * const duid = decodeDuid(generateDuidLl(parseMac("52:54:00:12:34:01")));
 * if (!isMalformed(duid) && duid.kind === "ll") formatMac(duid.linkLayerAddress); // "52:54:00:12:34:01"
 * ```
 */
export function decodeDuid(bytes: Uint8Array): Decoded<Duid> {
  const bad = (detail: string) =>
    malformed("bad_duid_length", `DUID of ${bytes.length} bytes is malformed: ${detail}`);
  if (bytes.length < MIN_DUID_LEN || bytes.length > MAX_DUID_LEN) {
    return bad(`a DUID has ${MIN_DUID_LEN} to ${MAX_DUID_LEN} bytes`);
  }
  const type = u16(bytes, 0);
  switch (type) {
    case DuidType.LLT:
      if (bytes.length < 9) return bad("a DUID-LLT has at least 9");
      return {
        kind: "llt",
        hardwareType: u16(bytes, 2),
        time: u32(bytes, 4),
        linkLayerAddress: bytes.subarray(8),
      };
    case DuidType.EN:
      if (bytes.length < 7) return bad("a DUID-EN has at least 7");
      return { kind: "en", enterpriseNumber: u32(bytes, 2), identifier: bytes.subarray(6) };
    case DuidType.LL:
      if (bytes.length < 5) return bad("a DUID-LL has at least 5");
      return { kind: "ll", hardwareType: u16(bytes, 2), linkLayerAddress: bytes.subarray(4) };
    case DuidType.UUID:
      if (bytes.length !== 18) return bad("a DUID-UUID has exactly 18");
      return { kind: "uuid", uuid: bytes.subarray(2) };
    default:
      return { kind: "raw", type, data: bytes.subarray(2) };
  }
}

// ---------------------------------------------------------------------------------------------
// Options

function optionBytes(code: number, data: Uint8Array): Uint8Array<ArrayBuffer> {
  if (data.length > MAX_OPTION_LEN) {
    throw new RangeError(
      `DHCPv6 option ${code} has ${data.length} bytes of data: at most ${MAX_OPTION_LEN} fit`,
    );
  }
  const out = new Uint8Array(OPTION_HEADER_LEN + data.length);
  setU16(out, 0, code);
  setU16(out, 2, data.length);
  out.set(data, OPTION_HEADER_LEN);
  return out;
}

/** A fixed-size head of `length` bytes filled by `write`, followed by encoded sub-options. */
function withSubOptions(
  length: number,
  write: (head: Uint8Array) => void,
  options: readonly Dhcpv6Option[],
): Uint8Array<ArrayBuffer> {
  const head = new Uint8Array(length);
  write(head);
  return join([head, ...options.map(encodeOption)]);
}

function encodeOption(option: Dhcpv6Option): Uint8Array<ArrayBuffer> {
  const C = Dhcpv6OptionCode;
  switch (option.kind) {
    case "client_id":
    case "server_id":
      if (option.duid.length < MIN_DUID_LEN || option.duid.length > MAX_DUID_LEN) {
        throw new RangeError(
          `Invalid DUID of ${option.duid.length} bytes: expected ${MIN_DUID_LEN} to ${MAX_DUID_LEN}`,
        );
      }
      return optionBytes(option.kind === "client_id" ? C.CLIENTID : C.SERVERID, option.duid);
    case "ia_na":
    case "ia_pd":
      checkUint(option.iaid, 0xffff_ffff, "IAID");
      checkUint(option.t1, 0xffff_ffff, "T1");
      checkUint(option.t2, 0xffff_ffff, "T2");
      return optionBytes(
        option.kind === "ia_na" ? C.IA_NA : C.IA_PD,
        withSubOptions(12, (head) => {
          setU32(head, 0, option.iaid);
          setU32(head, 4, option.t1);
          setU32(head, 8, option.t2);
        }, option.options),
      );
    case "iaaddr":
      checkIpv6Length(option.address, "IAADDR address");
      checkUint(option.preferredLifetime, 0xffff_ffff, "preferred lifetime");
      checkUint(option.validLifetime, 0xffff_ffff, "valid lifetime");
      return optionBytes(
        C.IAADDR,
        withSubOptions(24, (head) => {
          head.set(option.address);
          setU32(head, 16, option.preferredLifetime);
          setU32(head, 20, option.validLifetime);
        }, option.options),
      );
    case "iaprefix":
      checkIpv6Length(option.prefix, "IAPREFIX prefix");
      checkUint(option.prefixLength, 128, "prefix length");
      checkUint(option.preferredLifetime, 0xffff_ffff, "preferred lifetime");
      checkUint(option.validLifetime, 0xffff_ffff, "valid lifetime");
      return optionBytes(
        C.IAPREFIX,
        withSubOptions(25, (head) => {
          setU32(head, 0, option.preferredLifetime);
          setU32(head, 4, option.validLifetime);
          head[8] = option.prefixLength;
          head.set(option.prefix, 9);
        }, option.options),
      );
    case "oro": {
      const data = new Uint8Array(2 * option.codes.length);
      option.codes.forEach((code, i) => {
        checkUint(code, 0xffff, "requested option code");
        setU16(data, 2 * i, code);
      });
      return optionBytes(C.ORO, data);
    }
    case "preference":
      checkUint(option.preference, 0xff, "preference");
      return optionBytes(C.PREFERENCE, new Uint8Array([option.preference]));
    case "elapsed_time": {
      checkUint(option.elapsedTime, 0xffff, "elapsed time");
      const data = new Uint8Array(2);
      setU16(data, 0, option.elapsedTime);
      return optionBytes(C.ELAPSED_TIME, data);
    }
    case "status_code": {
      checkUint(option.status, 0xffff, "status code");
      const data = new Uint8Array(2);
      setU16(data, 0, option.status);
      return optionBytes(C.STATUS_CODE, join([data, utf8Encoder.encode(option.message)]));
    }
    case "rapid_commit":
      return optionBytes(C.RAPID_COMMIT, new Uint8Array());
    case "dns_servers":
      option.servers.forEach((server) => checkIpv6Length(server, "DNS server"));
      return optionBytes(C.DNS_SERVERS, join(option.servers));
    case "raw":
      checkUint(option.code, 0xffff, "DHCPv6 option code");
      return optionBytes(option.code, option.data);
  }
}

function badOptionLength(name: string, length: number, expected: string): MalformedPacketError {
  return malformed(
    "bad_dhcpv6_option_length",
    `DHCPv6 ${name} option has ${length} bytes of data, expected ${expected}`,
  );
}

function addresses(data: Uint8Array): Uint8Array[] {
  const list: Uint8Array[] = [];
  for (let p = 0; p < data.length; p += IPV6_ADDRESS_LEN) {
    list.push(data.subarray(p, p + IPV6_ADDRESS_LEN));
  }
  return list;
}

/** Decodes one option with code `code` and data `data`. */
function decodeOption(code: number, data: Uint8Array, depth: number): Decoded<Dhcpv6Option> {
  const C = Dhcpv6OptionCode;
  const sub = (start: number) => decodeOptions(data, start, depth + 1);
  switch (code) {
    case C.CLIENTID:
    case C.SERVERID: {
      const duid = decodeDuid(data);
      if (isMalformed(duid)) return duid;
      return { kind: code === C.CLIENTID ? "client_id" : "server_id", duid: data };
    }
    case C.IA_NA:
    case C.IA_PD: {
      const name = code === C.IA_NA ? "IA_NA" : "IA_PD";
      if (data.length < 12) return badOptionLength(name, data.length, "at least 12");
      const options = sub(12);
      if (isMalformed(options)) return options;
      return {
        kind: code === C.IA_NA ? "ia_na" : "ia_pd",
        iaid: u32(data, 0),
        t1: u32(data, 4),
        t2: u32(data, 8),
        options,
      };
    }
    case C.IAADDR: {
      if (data.length < 24) return badOptionLength("IAADDR", data.length, "at least 24");
      const options = sub(24);
      if (isMalformed(options)) return options;
      return {
        kind: "iaaddr",
        address: data.subarray(0, 16),
        preferredLifetime: u32(data, 16),
        validLifetime: u32(data, 20),
        options,
      };
    }
    case C.IAPREFIX: {
      if (data.length < 25) return badOptionLength("IAPREFIX", data.length, "at least 25");
      const options = sub(25);
      if (isMalformed(options)) return options;
      return {
        kind: "iaprefix",
        preferredLifetime: u32(data, 0),
        validLifetime: u32(data, 4),
        prefixLength: data[8]!,
        prefix: data.subarray(9, 25),
        options,
      };
    }
    case C.ORO: {
      if (data.length % 2 !== 0) return badOptionLength("ORO", data.length, "an even number");
      const codes: number[] = [];
      for (let p = 0; p < data.length; p += 2) codes.push(u16(data, p));
      return { kind: "oro", codes };
    }
    case C.PREFERENCE:
      if (data.length !== 1) return badOptionLength("Preference", data.length, "1");
      return { kind: "preference", preference: data[0]! };
    case C.ELAPSED_TIME:
      if (data.length !== 2) return badOptionLength("Elapsed Time", data.length, "2");
      return { kind: "elapsed_time", elapsedTime: u16(data, 0) };
    case C.STATUS_CODE:
      if (data.length < 2) return badOptionLength("Status Code", data.length, "at least 2");
      return { kind: "status_code", status: u16(data, 0), message: utf8.decode(data.slice(2)) };
    case C.RAPID_COMMIT:
      if (data.length !== 0) return badOptionLength("Rapid Commit", data.length, "0");
      return { kind: "rapid_commit" };
    case C.DNS_SERVERS:
      if (data.length % IPV6_ADDRESS_LEN !== 0) {
        return badOptionLength("DNS Servers", data.length, "a multiple of 16");
      }
      return { kind: "dns_servers", servers: addresses(data) };
    default:
      return { kind: "raw", code, data };
  }
}

/** Decodes the options in `bytes[start..]`, each a code, a length and that much data. */
function decodeOptions(bytes: Uint8Array, start: number, depth: number): Decoded<Dhcpv6Option[]> {
  if (depth > MAX_OPTION_DEPTH) {
    return malformed(
      "dhcpv6_options_too_deep",
      `DHCPv6 options nest more than ${MAX_OPTION_DEPTH} levels deep`,
    );
  }
  const options: Dhcpv6Option[] = [];
  for (let p = start; p < bytes.length;) {
    if (p + OPTION_HEADER_LEN > bytes.length) {
      return malformed(
        "truncated_dhcpv6_option",
        `DHCPv6 option at byte ${p} has ${bytes.length - p} bytes, a header needs 4`,
      );
    }
    const code = u16(bytes, p);
    const length = u16(bytes, p + 2);
    const end = p + OPTION_HEADER_LEN + length;
    if (end > bytes.length) {
      return malformed(
        "truncated_dhcpv6_option",
        `DHCPv6 option ${code} at byte ${p} claims ${length} bytes of data, only ${
          bytes.length - p - OPTION_HEADER_LEN
        } remain`,
      );
    }
    const option = decodeOption(code, bytes.subarray(p + OPTION_HEADER_LEN, end), depth);
    if (isMalformed(option)) return option;
    options.push(option);
    p = end;
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Messages

/** Whether `messageType` is Relay-forward or Relay-reply, whose header differs. */
function isRelayType(messageType: number): boolean {
  return messageType === Dhcpv6MessageType.RELAY_FORW ||
    messageType === Dhcpv6MessageType.RELAY_REPL;
}

/**
 * Encodes a DHCPv6 message. Throws a `RangeError` for a field out of range (a transaction id
 * above 24 bits, a relay `kind` whose type is not 12 or 13, or the reverse), an address that is
 * not 16 bytes, or an option longer than 65535 bytes.
 *
 * @example
 * ```ts
 * import { decodeDhcpv6, Dhcpv6MessageType, encodeDhcpv6, generateDuidLl, parseMac } from "./mod.ts";
 *
 * const bytes = encodeDhcpv6({
 *   kind: "client_server",
 *   messageType: Dhcpv6MessageType.INFORMATION_REQUEST,
 *   transactionId: 0x123456,
 *   options: [
 *     { kind: "client_id", duid: generateDuidLl(parseMac("52:54:00:12:34:01")) },
 *     { kind: "oro", codes: [23] },
 *   ],
 * });
 * decodeDhcpv6(bytes);
 * ```
 */
export function encodeDhcpv6(message: Dhcpv6Message): Uint8Array<ArrayBuffer> {
  checkUint(message.messageType, 0xff, "DHCPv6 message type");
  if ((message.kind === "relay") !== isRelayType(message.messageType)) {
    throw new RangeError(
      `Invalid DHCPv6 message type "${message.messageType}" for a ${message.kind} message: relay messages are types 12 and 13, and only they`,
    );
  }
  let head: Uint8Array;
  if (message.kind === "relay") {
    checkUint(message.hopCount, 0xff, "relay hop count");
    checkIpv6Length(message.linkAddress, "relay link address");
    checkIpv6Length(message.peerAddress, "relay peer address");
    head = new Uint8Array(RELAY_HEADER_LEN);
    head[1] = message.hopCount;
    head.set(message.linkAddress, 2);
    head.set(message.peerAddress, 18);
  } else {
    checkUint(message.transactionId, 0xff_ffff, "DHCPv6 transaction id");
    head = new Uint8Array(HEADER_LEN);
    head[1] = message.transactionId >>> 16;
    setU16(head, 2, message.transactionId & 0xffff);
  }
  head[0] = message.messageType;
  return join([head, ...message.options.map(encodeOption)]);
}

/**
 * Decodes the DHCPv6 message that fills `bytes` (a UDP payload). Never throws on bad bytes: the
 * result is then a {@linkcode MalformedPacketError} with reason `"truncated_dhcpv6"` (shorter
 * than its header: 4 bytes, 34 for relay messages), `"truncated_dhcpv6_option"`,
 * `"bad_dhcpv6_option_length"` (a known option of the wrong size), `"bad_duid_length"` or
 * `"dhcpv6_options_too_deep"`. Unknown message types decode as client/server messages, unknown
 * options as raw.
 *
 * @example
 * ```ts
 * import { decodeDhcpv6, isMalformed } from "./mod.ts";
 *
 * const result = decodeDhcpv6(new Uint8Array([1, 0, 0, 1, 0, 8, 0, 2, 0]));
 * isMalformed(result) && result.reason; // "truncated_dhcpv6_option"
 * ```
 */
export function decodeDhcpv6(bytes: Uint8Array): Decoded<Dhcpv6Message> {
  if (bytes.length < 1) return malformed("truncated_dhcpv6", "DHCPv6 message is empty");
  const messageType = bytes[0]!;
  const relay = isRelayType(messageType);
  const headerLength = relay ? RELAY_HEADER_LEN : HEADER_LEN;
  if (bytes.length < headerLength) {
    return malformed(
      "truncated_dhcpv6",
      `DHCPv6 message of type ${messageType} has ${bytes.length} bytes, its header needs ${headerLength}`,
    );
  }
  const options = decodeOptions(bytes, headerLength, 1);
  if (isMalformed(options)) return options;
  if (relay) {
    return {
      kind: "relay",
      messageType,
      hopCount: bytes[1]!,
      linkAddress: bytes.subarray(2, 18),
      peerAddress: bytes.subarray(18, 34),
      options,
    };
  }
  return {
    kind: "client_server",
    messageType,
    transactionId: (bytes[1]! << 16) | u16(bytes, 2),
    options,
  };
}

// ---------------------------------------------------------------------------------------------
// Whole frames

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
