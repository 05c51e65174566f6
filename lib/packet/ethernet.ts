/**
 * Ethernet II / IEEE 802.3 frame headers with stacked 802.1Q / 802.1ad VLAN tags.
 *
 * Frames here exclude the FCS, as packet sockets and TAP devices deliver them. Decoding returns
 * views into the frame (no copies); {@linkcode etherTypeAt} and
 * {@linkcode ethernetHeaderLengthAt} answer the common hot-path questions without allocating.
 *
 * @example
 * ```ts
 * import { decodeEthernet, encodeEthernet, EtherType, parseMac } from "./mod.ts";
 *
 * const frame = encodeEthernet({
 *   dst: parseMac("ff:ff:ff:ff:ff:ff"),
 *   src: parseMac("02:00:00:00:00:01"),
 *   etherType: EtherType.LOCAL_EXPERIMENTAL,
 *   vlanTags: [{ vid: 100, pcp: 5 }],
 *   payload: new Uint8Array([1, 2, 3]),
 * });
 * const eth = decodeEthernet(frame);
 * eth.vlanTags[0]?.vid; // 100
 * ```
 *
 * @module
 */

import { u16 } from "./bytes.ts";
import { MalformedPacketError } from "./errors.ts";
import { MAC_LEN } from "./mac.ts";

/** Well-known EtherType and TPID values. */
export const EtherType = {
  /** Internet Protocol version 4. */
  IPV4: 0x0800,
  /** Address Resolution Protocol. */
  ARP: 0x0806,
  /** Wake-on-LAN magic packet. */
  WAKE_ON_LAN: 0x0842,
  /** Reverse ARP. */
  RARP: 0x8035,
  /** IEEE 802.1Q VLAN tag (C-tag TPID). */
  VLAN: 0x8100,
  /** Internet Protocol version 6. */
  IPV6: 0x86dd,
  /** IEEE 802.3 MAC control (PAUSE frames). */
  MAC_CONTROL: 0x8808,
  /** IEEE 802.3 slow protocols: LACP, marker, OAM. */
  SLOW_PROTOCOLS: 0x8809,
  /** MPLS unicast. */
  MPLS: 0x8847,
  /** MPLS multicast. */
  MPLS_MULTICAST: 0x8848,
  /** PPPoE discovery stage. */
  PPPOE_DISCOVERY: 0x8863,
  /** PPPoE session stage. */
  PPPOE_SESSION: 0x8864,
  /** IEEE 802.1X EAP over LAN. */
  EAPOL: 0x888e,
  /** IEEE 802.1ad service VLAN tag (S-tag TPID, "QinQ"). */
  QINQ: 0x88a8,
  /** IEEE 802 local experimental EtherType 1. */
  LOCAL_EXPERIMENTAL: 0x88b5,
  /** IEEE 802 local experimental EtherType 2. */
  LOCAL_EXPERIMENTAL_2: 0x88b6,
  /** IEEE 802.1AB Link Layer Discovery Protocol. */
  LLDP: 0x88cc,
  /** IEEE 802.1AE MAC security. */
  MACSEC: 0x88e5,
  /** IEEE 1588 Precision Time Protocol. */
  PTP: 0x88f7,
  /** IEEE 802.1ag connectivity fault management. */
  CFM: 0x8902,
  /** Pre-standard QinQ outer-tag TPID some switches still use. */
  QINQ_LEGACY: 0x9100,
} as const;

/** Length of an untagged Ethernet header: destination, source, EtherType. */
export const ETH_HEADER_LEN = 14;
/** Minimum Ethernet frame length without the 4-byte FCS; shorter frames are padded. */
export const ETH_MIN_FRAME = 60;
/** Length of one VLAN tag: TPID and TCI. */
export const VLAN_TAG_LEN = 4;
/** Smallest value of the type field that is an EtherType; smaller values are 802.3 lengths. */
export const ETHERTYPE_MIN = 0x0600;
/** Largest VLAN ID. */
export const MAX_VID = 4095;
/** Largest priority code point. */
export const MAX_PCP = 7;

const TYPE_OFFSET = 2 * MAC_LEN;

/** One decoded VLAN tag. */
export interface VlanTag {
  /** Tag protocol identifier: 0x8100, 0x88a8 or 0x9100. */
  tpid: number;
  /** Priority code point, 0..7. */
  pcp: number;
  /** Drop eligible indicator. */
  dei: boolean;
  /** VLAN identifier, 0..4095 (0 means priority-tagged only). */
  vid: number;
}

/** A VLAN tag to encode; omitted fields default to TPID 0x8100, PCP 0, DEI false. */
export interface VlanTagInit {
  /** Tag protocol identifier (default 0x8100); any 16-bit value is written as given. */
  tpid?: number;
  /** Priority code point, 0..7 (default 0). */
  pcp?: number;
  /** Drop eligible indicator (default false). */
  dei?: boolean;
  /** VLAN identifier, 0..4095. */
  vid: number;
}

/** A decoded Ethernet header. `dst`, `src` and `payload` are views into the frame. */
export interface EthernetHeader {
  /** Destination MAC address (6 bytes). */
  dst: Uint8Array;
  /** Source MAC address (6 bytes). */
  src: Uint8Array;
  /** VLAN tags, outermost first; empty when untagged. */
  vlanTags: VlanTag[];
  /**
   * The type field after the last VLAN tag, as found on the wire. Below 0x0600 it is an
   * IEEE 802.3 length, not an EtherType (see `isLengthField`).
   */
  etherType: number;
  /** Whether `etherType` is an 802.3 length field (value below 0x0600), so an LLC header follows. */
  isLengthField: boolean;
  /** Bytes before the payload: 14 plus 4 per VLAN tag. */
  headerLength: number;
  /** Everything after the header, including any padding. */
  payload: Uint8Array;
}

/** What {@linkcode encodeEthernet} builds a frame from. */
export interface EthernetFrameInit {
  /** Destination MAC address (6 bytes). */
  dst: Uint8Array;
  /** Source MAC address (6 bytes). */
  src: Uint8Array;
  /** EtherType (or 802.3 length) written after the last VLAN tag, 0..0xffff. */
  etherType: number;
  /** Bytes after the header. */
  payload: Uint8Array;
  /** VLAN tags to insert, outermost first. */
  vlanTags?: readonly VlanTagInit[];
  /** Zero-pad the frame to {@linkcode ETH_MIN_FRAME} bytes as a NIC would (default true). */
  pad?: boolean;
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, "0")}`;
}

/** Whether `type` is a TPID that starts a VLAN tag: 0x8100, 0x88a8 or 0x9100. */
export function isVlanTpid(type: number): boolean {
  return type === EtherType.VLAN || type === EtherType.QINQ || type === EtherType.QINQ_LEGACY;
}

/**
 * Packs a VLAN tag's PCP, DEI and VID into a 16-bit TCI. Throws a `RangeError` for a VID outside
 * 0..4095 or a PCP outside 0..7.
 *
 * @example
 * ```ts
 * import { encodeVlanTci } from "./ethernet.ts";
 *
 * encodeVlanTci({ vid: 100, pcp: 5 }); // 0xa064
 * ```
 */
export function encodeVlanTci(tag: VlanTagInit): number {
  const { vid, pcp = 0, dei = false } = tag;
  if (!Number.isInteger(vid) || vid < 0 || vid > MAX_VID) {
    throw new RangeError(`Invalid VLAN ID "${vid}": expected an integer from 0 to ${MAX_VID}`);
  }
  if (!Number.isInteger(pcp) || pcp < 0 || pcp > MAX_PCP) {
    throw new RangeError(
      `Invalid VLAN priority (PCP) "${pcp}": expected an integer from 0 to ${MAX_PCP}`,
    );
  }
  return (pcp << 13) | (dei ? 0x1000 : 0) | vid;
}

/**
 * Unpacks a 16-bit TCI into a {@linkcode VlanTag} carrying `tpid` (default 0x8100).
 *
 * @example
 * ```ts
 * import { decodeVlanTci } from "./ethernet.ts";
 *
 * decodeVlanTci(0xa064); // { tpid: 0x8100, pcp: 5, dei: false, vid: 100 }
 * ```
 */
export function decodeVlanTci(tci: number, tpid: number = EtherType.VLAN): VlanTag {
  if (!Number.isInteger(tci) || tci < 0 || tci > 0xffff) {
    throw new RangeError(`Invalid VLAN TCI "${tci}": expected an integer from 0 to 0xffff`);
  }
  return { tpid, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
}

/**
 * Decodes the Ethernet header of `frame` (no FCS), walking any stack of 802.1Q, 802.1ad and
 * 0x9100 tags. Throws {@linkcode MalformedPacketError} with reason `"runt"` for frames shorter
 * than 14 bytes and `"truncated_vlan_tag"` when a tag or the type field after it is cut off.
 *
 * @example
 * ```ts
 * import { decodeEthernet, EtherType, formatMac } from "./mod.ts";
 *
 * const frame = new Uint8Array(60);
 * frame.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06]);
 * const eth = decodeEthernet(frame);
 * formatMac(eth.src); // "02:00:00:00:00:01"
 * eth.etherType === EtherType.ARP; // true
 * ```
 */
export function decodeEthernet(frame: Uint8Array): EthernetHeader {
  if (frame.length < ETH_HEADER_LEN) {
    throw new MalformedPacketError(
      "runt",
      `Ethernet frame too short: ${frame.length} bytes, a header needs ${ETH_HEADER_LEN}`,
    );
  }
  const vlanTags: VlanTag[] = [];
  let offset = TYPE_OFFSET;
  let type = u16(frame, offset);
  while (isVlanTpid(type)) {
    if (offset + VLAN_TAG_LEN + 2 > frame.length) {
      throw new MalformedPacketError(
        "truncated_vlan_tag",
        `Ethernet frame truncated in VLAN tag ${vlanTags.length + 1} (TPID ${
          hex16(type)
        }): ${frame.length} bytes, the tag and the type after it need ${offset + VLAN_TAG_LEN + 2}`,
      );
    }
    const tci = u16(frame, offset + 2);
    vlanTags.push({ tpid: type, pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff });
    offset += VLAN_TAG_LEN;
    type = u16(frame, offset);
  }
  const headerLength = offset + 2;
  return {
    dst: frame.subarray(0, MAC_LEN),
    src: frame.subarray(MAC_LEN, 2 * MAC_LEN),
    vlanTags,
    etherType: type,
    isLengthField: type < ETHERTYPE_MIN,
    headerLength,
    payload: frame.subarray(headerLength),
  };
}

/** Offset of the type field after all VLAN tags, or -1 if the frame is a runt or truncated. */
function innerTypeOffset(frame: Uint8Array): number {
  if (frame.length < ETH_HEADER_LEN) return -1;
  let offset = TYPE_OFFSET;
  while (isVlanTpid(u16(frame, offset))) {
    offset += VLAN_TAG_LEN;
    if (offset + 2 > frame.length) return -1;
  }
  return offset;
}

/**
 * The type field after any VLAN tags (an EtherType, or an 802.3 length below 0x0600), or -1 if
 * the frame is too short to hold it. Allocation-free, for filters on hot paths.
 *
 * @example
 * ```ts
 * import { etherTypeAt, EtherType } from "./ethernet.ts";
 *
 * const frame = new Uint8Array(60);
 * frame.set([0x81, 0x00, 0x00, 0x64, 0x88, 0xcc], 12);
 * etherTypeAt(frame) === EtherType.LLDP; // true
 * ```
 */
export function etherTypeAt(frame: Uint8Array): number {
  const offset = innerTypeOffset(frame);
  return offset < 0 ? -1 : u16(frame, offset);
}

/** The header length including VLAN tags (the payload offset), or -1 if the frame is too short. */
export function ethernetHeaderLengthAt(frame: Uint8Array): number {
  const offset = innerTypeOffset(frame);
  return offset < 0 ? -1 : offset + 2;
}

function checkMacArgument(mac: Uint8Array, role: string): void {
  if (mac.length !== MAC_LEN) {
    throw new RangeError(
      `Invalid ${role} MAC address: expected ${MAC_LEN} bytes, got ${mac.length}`,
    );
  }
}

function checkU16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from 0 to 0xffff`);
  }
}

/**
 * Writes an Ethernet header (with `vlanTags`, outermost first) into `target` at `offset` and
 * returns its length, so callers can build frames in their own buffers without allocating.
 * Throws a `RangeError` for bad fields or when `target` is too small.
 */
export function writeEthernetHeader(
  target: Uint8Array,
  offset: number,
  header: Omit<EthernetFrameInit, "payload" | "pad">,
): number {
  const { dst, src, etherType, vlanTags = [] } = header;
  checkMacArgument(dst, "destination");
  checkMacArgument(src, "source");
  checkU16(etherType, "EtherType");
  const length = ETH_HEADER_LEN + VLAN_TAG_LEN * vlanTags.length;
  if (offset >>> 0 !== offset || offset + length > target.length) {
    throw new RangeError(
      `Ethernet header of ${length} bytes does not fit at offset ${offset} in a buffer of ${target.length}`,
    );
  }
  // Validate every tag before writing so a bad tag leaves `target` untouched.
  const tcis = vlanTags.map((tag) => {
    const tpid = tag.tpid ?? EtherType.VLAN;
    checkU16(tpid, "TPID");
    return [tpid, encodeVlanTci(tag)] as const;
  });
  target.set(dst, offset);
  target.set(src, offset + MAC_LEN);
  let p = offset + TYPE_OFFSET;
  for (const [tpid, tci] of tcis) {
    target[p] = tpid >>> 8;
    target[p + 1] = tpid & 0xff;
    target[p + 2] = tci >>> 8;
    target[p + 3] = tci & 0xff;
    p += VLAN_TAG_LEN;
  }
  target[p] = etherType >>> 8;
  target[p + 1] = etherType & 0xff;
  return length;
}

/**
 * Builds a new frame (no FCS) from its header fields and payload, zero-padded to 60 bytes
 * unless `pad` is false. Throws a `RangeError` for MACs that are not 6 bytes, an EtherType or
 * TPID outside 0..0xffff, a VID outside 0..4095 or a PCP outside 0..7.
 *
 * @example
 * ```ts
 * import { BROADCAST_MAC, encodeEthernet, EtherType, parseMac } from "./mod.ts";
 *
 * const frame = encodeEthernet({
 *   dst: BROADCAST_MAC,
 *   src: parseMac("02:00:00:00:00:01"),
 *   etherType: EtherType.ARP,
 *   payload: new Uint8Array(28),
 * });
 * frame.length; // 60
 * ```
 */
export function encodeEthernet(init: EthernetFrameInit): Uint8Array<ArrayBuffer> {
  const headerLength = ETH_HEADER_LEN + VLAN_TAG_LEN * (init.vlanTags?.length ?? 0);
  const length = headerLength + init.payload.length;
  const frame = new Uint8Array(init.pad === false ? length : Math.max(length, ETH_MIN_FRAME));
  writeEthernetHeader(frame, 0, init);
  frame.set(init.payload, headerLength);
  return frame;
}
