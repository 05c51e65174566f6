/**
 * Link State Over Ethernet (draft-ietf-lsvr-lsoe-01), as the reference implementation `lsoed`
 * (Arrcus/lsoe-python at 72eacca) puts it on the wire: the PDUs, their types and constants.
 *
 * One revision only: LSoE-01 with the PDU numbering of lsoed's commit d74d653 (ACK = 3, the
 * encapsulations 4–7, an empty HELLO, VENDOR with a one-byte enterprise type). L3DL's later
 * header (sequence numbers, signatures) is not spoken.
 *
 * A PDU travels as one or more datagrams (an 8-byte header with the S-box checksum, then a chunk
 * of the PDU) in Ethernet payloads. Decoders are total: they return a
 * {@linkcode MalformedPacketError} with a short snake_case `reason` instead of throwing, since the
 * bytes come from strangers. Encoders throw a `RangeError` for fields that do not fit.
 *
 * @example Decode a frame lsoed sent (an IPv4 encapsulation)
 * ```ts
 * import { decodeDatagram, decodePdu, isMalformed } from "./mod.ts";
 *
 * const hex = "00800019de3d4f2d0400110002407f00000108 00c00002021e".replaceAll(" ", "");
 * const payload = Uint8Array.from(hex.match(/../g)!, (byte) => parseInt(byte, 16));
 * const datagram = decodeDatagram(payload);
 * if (isMalformed(datagram)) throw datagram;
 * const pdu = decodePdu(datagram.chunk); // one datagram (number 0, last) holds the whole PDU
 * if (isMalformed(pdu) || pdu.type !== 4) throw new Error("not an IPv4 encapsulation");
 * pdu.entries.map((entry) => `${entry.address.join(".")}/${entry.prefixLength}`);
 * // ["127.0.0.1/8", "192.0.2.2/30"]
 * ```
 *
 * @module
 */

import { setU16, setU32, u16, u32 } from "./bytes.ts";
import { type Decoded, MalformedPacketError } from "./errors.ts";
import { encodeEthernet } from "./ethernet.ts";
import { checkUint } from "./field_checks.ts";
import { IPV4_ADDRESS_LEN } from "./ipv4.ts";
import { IPV6_ADDRESS_LEN } from "./ipv6.ts";

/** IEEE Local Experimental EtherType 1, the value the LSoE notes name: netkit's default. */
export const LSOE_ETHERTYPE = 0x88b5;
/** What lsoed actually sends (a typo for 0x88B5 it has always had): `--ethertype 0x8885`. */
export const LSOED_ETHERTYPE = 0x8885;
/** HELLO destination, the LLDP nearest-bridge group: it stays on one physical link. */
export const LSOE_HELLO_GROUP: Readonly<Uint8Array<ArrayBuffer>> = new Uint8Array([
  0x01,
  0x80,
  0xc2,
  0x00,
  0x00,
  0x0e,
]);
/** The datagram header's version. */
export const LSOE_VERSION = 0;
/** Datagram header: version, last flag and number, length, checksum. */
export const DATAGRAM_HEADER_LEN = 8;
/** The largest Ethernet payload a datagram fills (an MTU of 1500). */
export const MAX_DATAGRAM_LEN = 1500;
/** PDU bytes per datagram: a PDU is cut into chunks of this size. */
export const DATAGRAM_CHUNK_LEN = MAX_DATAGRAM_LEN - DATAGRAM_HEADER_LEN;
/** A PDU's own 16-bit length caps it. */
export const MAX_PDU_LEN = 0xffff;
/** Datagram numbers are 7 bits. */
export const MAX_DATAGRAMS = 128;
/** PDU header: type (1) and length (2, header included). */
export const PDU_HEADER_LEN = 3;
/** The Local ID in an OPEN. */
export const LOCAL_ID_LEN = 10;
/** The nonce in an OPEN. */
export const NONCE_LEN = 4;

/** PDU types. */
export const PduType = {
  HELLO: 0,
  OPEN: 1,
  KEEPALIVE: 2,
  ACK: 3,
  IPV4: 4,
  IPV6: 5,
  MPLS_IPV4: 6,
  MPLS_IPV6: 7,
  VENDOR: 255,
} as const;
/** A PDU type this revision defines. */
export type PduTypeNumber = typeof PduType[keyof typeof PduType];

/** The PDU types a receiver acknowledges (and a sender retransmits until it does). */
export const ACKED_PDU_TYPES: readonly PduTypeNumber[] = [
  PduType.OPEN,
  PduType.IPV4,
  PduType.IPV6,
  PduType.MPLS_IPV4,
  PduType.MPLS_IPV6,
  PduType.VENDOR,
];

/** The encapsulation PDU types. */
export type EncapsulationType = 4 | 5 | 6 | 7;

/** ACK error types (the high 4 bits of the error field). */
export const AckErrorType = {
  /** Code and hint must then be 0. */
  NO_ERROR: 0,
  WARNING: 1,
  RESTART: 2,
  HOPELESS: 3,
} as const;

/** ACK error codes (the low 12 bits). */
export const AckErrorCode = {
  LINK_ADDRESSING_CONFLICT: 1,
  AUTHORIZATION_FAILURE_IN_OPEN: 2,
  /**
   * netkit's: the acknowledged type is one this revision does not define (the hint repeats it).
   * -01 names no code for this; lsoed logs such an ACK as unparsable and carries on.
   */
  UNKNOWN_PDU_TYPE: 3,
} as const;

/** Encapsulation entry flags. */
export const EncapsulationFlag = {
  PRIMARY: 0x80,
  LOOPBACK: 0x40,
} as const;

/** One address of an IPv4 or IPv6 encapsulation. */
export interface IpEncapsulation {
  /** {@linkcode EncapsulationFlag} bits (others are kept as received). */
  flags: number;
  /** 4 bytes (IPv4) or 16 (IPv6). */
  address: Uint8Array;
  /** 0–32 or 0–128. */
  prefixLength: number;
}

/** One address of an MPLS-IPv4 or MPLS-IPv6 encapsulation, with its label stack. */
export interface MplsEncapsulation extends IpEncapsulation {
  /** 20-bit labels, outermost first (3 bytes each on the wire; at most 255). */
  labels: number[];
}

/** HELLO: empty; the sender is the Ethernet source. */
export interface HelloPdu {
  /** {@linkcode PduType.HELLO}. */
  type: 0;
}
/** OPEN: the session's nonce, the sender's Local ID and attributes. */
export interface OpenPdu {
  /** {@linkcode PduType.OPEN}. */
  type: 1;
  /** {@linkcode NONCE_LEN} random bytes, fixed for the session. */
  nonce: Uint8Array;
  /** {@linkcode LOCAL_ID_LEN} bytes. */
  localId: Uint8Array;
  /** Opaque attributes (at most 255 bytes). */
  attributes: Uint8Array;
  // Authentication length is always 0 on the wire: a non-zero one does not decode.
}
/** KEEPALIVE: empty. */
export interface KeepalivePdu {
  /** {@linkcode PduType.KEEPALIVE}. */
  type: 2;
}
/** ACK of one PDU type, possibly with an error. */
export interface AckPdu {
  /** {@linkcode PduType.ACK}. */
  type: 3;
  /** The type acknowledged. */
  ackType: number;
  /** {@linkcode AckErrorType} (4 bits). */
  errorType: number;
  /** {@linkcode AckErrorCode} (12 bits). */
  errorCode: number;
  /** Error hint (16 bits). */
  errorHint: number;
}
/** IPv4 (4) or IPv6 (5) encapsulation: the complete list, replacing the previous one. */
export interface IpEncapsulationPdu {
  /** {@linkcode PduType.IPV4} or {@linkcode PduType.IPV6}. */
  type: 4 | 5;
  /** The addresses. */
  entries: IpEncapsulation[];
}
/** MPLS-IPv4 (6) or MPLS-IPv6 (7) encapsulation: the complete list. */
export interface MplsEncapsulationPdu {
  /** {@linkcode PduType.MPLS_IPV4} or {@linkcode PduType.MPLS_IPV6}. */
  type: 6 | 7;
  /** The addresses with their labels. */
  entries: MplsEncapsulation[];
}
/** VENDOR: an enterprise's opaque PDU. */
export interface VendorPdu {
  /** {@linkcode PduType.VENDOR}. */
  type: 255;
  /** IANA enterprise number. */
  enterpriseNumber: number;
  /** The enterprise's own type. */
  enterpriseType: number;
  /** Opaque. */
  data: Uint8Array;
}
/**
 * A PDU of a type this revision does not define: kept so the receiver can ACK it with
 * {@linkcode AckErrorCode.UNKNOWN_PDU_TYPE}.
 */
export interface UnknownPdu {
  /** Any type not in {@linkcode PduType}. */
  type: "unknown";
  /** The type byte. */
  pduType: number;
  /** The body after the 3-byte header. */
  body: Uint8Array;
}

/** Any PDU. */
export type LsoePdu =
  | HelloPdu
  | OpenPdu
  | KeepalivePdu
  | AckPdu
  | IpEncapsulationPdu
  | MplsEncapsulationPdu
  | VendorPdu
  | UnknownPdu;

/** An encapsulation PDU. */
export type EncapsulationPdu = IpEncapsulationPdu | MplsEncapsulationPdu;

// ---------------------------------------------------------------------------------------------
// The S-box checksum

/**
 * Skipjack's F-table (NIST, Skipjack and KEA Algorithm Specifications, 1998): LSoE-01 sums it
 * byte by byte instead of adding the bytes themselves, so that swapped or zeroed bytes change
 * the sum.
 */
// deno-fmt-ignore
const SKIPJACK_F_TABLE: Readonly<Uint8Array> = new Uint8Array([
  0xa3, 0xd7, 0x09, 0x83, 0xf8, 0x48, 0xf6, 0xf4, 0xb3, 0x21, 0x15, 0x78, 0x99, 0xb1, 0xaf, 0xf9,
  0xe7, 0x2d, 0x4d, 0x8a, 0xce, 0x4c, 0xca, 0x2e, 0x52, 0x95, 0xd9, 0x1e, 0x4e, 0x38, 0x44, 0x28,
  0x0a, 0xdf, 0x02, 0xa0, 0x17, 0xf1, 0x60, 0x68, 0x12, 0xb7, 0x7a, 0xc3, 0xe9, 0xfa, 0x3d, 0x53,
  0x96, 0x84, 0x6b, 0xba, 0xf2, 0x63, 0x9a, 0x19, 0x7c, 0xae, 0xe5, 0xf5, 0xf7, 0x16, 0x6a, 0xa2,
  0x39, 0xb6, 0x7b, 0x0f, 0xc1, 0x93, 0x81, 0x1b, 0xee, 0xb4, 0x1a, 0xea, 0xd0, 0x91, 0x2f, 0xb8,
  0x55, 0xb9, 0xda, 0x85, 0x3f, 0x41, 0xbf, 0xe0, 0x5a, 0x58, 0x80, 0x5f, 0x66, 0x0b, 0xd8, 0x90,
  0x35, 0xd5, 0xc0, 0xa7, 0x33, 0x06, 0x65, 0x69, 0x45, 0x00, 0x94, 0x56, 0x6d, 0x98, 0x9b, 0x76,
  0x97, 0xfc, 0xb2, 0xc2, 0xb0, 0xfe, 0xdb, 0x20, 0xe1, 0xeb, 0xd6, 0xe4, 0xdd, 0x47, 0x4a, 0x1d,
  0x42, 0xed, 0x9e, 0x6e, 0x49, 0x3c, 0xcd, 0x43, 0x27, 0xd2, 0x07, 0xd4, 0xde, 0xc7, 0x67, 0x18,
  0x89, 0xcb, 0x30, 0x1f, 0x8d, 0xc6, 0x8f, 0xaa, 0xc8, 0x74, 0xdc, 0xc9, 0x5d, 0x5c, 0x31, 0xa4,
  0x70, 0x88, 0x61, 0x2c, 0x9f, 0x0d, 0x2b, 0x87, 0x50, 0x82, 0x54, 0x64, 0x26, 0x7d, 0x03, 0x40,
  0x34, 0x4b, 0x1c, 0x73, 0xd1, 0xc4, 0xfd, 0x3b, 0xcc, 0xfb, 0x7f, 0xab, 0xe6, 0x3e, 0x5b, 0xa5,
  0xad, 0x04, 0x23, 0x9c, 0x14, 0x51, 0x22, 0xf0, 0x29, 0x79, 0x71, 0x7e, 0xff, 0x8c, 0x0e, 0xe2,
  0x0c, 0xef, 0xbc, 0x72, 0x75, 0x6f, 0x37, 0xa1, 0xec, 0xd3, 0x8e, 0x62, 0x8b, 0x86, 0x10, 0xe8,
  0x08, 0x77, 0x11, 0xbe, 0x92, 0x4f, 0x24, 0xc5, 0x32, 0x36, 0x9d, 0xcf, 0xf3, 0xa6, 0xbb, 0xac,
  0x5e, 0x6c, 0xa9, 0x13, 0x57, 0x25, 0xb5, 0xe3, 0xbd, 0xa8, 0x3a, 0x01, 0x05, 0x59, 0x2a, 0x46,
]);

const TWO_POW_8 = 0x100;
const TWO_POW_16 = 0x1_0000;
const TWO_POW_24 = 0x100_0000;
const TWO_POW_32 = 0x1_0000_0000;
/** Where the checksum sits in the datagram header. */
const CHECKSUM_OFFSET = 4;
/** The 0x80 bit of the header's second byte: the last datagram of its PDU. */
const LAST_DATAGRAM_FLAG = 0x80;

/**
 * The S-box checksum of `bytes[0, end)`, with the checksum field (bytes 4 to 7) read as zeros
 * when `checksumZeroed`, so a received datagram is checked in place without a copy.
 */
function sboxChecksumOf(bytes: Uint8Array, end: number, checksumZeroed: boolean): number {
  const f = SKIPJACK_F_TABLE;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < end; i += 4) {
    s0 += f[bytes[i]!]!;
    s1 += f[bytes[i + 1]!]!;
    s2 += f[bytes[i + 2]!]!;
    s3 += f[bytes[i + 3]!]!;
  }
  if (i < end) s0 += f[bytes[i]!]!;
  if (i + 1 < end) s1 += f[bytes[i + 1]!]!;
  if (i + 2 < end) s2 += f[bytes[i + 2]!]!;
  if (checksumZeroed) {
    // Bytes 4..7 fall on sums 0..3: swap what they added for what four zeros add.
    const o = CHECKSUM_OFFSET;
    s0 += f[0]! - f[bytes[o]!]!;
    s1 += f[0]! - f[bytes[o + 1]!]!;
    s2 += f[0]! - f[bytes[o + 2]!]!;
    s3 += f[0]! - f[bytes[o + 3]!]!;
  }
  // x = s0·2²⁴ + s1·2¹⁶ + s2·2⁸ + s3 (the sums overlap), kept as 32-bit halves so no
  // precision is lost however large the sums grow; then folded twice as the draft does.
  let low = (s0 % TWO_POW_8) * TWO_POW_24 + (s1 % TWO_POW_16) * TWO_POW_16 +
    (s2 % TWO_POW_24) * TWO_POW_8 + s3;
  let high = Math.floor(s0 / TWO_POW_8) + Math.floor(s1 / TWO_POW_16) + Math.floor(s2 / TWO_POW_24);
  high += Math.floor(low / TWO_POW_32);
  low %= TWO_POW_32;
  const once = high + low;
  return Math.floor(once / TWO_POW_32) + (once % TWO_POW_32);
}

/**
 * S-box checksum (Skipjack F-table) over `bytes` (the 8-byte header with checksum 0, then
 * payload): byte i adds F[byte] to sum i mod 4; the four sums are combined with overlapping
 * 8-bit shifts and the result folded twice to 32 bits.
 */
export function sboxChecksum(bytes: Uint8Array): number {
  return sboxChecksumOf(bytes, bytes.length, false);
}

// ---------------------------------------------------------------------------------------------
// PDUs

/** The refusal of a total decoder. */
function refuse(reason: string, message: string): MalformedPacketError {
  return new MalformedPacketError(reason, message);
}

/** Address length of an encapsulation type: IPv4 and MPLS-IPv4 4, the others 16. */
function encapsulationAddressLength(type: EncapsulationType): number {
  return type === PduType.IPV4 || type === PduType.MPLS_IPV4 ? IPV4_ADDRESS_LEN : IPV6_ADDRESS_LEN;
}

/** Bytes of an IP encapsulation entry: flags, address, prefix length. */
function ipEntryLength(addressLength: number): number {
  return 1 + addressLength + 1;
}

/** Bytes of an MPLS encapsulation entry: flags, label count, labels, address, prefix length. */
function mplsEntryLength(addressLength: number, labels: number): number {
  return 2 + MPLS_LABEL_LEN * labels + addressLength + 1;
}

/** An MPLS label on the wire: RFC 3032's first three bytes (label, TC, bottom of stack). */
const MPLS_LABEL_LEN = 3;
/** The largest 20-bit label. */
const MAX_MPLS_LABEL = 0xfffff;
/** Encapsulation count (2 bytes) after the PDU header. */
const ENCAPSULATION_COUNT_LEN = 2;
/** OPEN body before the attributes: nonce, Local ID, attribute length. */
const OPEN_FIXED_LEN = NONCE_LEN + LOCAL_ID_LEN + 1;
/** OPEN's authentication length (2 bytes), after the attributes. */
const OPEN_AUTH_LENGTH_LEN = 2;
/** The smallest OPEN: no attributes, no authentication. */
const OPEN_MIN_LEN = PDU_HEADER_LEN + OPEN_FIXED_LEN + OPEN_AUTH_LENGTH_LEN;
/** ACK: header, acknowledged type, error field, error hint. */
const ACK_LEN = PDU_HEADER_LEN + 5;
/** VENDOR before the data: header, enterprise number, enterprise type. */
const VENDOR_MIN_LEN = PDU_HEADER_LEN + 5;

/** The encoded length of `pdu`, which may exceed {@linkcode MAX_PDU_LEN} (the caller checks). */
function encodedPduLength(pdu: LsoePdu): number {
  switch (pdu.type) {
    case PduType.HELLO:
    case PduType.KEEPALIVE:
      return PDU_HEADER_LEN;
    case PduType.OPEN:
      return OPEN_MIN_LEN + pdu.attributes.length;
    case PduType.ACK:
      return ACK_LEN;
    case PduType.IPV4:
    case PduType.IPV6:
      return PDU_HEADER_LEN + ENCAPSULATION_COUNT_LEN +
        pdu.entries.length * ipEntryLength(encapsulationAddressLength(pdu.type));
    case PduType.MPLS_IPV4:
    case PduType.MPLS_IPV6: {
      const addressLength = encapsulationAddressLength(pdu.type);
      let length = PDU_HEADER_LEN + ENCAPSULATION_COUNT_LEN;
      for (const entry of pdu.entries) {
        length += mplsEntryLength(addressLength, entry.labels.length);
      }
      return length;
    }
    case PduType.VENDOR:
      return VENDOR_MIN_LEN + pdu.data.length;
    case "unknown":
      return PDU_HEADER_LEN + pdu.body.length;
  }
}

/** Checks an entry's address and prefix length and writes flags, address and prefix at `p`. */
function writeAddress(
  out: Uint8Array,
  p: number,
  entry: IpEncapsulation,
  addressLength: number,
): number {
  if (entry.address.length !== addressLength) {
    throw new RangeError(
      `Invalid encapsulation address: expected ${addressLength} bytes, got ${entry.address.length}`,
    );
  }
  checkUint(entry.prefixLength, addressLength * 8, "encapsulation prefix length");
  out.set(entry.address, p);
  out[p + addressLength] = entry.prefixLength;
  return p + addressLength + 1;
}

/** Writes an MPLS label stack at `p` and returns the offset after it. */
function writeLabels(out: Uint8Array, p: number, labels: readonly number[]): number {
  checkUint(labels.length, 0xff, "MPLS label count");
  out[p++] = labels.length;
  labels.forEach((label, index) => {
    checkUint(label, MAX_MPLS_LABEL, "MPLS label");
    const bottom = index === labels.length - 1 ? 1 : 0;
    const field = label * 16 + bottom; // label << 4 | TC 0 | S
    out[p] = field >>> 16;
    out[p + 1] = (field >>> 8) & 0xff;
    out[p + 2] = field & 0xff;
    p += MPLS_LABEL_LEN;
  });
  return p;
}

/** Writes an encapsulation PDU's count and entries (labels for the MPLS types) at `p`. */
function writeEncapsulations(out: Uint8Array, p: number, pdu: EncapsulationPdu): void {
  const addressLength = encapsulationAddressLength(pdu.type);
  setU16(out, p, pdu.entries.length);
  let q = p + ENCAPSULATION_COUNT_LEN;
  for (const entry of pdu.entries) {
    checkUint(entry.flags, 0xff, "encapsulation flags");
    out[q++] = entry.flags;
    if ("labels" in entry) q = writeLabels(out, q, entry.labels);
    q = writeAddress(out, q, entry, addressLength);
  }
}

/**
 * PDU → its TLV bytes (type, length incl. 3-byte header, body). Throws RangeError for a PDU
 * that cannot be encoded (over 65,535 bytes, a label over 20 bits, a wrong-size address...).
 *
 * MPLS labels take RFC 3032's first three bytes: the label in the top 20 bits, traffic class 0,
 * and the bottom-of-stack bit on the last label (as BGP packs three-byte labels, RFC 8277).
 * An `"unknown"` PDU is written as given, whatever its type byte: a test peer crafts malformed
 * PDUs of known types that way.
 */
export function encodePdu(pdu: LsoePdu): Uint8Array<ArrayBuffer> {
  const length = encodedPduLength(pdu);
  if (length > MAX_PDU_LEN) {
    throw new RangeError(
      `LSoE PDU of ${length} bytes: at most ${MAX_PDU_LEN} fit its length field`,
    );
  }
  const out = new Uint8Array(length);
  const type = pdu.type === "unknown" ? pdu.pduType : pdu.type;
  checkUint(type, 0xff, "PDU type");
  out[0] = type;
  setU16(out, 1, length);
  const p = PDU_HEADER_LEN;
  switch (pdu.type) {
    case PduType.HELLO:
    case PduType.KEEPALIVE:
      break;
    case PduType.OPEN: {
      if (pdu.nonce.length !== NONCE_LEN) {
        throw new RangeError(
          `Invalid OPEN nonce: expected ${NONCE_LEN} bytes, got ${pdu.nonce.length}`,
        );
      }
      if (pdu.localId.length !== LOCAL_ID_LEN) {
        throw new RangeError(
          `Invalid OPEN Local ID: expected ${LOCAL_ID_LEN} bytes, got ${pdu.localId.length}`,
        );
      }
      checkUint(pdu.attributes.length, 0xff, "OPEN attribute length");
      out.set(pdu.nonce, p);
      out.set(pdu.localId, p + NONCE_LEN);
      out[p + NONCE_LEN + LOCAL_ID_LEN] = pdu.attributes.length;
      out.set(pdu.attributes, p + OPEN_FIXED_LEN);
      // The authentication length stays 0: LSoE-01 specifies no signature.
      break;
    }
    case PduType.ACK:
      checkUint(pdu.ackType, 0xff, "ACK type");
      checkUint(pdu.errorType, 0xf, "ACK error type");
      checkUint(pdu.errorCode, 0xfff, "ACK error code");
      checkUint(pdu.errorHint, 0xffff, "ACK error hint");
      out[p] = pdu.ackType;
      setU16(out, p + 1, (pdu.errorType << 12) | pdu.errorCode);
      setU16(out, p + 3, pdu.errorHint);
      break;
    case PduType.IPV4:
    case PduType.IPV6:
    case PduType.MPLS_IPV4:
    case PduType.MPLS_IPV6:
      writeEncapsulations(out, p, pdu);
      break;
    case PduType.VENDOR:
      checkUint(pdu.enterpriseNumber, 0xffff_ffff, "VENDOR enterprise number");
      checkUint(pdu.enterpriseType, 0xff, "VENDOR enterprise type");
      setU32(out, p, pdu.enterpriseNumber);
      out[p + 4] = pdu.enterpriseType;
      out.set(pdu.data, VENDOR_MIN_LEN);
      break;
    case "unknown":
      out.set(pdu.body, p);
      break;
  }
  return out;
}

/** The labels of an MPLS entry: the top 20 bits of each 3-byte field (TC and S are ignored). */
function decodeLabels(bytes: Uint8Array, p: number, count: number): number[] {
  const labels: number[] = [];
  for (let q = p; q < p + MPLS_LABEL_LEN * count; q += MPLS_LABEL_LEN) {
    labels.push(((bytes[q]! << 16) | (bytes[q + 1]! << 8) | bytes[q + 2]!) >>> 4);
  }
  return labels;
}

/**
 * Decodes an encapsulation PDU of any of the four types (the whole PDU is `bytes`): its entries
 * must fill it exactly.
 */
function decodeEncapsulations(
  bytes: Uint8Array,
  type: EncapsulationType,
): Decoded<EncapsulationPdu> {
  if (bytes.length < PDU_HEADER_LEN + ENCAPSULATION_COUNT_LEN) {
    return refuse(
      "encapsulation_length",
      `Encapsulation PDU of ${bytes.length} bytes has no count`,
    );
  }
  const addressLength = encapsulationAddressLength(type);
  const mpls = type === PduType.MPLS_IPV4 || type === PduType.MPLS_IPV6;
  const count = u16(bytes, PDU_HEADER_LEN);
  const entries: (IpEncapsulation | MplsEncapsulation)[] = [];
  let p = PDU_HEADER_LEN + ENCAPSULATION_COUNT_LEN;
  for (let i = 0; i < count; i++) {
    const labelCount = mpls && p + 2 <= bytes.length ? bytes[p + 1]! : 0;
    const end = p +
      (mpls ? mplsEntryLength(addressLength, labelCount) : ipEntryLength(addressLength));
    if (end > bytes.length) {
      return refuse(
        "encapsulation_length",
        `Encapsulation PDU of ${bytes.length} bytes ends inside entry ${i} of ${count}`,
      );
    }
    const prefixLength = bytes[end - 1]!;
    if (prefixLength > addressLength * 8) {
      return refuse(
        "prefix_length",
        `Encapsulation prefix length ${prefixLength} over ${addressLength * 8}`,
      );
    }
    const entry = {
      flags: bytes[p]!,
      address: bytes.slice(end - 1 - addressLength, end - 1),
      prefixLength,
    };
    entries.push(mpls ? { ...entry, labels: decodeLabels(bytes, p + 2, labelCount) } : entry);
    p = end;
  }
  if (p !== bytes.length) {
    return refuse(
      "encapsulation_length",
      `Encapsulation PDU of ${bytes.length} bytes: its ${count} entries end at ${p}`,
    );
  }
  // The entries have labels exactly when the type is an MPLS one.
  return { type, entries } as EncapsulationPdu;
}

/** Decodes an OPEN (the whole PDU is `bytes`). */
function decodeOpen(bytes: Uint8Array): Decoded<OpenPdu> {
  if (bytes.length < OPEN_MIN_LEN) {
    return refuse("open_length", `OPEN of ${bytes.length} bytes: at least ${OPEN_MIN_LEN}`);
  }
  const p = PDU_HEADER_LEN;
  const attributeLength = bytes[p + NONCE_LEN + LOCAL_ID_LEN]!;
  const authAt = p + OPEN_FIXED_LEN + attributeLength;
  if (authAt + OPEN_AUTH_LENGTH_LEN > bytes.length) {
    return refuse(
      "open_length",
      `OPEN of ${bytes.length} bytes cannot hold ${attributeLength} bytes of attributes`,
    );
  }
  const authLength = u16(bytes, authAt);
  if (authLength !== 0) {
    return refuse(
      "open_auth",
      `OPEN with ${authLength} bytes of authentication: LSoE-01 defines none`,
    );
  }
  if (authAt + OPEN_AUTH_LENGTH_LEN !== bytes.length) {
    return refuse(
      "open_length",
      `OPEN of ${bytes.length} bytes: its fields take ${authAt + OPEN_AUTH_LENGTH_LEN}`,
    );
  }
  return {
    type: PduType.OPEN,
    nonce: bytes.slice(p, p + NONCE_LEN),
    localId: bytes.slice(p + NONCE_LEN, p + NONCE_LEN + LOCAL_ID_LEN),
    attributes: bytes.slice(p + OPEN_FIXED_LEN, authAt),
  };
}

/** Decodes an ACK (the whole PDU is `bytes`). */
function decodeAck(bytes: Uint8Array): Decoded<AckPdu> {
  if (bytes.length !== ACK_LEN) {
    return refuse("ack_length", `ACK of ${bytes.length} bytes: exactly ${ACK_LEN}`);
  }
  const p = PDU_HEADER_LEN;
  const error = u16(bytes, p + 1);
  const errorType = error >>> 12;
  const errorCode = error & 0xfff;
  const errorHint = u16(bytes, p + 3);
  if (errorType === AckErrorType.NO_ERROR && (errorCode !== 0 || errorHint !== 0)) {
    return refuse("ack_code_without_error", "ACK with no error type but an error code or hint");
  }
  return { type: PduType.ACK, ackType: bytes[p]!, errorType, errorCode, errorHint };
}

/** Decodes an empty PDU (HELLO, KEEPALIVE): exactly its header. */
function decodeEmpty<T extends 0 | 2>(
  bytes: Uint8Array,
  type: T,
  name: string,
): Decoded<{ type: T }> {
  if (bytes.length !== PDU_HEADER_LEN) {
    return refuse(`${name}_length`, `${name.toUpperCase()} of ${bytes.length} bytes: exactly 3`);
  }
  return { type };
}

/**
 * Total decoder, strict lengths: the TLV's length must equal bytes.length. Never throws.
 *
 * Each type's fields must fill the PDU exactly (HELLO and KEEPALIVE are 3 bytes, ACK 8; an OPEN
 * is its fields and attributes; encapsulation entries as many as the count says). Refusals:
 * `"pdu_runt"`, `"pdu_length_mismatch"`, `"hello_length"`, `"keepalive_length"`,
 * `"open_length"`, `"open_auth"` (a non-zero authentication length), `"ack_length"`,
 * `"ack_code_without_error"`, `"encapsulation_length"`, `"prefix_length"`, `"vendor_length"`.
 * A type this revision does not define decodes as `{ type: "unknown" }`, for the receiver to ACK
 * with an error. The decoded PDU owns its bytes (copies), so `bytes` may be reused.
 */
export function decodePdu(bytes: Uint8Array): Decoded<LsoePdu> {
  if (bytes.length < PDU_HEADER_LEN) {
    return refuse("pdu_runt", `LSoE PDU of ${bytes.length} bytes: the header alone is 3`);
  }
  const type = bytes[0]!;
  const length = u16(bytes, 1);
  if (length !== bytes.length) {
    return refuse(
      "pdu_length_mismatch",
      `LSoE PDU says ${length} bytes but ${bytes.length} arrived`,
    );
  }
  switch (type) {
    case PduType.HELLO:
      return decodeEmpty(bytes, PduType.HELLO, "hello");
    case PduType.KEEPALIVE:
      return decodeEmpty(bytes, PduType.KEEPALIVE, "keepalive");
    case PduType.OPEN:
      return decodeOpen(bytes);
    case PduType.ACK:
      return decodeAck(bytes);
    case PduType.IPV4:
    case PduType.IPV6:
    case PduType.MPLS_IPV4:
    case PduType.MPLS_IPV6:
      return decodeEncapsulations(bytes, type);
    case PduType.VENDOR:
      if (bytes.length < VENDOR_MIN_LEN) {
        return refuse(
          "vendor_length",
          `VENDOR of ${bytes.length} bytes: at least ${VENDOR_MIN_LEN}`,
        );
      }
      return {
        type: PduType.VENDOR,
        enterpriseNumber: u32(bytes, PDU_HEADER_LEN),
        enterpriseType: bytes[PDU_HEADER_LEN + 4]!,
        data: bytes.slice(VENDOR_MIN_LEN),
      };
    default:
      return { type: "unknown", pduType: type, body: bytes.slice(PDU_HEADER_LEN) };
  }
}

const PDU_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [PduType.HELLO, "hello"],
  [PduType.OPEN, "open"],
  [PduType.KEEPALIVE, "keepalive"],
  [PduType.ACK, "ack"],
  [PduType.IPV4, "ipv4"],
  [PduType.IPV6, "ipv6"],
  [PduType.MPLS_IPV4, "mpls_ipv4"],
  [PduType.MPLS_IPV6, "mpls_ipv6"],
  [PduType.VENDOR, "vendor"],
]);

/** Lower-case names for JSON: "hello","open","keepalive","ack","ipv4","ipv6","mpls_ipv4","mpls_ipv6","vendor". */
export function pduTypeName(type: number): string {
  return PDU_TYPE_NAMES.get(type) ?? `type_${type}`;
}

// ---------------------------------------------------------------------------------------------
// Datagrams and frames

/** One datagram (Ethernet payload) as received. */
export interface Datagram {
  /** Its number within its PDU, 0 to 127. */
  number: number;
  /** Whether it is the PDU's last. */
  last: boolean;
  /** Its part of the PDU: a view into the payload decoded (not a copy). */
  chunk: Uint8Array;
}

/**
 * PDU bytes → the Ethernet payloads carrying them: chunks of DATAGRAM_CHUNK_LEN, numbered from
 * 0, the last with 0x80, each with length and checksum. 0 bytes → one header-only datagram.
 * Throws RangeError above MAX_PDU_LEN.
 */
export function encodeDatagrams(pdu: Uint8Array): Uint8Array<ArrayBuffer>[] {
  if (pdu.length > MAX_PDU_LEN) {
    throw new RangeError(`LSoE PDU of ${pdu.length} bytes: at most ${MAX_PDU_LEN}`);
  }
  const count = Math.max(1, Math.ceil(pdu.length / DATAGRAM_CHUNK_LEN));
  const datagrams: Uint8Array<ArrayBuffer>[] = [];
  for (let number = 0; number < count; number++) {
    const chunk = pdu.subarray(number * DATAGRAM_CHUNK_LEN, (number + 1) * DATAGRAM_CHUNK_LEN);
    const datagram = new Uint8Array(DATAGRAM_HEADER_LEN + chunk.length);
    datagram[0] = LSOE_VERSION;
    datagram[1] = number | (number === count - 1 ? LAST_DATAGRAM_FLAG : 0);
    setU16(datagram, 2, datagram.length);
    datagram.set(chunk, DATAGRAM_HEADER_LEN);
    setU32(datagram, CHECKSUM_OFFSET, sboxChecksum(datagram)); // computed with the field still 0
    datagrams.push(datagram);
  }
  return datagrams;
}

/**
 * Total decoder of one Ethernet payload: version 0, length ≥ 8 and ≤ payload.length (the rest is
 * minimum-frame padding, trimmed), checksum. Reasons: "runt", "bad_version", "bad_length",
 * "bad_checksum". The chunk is a view into `payload`, not a copy.
 */
export function decodeDatagram(payload: Uint8Array): Decoded<Datagram> {
  if (payload.length < DATAGRAM_HEADER_LEN) {
    return refuse("runt", `LSoE datagram of ${payload.length} bytes: the header alone is 8`);
  }
  if (payload[0] !== LSOE_VERSION) {
    return refuse(
      "bad_version",
      `LSoE datagram version ${payload[0]}: only ${LSOE_VERSION} is spoken`,
    );
  }
  const length = u16(payload, 2);
  if (length < DATAGRAM_HEADER_LEN || length > payload.length) {
    return refuse(
      "bad_length",
      `LSoE datagram length ${length} in a payload of ${payload.length} bytes`,
    );
  }
  if (sboxChecksumOf(payload, length, true) !== u32(payload, CHECKSUM_OFFSET)) {
    return refuse("bad_checksum", "LSoE datagram checksum does not match");
  }
  const flags = payload[1]!;
  return {
    number: flags & ~LAST_DATAGRAM_FLAG,
    last: (flags & LAST_DATAGRAM_FLAG) !== 0,
    chunk: payload.subarray(DATAGRAM_HEADER_LEN, length),
  };
}

/**
 * A whole Ethernet frame (dst, src, EtherType, payload) — no VLAN tag, and not padded to the
 * minimum frame (what the sender's own capture shows; receivers trim padding by the datagram
 * length). Throws a `RangeError` for MACs that are not 6 bytes or an EtherType over 0xffff.
 */
export function encodeLsoeFrame(
  dst: Uint8Array,
  src: Uint8Array,
  etherType: number,
  payload: Uint8Array,
): Uint8Array<ArrayBuffer> {
  return encodeEthernet({ dst, src, etherType, payload, pad: false });
}
