/**
 * IEEE 802.1AX Slow Protocols frames: LACPDUs (subtype 1) and Marker PDUs (subtype 2).
 *
 * Frames here are whole untagged Ethernet frames without the FCS, as packet sockets deliver them.
 * Offsets in this file count from the first byte of the frame (the destination MAC), as in the
 * table of the standard's LACPDU structure (802.1AX-2014 6.4.2.3): the LACPDU starts at 14.
 *
 * Receiving follows 802.1AX-2014 6.4.2 and 6.5: reserved octets are never checked, a version
 * above the one we speak is accepted (its extra TLVs are kept), and the destination MAC is left to
 * the caller, so frames sent elsewhere still decode for diagnostics. Slow Protocols frames travel
 * untagged; VLAN-tagged frames are rejected.
 *
 * @example Answer a partner's LACPDU
 * ```ts
 * import {
 *   decodeLacpdu,
 *   encodeLacpdu,
 *   formatStateLetters,
 *   LacpState,
 *   parseMac,
 * } from "./mod.ts";
 *
 * const mac = parseMac("02:00:00:00:00:01");
 * const frame = encodeLacpdu({
 *   version: 1,
 *   actor: {
 *     systemPriority: 32768,
 *     system: mac,
 *     key: 1,
 *     portPriority: 32768,
 *     port: 1,
 *     state: LacpState.ACTIVE | LacpState.AGGREGATION,
 *   },
 *   partner: {
 *     systemPriority: 0,
 *     system: new Uint8Array(6),
 *     key: 0,
 *     portPriority: 0,
 *     port: 0,
 *     state: LacpState.DEFAULTED,
 *   },
 *   collectorMaxDelay: 0,
 *   extraTlvs: [],
 * }, mac);
 * frame.length; // 124
 * formatStateLetters(decodeLacpdu(frame).actor.state); // "AG"
 * ```
 *
 * @module
 */

import { setU16, u16 } from "./bytes.ts";
import { MalformedPacketError } from "./errors.ts";
import { ETH_HEADER_LEN, EtherType, isVlanTpid, writeEthernetHeader } from "./ethernet.ts";
import { MAC_LEN, parseMac } from "./mac.ts";

/** The Slow_Protocols_Multicast address 01:80:c2:00:00:02. Shared: never write to it. */
export const SLOW_PROTOCOLS_MAC: Readonly<Uint8Array<ArrayBuffer>> = parseMac("01:80:c2:00:00:02");

/** The Slow Protocols EtherType, 0x8809 (the same value as `EtherType.SLOW_PROTOCOLS`). */
export const ETHERTYPE_SLOW: typeof EtherType.SLOW_PROTOCOLS = EtherType.SLOW_PROTOCOLS;

/** Slow Protocols subtypes, the first octet after the EtherType. */
export const SlowSubtype = {
  /** Link Aggregation Control Protocol. */
  LACP: 1,
  /** Marker protocol. */
  MARKER: 2,
} as const;

/** Octets of a version 1 LACPDU (and of a Marker PDU) after the EtherType, subtype included. */
export const LACPDU_LENGTH = 110;
/** Length of a whole version 1 LACPDU or Marker PDU frame without the FCS. */
export const LACP_FRAME_LENGTH: number = ETH_HEADER_LEN + LACPDU_LENGTH;

/** LACPDU TLV types (802.1AX-2014 6.4.2.3 and, for version 2, 6.4.2.4). */
export const LacpTlvType = {
  /** End of the TLV list; length 0. */
  TERMINATOR: 0,
  /** Actor Information; length 20. */
  ACTOR: 1,
  /** Partner Information; length 20. */
  PARTNER: 2,
  /** Collector Information; length 16. */
  COLLECTOR: 3,
  /** Port Algorithm (version 2); length 6. */
  PORT_ALGORITHM: 4,
  /** Port Conversation ID Digest (version 2); length 20. */
  PORT_CONVERSATION_ID_DIGEST: 5,
  /** Port Conversation Mask-1 (version 2); length 131. */
  PORT_CONVERSATION_MASK_1: 6,
  /** Port Conversation Mask-2 (version 2); length 130. */
  PORT_CONVERSATION_MASK_2: 7,
  /** Port Conversation Mask-3 (version 2); length 130. */
  PORT_CONVERSATION_MASK_3: 8,
  /** Port Conversation Mask-4 (version 2); length 130. */
  PORT_CONVERSATION_MASK_4: 9,
  /** Port Conversation Service Mapping Digest (version 2); length 18. */
  PORT_CONVERSATION_SERVICE_MAPPING: 10,
} as const;

/** Bits of the Actor_State and Partner_State octets. */
export const LacpState = {
  /** LACP_Activity: 1 = active, 0 = passive. */
  ACTIVE: 0x01,
  /** LACP_Timeout: 1 = short (3 s), 0 = long (90 s). */
  SHORT_TIMEOUT: 0x02,
  /** Aggregation: 1 = aggregatable, 0 = individual. */
  AGGREGATION: 0x04,
  /** Synchronization: the link is in the right aggregation. */
  SYNCHRONIZATION: 0x08,
  /** Collecting frames is enabled. */
  COLLECTING: 0x10,
  /** Distributing frames is enabled. */
  DISTRIBUTING: 0x20,
  /** The actor uses defaulted partner information. */
  DEFAULTED: 0x40,
  /** The actor's receive machine is in the EXPIRED state. */
  EXPIRED: 0x80,
} as const;

/** The name of one {@linkcode LacpState} bit, e.g. `"ACTIVE"`. */
export type LacpStateFlag = keyof typeof LacpState;

/**
 * One letter per state bit, bit 0 first: A(ctive), T(imeout short), aG(gregation),
 * S(ynchronization), C(ollecting), D(istributing), deF(aulted), E(xpired), as the original lacpd
 * prints and parses them.
 */
export const STATE_LETTERS = "ATGSCDFE";

/** The {@linkcode LacpState} names in bit order, bit 0 first. */
export const STATE_FLAG_NAMES: readonly LacpStateFlag[] = [
  "ACTIVE",
  "SHORT_TIMEOUT",
  "AGGREGATION",
  "SYNCHRONIZATION",
  "COLLECTING",
  "DISTRIBUTING",
  "DEFAULTED",
  "EXPIRED",
];

/** The letter {@linkcode formatStateLetters} prints for a state with no bit set. */
const NO_STATE_LETTER = "N";

/** One side's information in an LACPDU: the Actor or Partner Information TLV. */
export interface LacpPortInfo {
  /** System priority, 0..0xffff (lower is better). */
  systemPriority: number;
  /** System ID, a MAC address (6 bytes). */
  system: Uint8Array;
  /** Operational key, 0..0xffff. */
  key: number;
  /** Port priority, 0..0xffff (lower is better). */
  portPriority: number;
  /** Port number, 0..0xffff. */
  port: number;
  /** State octet, 0..0xff: an OR of {@linkcode LacpState} bits. */
  state: number;
}

/** A TLV beyond the version 1 set, as carried by version 2 LACPDUs before the Terminator. */
export interface LacpTlv {
  /** TLV type, 1..0xff (see {@linkcode LacpTlvType}). */
  type: number;
  /** The value octets; the TLV's length field is `value.length + 2`, so at most 253 octets. */
  value: Uint8Array;
}

/** A decoded (or to-be-encoded) LACPDU. */
export interface Lacpdu {
  /** Version_Number, 1 (or 2 for 802.1AX-2014 version 2 LACPDUs); 0..0xff when encoding. */
  version: number;
  /** Actor Information. */
  actor: LacpPortInfo;
  /** Partner Information. */
  partner: LacpPortInfo;
  /** CollectorMaxDelay in tens of microseconds, 0..0xffff (Linux and OVS send 0). */
  collectorMaxDelay: number;
  /** TLVs between the Collector Information and the Terminator, in wire order (version >= 2). */
  extraTlvs: LacpTlv[];
}

/** A Marker PDU's TLV: a Marker Information request or a Marker Response. */
export type MarkerTlvType = "information" | "response";

/** A decoded (or to-be-encoded) Marker PDU (802.1AX-2014 6.5). */
export interface MarkerPdu {
  /** Version_Number, 1 on the wire today; 0..0xff when encoding. */
  version: number;
  /** Marker Information (TLV type 1) or Marker Response (TLV type 2). */
  tlv: MarkerTlvType;
  /** Requester_Port, 0..0xffff. */
  requesterPort: number;
  /** Requester_System, a MAC address (6 bytes). */
  requesterSystem: Uint8Array;
  /** Requester_Transaction_ID, 0..0xffffffff. */
  transactionId: number;
}

// Frame offsets of the LACPDU fields (802.1AX-2014 6.4.2.3).
const SUBTYPE_OFFSET = 14;
const VERSION_OFFSET = 15;
const ACTOR_OFFSET = 16;
const PARTNER_OFFSET = 36;
const COLLECTOR_OFFSET = 56;
const TERMINATOR_OFFSET = 72;
// Within an Actor or Partner Information TLV.
const INFO_TLV_LENGTH = 20;
const INFO_SYSTEM_PRIORITY = 2;
const INFO_SYSTEM = 4;
const INFO_KEY = 10;
const INFO_PORT_PRIORITY = 12;
const INFO_PORT = 14;
const INFO_STATE = 16;
const COLLECTOR_TLV_LENGTH = 16;
const TLV_HEADER_LENGTH = 2;
// The TLVs every LACPDU carries at fixed offsets: offset, type, length, malformed reason, name.
const V1_TLVS = [
  [ACTOR_OFFSET, 1, INFO_TLV_LENGTH, "bad_actor_tlv", "Actor Information"],
  [PARTNER_OFFSET, 2, INFO_TLV_LENGTH, "bad_partner_tlv", "Partner Information"],
  [COLLECTOR_OFFSET, 3, COLLECTOR_TLV_LENGTH, "bad_collector_tlv", "Collector Information"],
] as const;
const MAX_TLV_VALUE_LENGTH = 0xff - TLV_HEADER_LENGTH;

// Frame offsets of the Marker PDU fields (802.1AX-2014 6.5).
const MARKER_TLV_OFFSET = 16;
const MARKER_TLV_LENGTH = 16;
const MARKER_PORT_OFFSET = 18;
const MARKER_SYSTEM_OFFSET = 20;
const MARKER_TRANSACTION_OFFSET = 26;
const MARKER_TERMINATOR_OFFSET = 32;
const MARKER_TLV_CODES: Readonly<Record<MarkerTlvType, number>> = { information: 1, response: 2 };

function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, "0")}`;
}

function checkInteger(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `Invalid ${what} "${value}": expected an integer from 0 to ${hex(max, 0)}`,
    );
  }
}

function checkState(state: number): void {
  checkInteger(state, 0xff, "LACP state");
}

/**
 * The letters of the set bits of `state` in {@linkcode STATE_LETTERS} order (bit 0 first), or
 * `"N"` when no bit is set, as the original lacpd prints states. Throws a `RangeError` for a value
 * outside 0..0xff.
 *
 * @example
 * ```ts
 * import { formatStateLetters } from "./lacp.ts";
 *
 * formatStateLetters(0x3d); // "AGSCD"
 * formatStateLetters(0); // "N"
 * ```
 */
export function formatStateLetters(state: number): string {
  checkState(state);
  if (state === 0) return NO_STATE_LETTER;
  let letters = "";
  for (let bit = 0; bit < STATE_LETTERS.length; bit++) {
    if ((state & (1 << bit)) !== 0) letters += STATE_LETTERS[bit];
  }
  return letters;
}

/**
 * Parses state letters (any order, any case, as {@linkcode formatStateLetters} prints them; `"N"`
 * alone is 0) into a state octet. Throws a `TypeError` for an empty string, an unknown letter, or
 * `"N"` mixed with other letters.
 *
 * @example
 * ```ts
 * import { parseStateLetters } from "./lacp.ts";
 *
 * parseStateLetters("dcsga"); // 0x3d
 * ```
 */
export function parseStateLetters(text: string): number {
  const upper = text.toUpperCase();
  if (upper === NO_STATE_LETTER) return 0;
  if (upper.length === 0) {
    throw new TypeError(
      `Invalid LACP state letters "": expected letters from ${STATE_LETTERS} or N for none`,
    );
  }
  let state = 0;
  for (const letter of upper) {
    const bit = STATE_LETTERS.indexOf(letter);
    if (bit < 0) {
      throw new TypeError(
        `Invalid LACP state letters "${text}": "${letter}" is not one of ${STATE_LETTERS} (N alone means none)`,
      );
    }
    state |= 1 << bit;
  }
  return state;
}

/**
 * The {@linkcode LacpState} names of the set bits of `state`, bit 0 first. Throws a `RangeError`
 * for a value outside 0..0xff.
 *
 * @example
 * ```ts
 * import { stateFlagNames } from "./lacp.ts";
 *
 * stateFlagNames(0x05); // ["ACTIVE", "AGGREGATION"]
 * ```
 */
export function stateFlagNames(state: number): LacpStateFlag[] {
  checkState(state);
  return STATE_FLAG_NAMES.filter((_, bit) => (state & (1 << bit)) !== 0);
}

/**
 * The Slow Protocols subtype (1 LACP, 2 Marker, 3 OAM, ...) of an untagged frame whose EtherType
 * is 0x8809, or -1 for a frame shorter than 15 bytes, with another EtherType, or VLAN tagged.
 * It does not check the PDU's length; the decoders do. Allocation-free, for receive paths.
 *
 * @example
 * ```ts
 * import { slowSubtypeAt, SlowSubtype } from "./lacp.ts";
 *
 * const frame = new Uint8Array(124);
 * frame.set([0x88, 0x09, 0x01], 12);
 * slowSubtypeAt(frame) === SlowSubtype.LACP; // true
 * ```
 */
export function slowSubtypeAt(frame: Uint8Array): number {
  if (frame.length <= SUBTYPE_OFFSET || u16(frame, 2 * MAC_LEN) !== ETHERTYPE_SLOW) return -1;
  return frame[SUBTYPE_OFFSET]!;
}

/**
 * Checks what LACPDUs and Marker PDUs share: an untagged 0x8809 frame of at least 124 bytes with
 * the `expected` subtype. `what` names the PDU in messages.
 */
function checkSlowFrame(frame: Uint8Array, expected: number, what: string): void {
  if (frame.length >= ETH_HEADER_LEN) {
    const type = u16(frame, 2 * MAC_LEN);
    if (isVlanTpid(type)) {
      throw new MalformedPacketError(
        "vlan_tagged",
        `${what} frame is VLAN tagged (TPID ${hex(type, 4)}): Slow Protocols frames are untagged`,
      );
    }
    if (type !== ETHERTYPE_SLOW) {
      throw new MalformedPacketError(
        "not_slow_protocols",
        `${what} frame has EtherType ${hex(type, 4)}, not Slow Protocols (0x8809)`,
      );
    }
  }
  if (frame.length < LACP_FRAME_LENGTH) {
    throw new MalformedPacketError(
      "runt",
      `${what} frame too short: ${frame.length} bytes, it needs ${LACP_FRAME_LENGTH}`,
    );
  }
  const subtype = frame[SUBTYPE_OFFSET]!;
  if (subtype !== expected) {
    throw new MalformedPacketError(
      "wrong_subtype",
      `${what} frame has Slow Protocols subtype "${subtype}", expected ${expected}`,
    );
  }
  const version = frame[VERSION_OFFSET]!;
  if (version === 0) {
    throw new MalformedPacketError(
      "bad_version",
      `${what} has version "0": version 1 or later expected`,
    );
  }
}

/** Throws unless the TLV at `offset` has the given type and length; `reason` names the TLV. */
function checkTlvHeader(
  frame: Uint8Array,
  offset: number,
  type: number,
  length: number,
  reason: string,
  name: string,
): void {
  const gotType = frame[offset]!;
  const gotLength = frame[offset + 1]!;
  if (gotType !== type || gotLength !== length) {
    throw new MalformedPacketError(
      reason,
      `${name} TLV at offset ${offset} has type "${gotType}" and length "${gotLength}", expected ${type} and ${length}`,
    );
  }
}

function readPortInfo(frame: Uint8Array, offset: number): LacpPortInfo {
  return {
    systemPriority: u16(frame, offset + INFO_SYSTEM_PRIORITY),
    system: frame.slice(offset + INFO_SYSTEM, offset + INFO_SYSTEM + MAC_LEN),
    key: u16(frame, offset + INFO_KEY),
    portPriority: u16(frame, offset + INFO_PORT_PRIORITY),
    port: u16(frame, offset + INFO_PORT),
    state: frame[offset + INFO_STATE]!,
  };
}

/** Walks version 2 TLVs from the Terminator's v1 position to the Terminator itself. */
function readExtraTlvs(frame: Uint8Array): LacpTlv[] {
  const tlvs: LacpTlv[] = [];
  let offset = TERMINATOR_OFFSET;
  for (;;) {
    if (offset + TLV_HEADER_LENGTH > frame.length) {
      throw new MalformedPacketError(
        "missing_terminator",
        `LACPDU has no Terminator TLV: the TLVs run to the end of the ${frame.length}-byte frame`,
      );
    }
    const type = frame[offset]!;
    const length = frame[offset + 1]!;
    if (type === LacpTlvType.TERMINATOR) {
      if (length !== 0) {
        throw new MalformedPacketError(
          "bad_terminator",
          `Terminator TLV at offset ${offset} has length "${length}", expected 0`,
        );
      }
      return tlvs;
    }
    if (length < TLV_HEADER_LENGTH || offset + length > frame.length) {
      throw new MalformedPacketError(
        "bad_tlv_length",
        `LACPDU TLV type ${type} at offset ${offset} has length "${length}": it must be at least ${TLV_HEADER_LENGTH} and fit in the ${frame.length}-byte frame`,
      );
    }
    tlvs.push({ type, value: frame.slice(offset + TLV_HEADER_LENGTH, offset + length) });
    offset += length;
  }
}

/**
 * Decodes an LACPDU frame (no FCS). The destination MAC is not checked; reserved octets are
 * ignored. Version 1 needs the Terminator at offset 72; version 2 and later may carry more TLVs
 * before it, returned in `extraTlvs`. The systems and TLV values are copies, not views.
 *
 * Throws {@linkcode MalformedPacketError} with reason `"vlan_tagged"`, `"not_slow_protocols"`,
 * `"runt"` (under 124 bytes), `"wrong_subtype"` (not 1), `"bad_version"` (0),
 * `"bad_actor_tlv"`, `"bad_partner_tlv"`, `"bad_collector_tlv"` (type or length not 1/20, 2/20,
 * 3/16), `"bad_terminator"` (version 1: not 0/0 at 72; later: type 0 with a non-zero length),
 * `"bad_tlv_length"` (a TLV shorter than 2 or past the frame's end) or `"missing_terminator"`.
 *
 * @example
 * ```ts
 * import { decodeLacpdu, formatMac, LACP_FRAME_LENGTH } from "./mod.ts";
 *
 * const frame = new Uint8Array(LACP_FRAME_LENGTH);
 * frame.set([0x88, 0x09, 1, 1, 1, 20, 0x80, 0, 2, 0, 0, 0, 0, 1, 0, 1, 0x80, 0, 0, 7, 0x3d], 12);
 * frame.set([2, 20], 36);
 * frame.set([3, 16], 56);
 * const pdu = decodeLacpdu(frame);
 * formatMac(pdu.actor.system); // "02:00:00:00:00:01"
 * pdu.actor.port; // 7
 * ```
 */
export function decodeLacpdu(frame: Uint8Array): Lacpdu {
  checkSlowFrame(frame, SlowSubtype.LACP, "LACPDU");
  for (const [offset, type, length, reason, name] of V1_TLVS) {
    checkTlvHeader(frame, offset, type, length, reason, name);
  }
  const version = frame[VERSION_OFFSET]!;
  let extraTlvs: LacpTlv[] = [];
  if (version === 1) {
    checkTlvHeader(frame, TERMINATOR_OFFSET, 0, 0, "bad_terminator", "Terminator");
  } else {
    extraTlvs = readExtraTlvs(frame);
  }
  return {
    version,
    actor: readPortInfo(frame, ACTOR_OFFSET),
    partner: readPortInfo(frame, PARTNER_OFFSET),
    collectorMaxDelay: u16(frame, COLLECTOR_OFFSET + 2),
    extraTlvs,
  };
}

function checkSystem(system: Uint8Array, what: string): void {
  if (system.length !== MAC_LEN) {
    throw new RangeError(`Invalid ${what}: expected ${MAC_LEN} bytes, got ${system.length}`);
  }
}

function checkPortInfo(info: LacpPortInfo, role: string): void {
  checkInteger(info.systemPriority, 0xffff, `${role} system priority`);
  checkSystem(info.system, `${role} system`);
  checkInteger(info.key, 0xffff, `${role} key`);
  checkInteger(info.portPriority, 0xffff, `${role} port priority`);
  checkInteger(info.port, 0xffff, `${role} port`);
  checkInteger(info.state, 0xff, `${role} state`);
}

function writePortInfo(frame: Uint8Array, offset: number, type: number, info: LacpPortInfo): void {
  frame[offset] = type;
  frame[offset + 1] = INFO_TLV_LENGTH;
  setU16(frame, offset + INFO_SYSTEM_PRIORITY, info.systemPriority);
  frame.set(info.system, offset + INFO_SYSTEM);
  setU16(frame, offset + INFO_KEY, info.key);
  setU16(frame, offset + INFO_PORT_PRIORITY, info.portPriority);
  setU16(frame, offset + INFO_PORT, info.port);
  frame[offset + INFO_STATE] = info.state;
}

/** Writes the Ethernet header every Slow Protocols frame shares: to 01:80:c2:00:00:02, 0x8809. */
function writeSlowHeader(
  frame: Uint8Array,
  source: Uint8Array,
  subtype: number,
  version: number,
): void {
  writeEthernetHeader(frame, 0, {
    dst: SLOW_PROTOCOLS_MAC,
    src: source,
    etherType: ETHERTYPE_SLOW,
  });
  frame[SUBTYPE_OFFSET] = subtype;
  frame[VERSION_OFFSET] = version;
}

/**
 * Builds an LACPDU frame (no FCS) from `source` to {@linkcode SLOW_PROTOCOLS_MAC}. Without extra
 * TLVs it is the 124-byte version 1 layout with zero reserved octets. Extra TLVs (version 2 and
 * later only) go before the Terminator, and the 50 reserved octets after it shrink by their size
 * down to none, so the LACPDU is never shorter than 110 octets and grows only when it must.
 *
 * Any version 0..0xff is written as given, so a test peer can send versions receivers should
 * reject. Throws a `RangeError` for a field outside its range (16-bit fields, 8-bit states and
 * version), a system or source that is not 6 bytes, extra TLVs with a version below 2, a TLV type
 * outside 1..0xff or a TLV value longer than 253 octets.
 *
 * @example Send a version 2 LACPDU with a Port Algorithm TLV
 * ```ts
 * import { encodeLacpdu, LacpTlvType, parseMac } from "./mod.ts";
 *
 * const info = {
 *   systemPriority: 32768,
 *   system: parseMac("02:00:00:00:00:01"),
 *   key: 1,
 *   portPriority: 32768,
 *   port: 1,
 *   state: 0x05,
 * };
 * const frame = encodeLacpdu({
 *   version: 2,
 *   actor: info,
 *   partner: { ...info, state: 0x40 },
 *   collectorMaxDelay: 0,
 *   extraTlvs: [{ type: LacpTlvType.PORT_ALGORITHM, value: new Uint8Array([0, 0, 0, 5]) }],
 * }, info.system);
 * frame.length; // 124
 * ```
 */
export function encodeLacpdu(pdu: Lacpdu, source: Uint8Array): Uint8Array<ArrayBuffer> {
  checkInteger(pdu.version, 0xff, "LACPDU version");
  checkPortInfo(pdu.actor, "actor");
  checkPortInfo(pdu.partner, "partner");
  checkInteger(pdu.collectorMaxDelay, 0xffff, "collector max delay");
  checkSystem(source, "source MAC address");
  if (pdu.extraTlvs.length > 0 && pdu.version < 2) {
    throw new RangeError(
      `Invalid LACPDU version "${pdu.version}" for extra TLVs: they need version 2 or later`,
    );
  }
  let extraLength = 0;
  for (const tlv of pdu.extraTlvs) {
    if (!Number.isInteger(tlv.type) || tlv.type < 1 || tlv.type > 0xff) {
      throw new RangeError(
        `Invalid LACPDU TLV type "${tlv.type}": expected an integer from 1 to 0xff`,
      );
    }
    if (tlv.value.length > MAX_TLV_VALUE_LENGTH) {
      throw new RangeError(
        `Invalid LACPDU TLV type ${tlv.type}: its value has ${tlv.value.length} bytes, at most ${MAX_TLV_VALUE_LENGTH} fit`,
      );
    }
    extraLength += TLV_HEADER_LENGTH + tlv.value.length;
  }
  const frame = new Uint8Array(
    Math.max(LACP_FRAME_LENGTH, TERMINATOR_OFFSET + extraLength + TLV_HEADER_LENGTH),
  );
  writeSlowHeader(frame, source, SlowSubtype.LACP, pdu.version);
  writePortInfo(frame, ACTOR_OFFSET, LacpTlvType.ACTOR, pdu.actor);
  writePortInfo(frame, PARTNER_OFFSET, LacpTlvType.PARTNER, pdu.partner);
  frame[COLLECTOR_OFFSET] = LacpTlvType.COLLECTOR;
  frame[COLLECTOR_OFFSET + 1] = COLLECTOR_TLV_LENGTH;
  setU16(frame, COLLECTOR_OFFSET + 2, pdu.collectorMaxDelay);
  let offset = TERMINATOR_OFFSET;
  for (const tlv of pdu.extraTlvs) {
    frame[offset] = tlv.type;
    frame[offset + 1] = TLV_HEADER_LENGTH + tlv.value.length;
    frame.set(tlv.value, offset + TLV_HEADER_LENGTH);
    offset += TLV_HEADER_LENGTH + tlv.value.length;
  }
  // The Terminator TLV (type 0, length 0) and the reserved octets are already zero.
  return frame;
}

/**
 * Decodes a Marker PDU frame (no FCS): subtype 2, version 1 or later, a Marker Information or
 * Marker Response TLV of length 16, then the Terminator. The destination MAC, the Pad and the
 * reserved octets are not checked. `requesterSystem` is a copy, not a view.
 *
 * Throws {@linkcode MalformedPacketError} with reason `"vlan_tagged"`, `"not_slow_protocols"`,
 * `"runt"` (under 124 bytes), `"wrong_subtype"` (not 2), `"bad_version"` (0), `"bad_marker_tlv"`
 * (type not 1 or 2, or length not 16) or `"bad_terminator"` (not 0/0 at offset 32).
 */
export function decodeMarker(frame: Uint8Array): MarkerPdu {
  checkSlowFrame(frame, SlowSubtype.MARKER, "Marker PDU");
  const type = frame[MARKER_TLV_OFFSET]!;
  const length = frame[MARKER_TLV_OFFSET + 1]!;
  if (
    (type !== MARKER_TLV_CODES.information && type !== MARKER_TLV_CODES.response) ||
    length !== MARKER_TLV_LENGTH
  ) {
    throw new MalformedPacketError(
      "bad_marker_tlv",
      `Marker PDU TLV has type "${type}" and length "${length}", expected type 1 (information) or 2 (response) and length ${MARKER_TLV_LENGTH}`,
    );
  }
  checkTlvHeader(frame, MARKER_TERMINATOR_OFFSET, 0, 0, "bad_terminator", "Terminator");
  return {
    version: frame[VERSION_OFFSET]!,
    tlv: type === MARKER_TLV_CODES.information ? "information" : "response",
    requesterPort: u16(frame, MARKER_PORT_OFFSET),
    requesterSystem: frame.slice(MARKER_SYSTEM_OFFSET, MARKER_SYSTEM_OFFSET + MAC_LEN),
    transactionId: u16(frame, MARKER_TRANSACTION_OFFSET) * 0x1_0000 +
      u16(frame, MARKER_TRANSACTION_OFFSET + 2),
  };
}

/**
 * Builds a 124-byte Marker PDU frame (no FCS) from `source` to {@linkcode SLOW_PROTOCOLS_MAC},
 * with zero Pad and reserved octets. Throws a `RangeError` for a version outside 0..0xff, a
 * requester port outside 0..0xffff, a transaction ID outside 0..0xffffffff, an unknown `tlv`, or a
 * requester system or source that is not 6 bytes.
 *
 * @example
 * ```ts
 * import { decodeMarker, encodeMarker, parseMac } from "./mod.ts";
 *
 * const mac = parseMac("02:00:00:00:00:01");
 * const frame = encodeMarker({
 *   version: 1,
 *   tlv: "information",
 *   requesterPort: 1,
 *   requesterSystem: mac,
 *   transactionId: 42,
 * }, mac);
 * decodeMarker(frame).transactionId; // 42
 * ```
 */
export function encodeMarker(pdu: MarkerPdu, source: Uint8Array): Uint8Array<ArrayBuffer> {
  checkInteger(pdu.version, 0xff, "Marker PDU version");
  if (!Object.hasOwn(MARKER_TLV_CODES, pdu.tlv)) {
    throw new RangeError(`Invalid Marker TLV "${pdu.tlv}": expected "information" or "response"`);
  }
  checkInteger(pdu.requesterPort, 0xffff, "Marker requester port");
  checkSystem(pdu.requesterSystem, "Marker requester system");
  checkInteger(pdu.transactionId, 0xffff_ffff, "Marker transaction ID");
  checkSystem(source, "source MAC address");
  const frame = new Uint8Array(LACP_FRAME_LENGTH);
  writeSlowHeader(frame, source, SlowSubtype.MARKER, pdu.version);
  frame[MARKER_TLV_OFFSET] = MARKER_TLV_CODES[pdu.tlv];
  frame[MARKER_TLV_OFFSET + 1] = MARKER_TLV_LENGTH;
  setU16(frame, MARKER_PORT_OFFSET, pdu.requesterPort);
  frame.set(pdu.requesterSystem, MARKER_SYSTEM_OFFSET);
  setU16(frame, MARKER_TRANSACTION_OFFSET, pdu.transactionId >>> 16);
  setU16(frame, MARKER_TRANSACTION_OFFSET + 2, pdu.transactionId & 0xffff);
  // Pad, Terminator (0, 0) and the 90 reserved octets are already zero.
  return frame;
}

/**
 * The Marker Response a Marker Responder sends for `request` (802.1AX-2014 6.5): the same
 * fields with the TLV type changed to response. `requesterSystem` is copied.
 *
 * @example
 * ```ts
 * import { markerResponse } from "./lacp.ts";
 *
 * const request = {
 *   version: 1,
 *   tlv: "information" as const,
 *   requesterPort: 3,
 *   requesterSystem: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *   transactionId: 7,
 * };
 * markerResponse(request).tlv; // "response"
 * ```
 */
export function markerResponse(request: MarkerPdu): MarkerPdu {
  return { ...request, tlv: "response", requesterSystem: request.requesterSystem.slice() };
}
