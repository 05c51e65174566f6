/**
 * DHCPv6 (RFC 8415): client/server and relay messages of every type, the options a server for
 * virtual machines needs (client and server identifiers, IA_NA with IAADDR, the Option Request
 * option, elapsed time, status code, Rapid Commit, DNS servers of RFC 3646, IA_PD and IAPREFIX).
 * DUIDs are in duid.ts, whole frames and the client builders in dhcpv6_frame.ts.
 *
 * Messages start at the DHCPv6 header, as in a UDP payload. {@linkcode decodeDhcpv6} is total:
 * bytes that do not form a message give the {@linkcode MalformedPacketError} as the result, never
 * as an exception. Unknown options are kept raw; decoded arrays are views into the input.
 *
 * @example An Information-request, and back
 * ```ts
 * import { decodeDhcpv6, Dhcpv6MessageType, encodeDhcpv6, findOfKind, generateDuidLl, isMalformed, parseMac } from "./mod.ts";
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
 * const message = decodeDhcpv6(bytes);
 * if (!isMalformed(message)) findOfKind(message.options, "oro")?.codes; // [23]
 * ```
 *
 * @module
 */

import { setU16, setU32, u16, u32 } from "./bytes.ts";
import { type Decoded, isMalformed, MalformedPacketError } from "./errors.ts";
import { decodeDuid, MAX_DUID_LEN, MIN_DUID_LEN } from "./duid.ts";
import { checkIpv6Length, checkUint } from "./field_checks.ts";
import { IPV6_ADDRESS_LEN } from "./ipv6.ts";

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

const HEADER_LEN = 4;
const RELAY_HEADER_LEN = 34;
const OPTION_HEADER_LEN = 4;
const MAX_OPTION_LEN = 0xffff;
/** IAs hold addresses that hold status codes: deeper nesting is not meaningful. */
const MAX_OPTION_DEPTH = 4;
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
  // IA_NA, IA_PD, IAADDR and IAPREFIX: a fixed part of `fixed` bytes, then options.
  const nested = (
    name: string,
    fixed: number,
    build: (options: Dhcpv6Option[]) => Dhcpv6Option,
  ): Decoded<Dhcpv6Option> => {
    if (data.length < fixed) return badOptionLength(name, data.length, `at least ${fixed}`);
    const options = decodeOptions(data, fixed, depth + 1);
    return isMalformed(options) ? options : build(options);
  };
  switch (code) {
    case C.CLIENTID:
    case C.SERVERID: {
      const duid = decodeDuid(data);
      if (isMalformed(duid)) return duid;
      return { kind: code === C.CLIENTID ? "client_id" : "server_id", duid: data };
    }
    case C.IA_NA:
    case C.IA_PD:
      return nested(code === C.IA_NA ? "IA_NA" : "IA_PD", 12, (options) => ({
        kind: code === C.IA_NA ? "ia_na" : "ia_pd",
        iaid: u32(data, 0),
        t1: u32(data, 4),
        t2: u32(data, 8),
        options,
      }));
    case C.IAADDR:
      return nested("IAADDR", 24, (options) => ({
        kind: "iaaddr",
        address: data.subarray(0, 16),
        preferredLifetime: u32(data, 16),
        validLifetime: u32(data, 20),
        options,
      }));
    case C.IAPREFIX:
      return nested("IAPREFIX", 25, (options) => ({
        kind: "iaprefix",
        preferredLifetime: u32(data, 0),
        validLifetime: u32(data, 4),
        prefixLength: data[8]!,
        prefix: data.subarray(9, 25),
        options,
      }));
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
