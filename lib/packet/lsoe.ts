/**
 * Link State Over Ethernet (draft-ietf-lsvr-lsoe-01), as the reference implementation `lsoed`
 * (Arrcus/lsoe-python at 72eacca) puts it on the wire: the PDUs, their types and constants.
 *
 * One revision only: LSoE-01 with the PDU numbering of lsoed's commit d74d653 (ACK = 3, the
 * encapsulations 4–7, an empty HELLO, VENDOR with a one-byte enterprise type). L3DL's later
 * header (sequence numbers, signatures) is not spoken.
 *
 * @module
 */

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
