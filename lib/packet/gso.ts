/**
 * Segmentation of GSO super-frames in userspace, as the kernel's software GSO does for a
 * device without TSO: a TCP or UDP frame the kernel merged (GRO on a NIC, TSO from a local
 * stack, a VM or a veth peer) is cut into frames that fit a smaller MTU, each with its own IP
 * length, IPv4 identification and header checksum, TCP sequence number and flags, and a
 * complete TCP/UDP checksum.
 *
 * The GSO type and segment size come from the `virtio_net_hdr` a packet socket with
 * `PACKET_VNET_HDR` or a TAP with `IFF_VNET_HDR` puts in front of each frame; the headers
 * themselves are read from the frame and checked, so a frame whose metadata and contents
 * disagree is refused, never half-segmented.
 *
 * @example Cut a TSO frame for a 1406-byte room frame
 * ```ts
 * import assert from "node:assert/strict";
 * import { GsoType, segmentFrame } from "./gso.ts";
 *
 * // What TSO hands over: Ethernet, IPv4 and TCP headers (20 bytes each) and 4000 payload bytes.
 * const superFrame = new Uint8Array(14 + 20 + 20 + 4000);
 * superFrame.set([0x08, 0x00], 12);
 * superFrame.set([0x45, 0, 4040 >> 8, 4040 & 0xff, 0, 0, 0x40, 0, 64, 6], 14);
 * superFrame[14 + 20 + 12] = 0x50; // TCP data offset: 5 words
 * const sent: Uint8Array[] = [];
 * const scratch = new Uint8Array(1406);
 * const result = segmentFrame(superFrame, GsoType.TCPV4, 1448, scratch, (segment) => {
 *   sent.push(segment.slice()); // the scratch is reused for the next segment
 * });
 * // A refusal is a reason to count (e.g. "gso_unsupported"); here 4000 bytes in 1352-byte segments.
 * assert.ok(result === 3 && sent.length === 3 && sent[0]!.length === 1406);
 * ```
 *
 * @module
 */

import { setU16, u16, u32 } from "./bytes.ts";
import { ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";
import { internetChecksum, onesComplementSum } from "./checksum.ts";

/** Bytes of the `virtio_net_hdr` in front of every frame on a vnet socket or TAP. */
export const VNET_HDR_LEN = 10;

/** `virtio_net_hdr.gso_type` values (linux/virtio_net.h), the ECN bit masked off. */
export const GsoType = {
  NONE: 0,
  TCPV4: 1,
  /** UFO: one UDP datagram in IP fragments; no kernel since 4.14 hands these out. */
  UDP: 3,
  TCPV6: 4,
  /** USO: several UDP datagrams of `gso_size` payload bytes each. */
  UDP_L4: 5,
} as const;

/** `virtio_net_hdr.gso_type` bit: the TCP stream uses ECN (CWR goes on the first segment). */
export const GSO_ECN = 0x80;

/** The header's `flags` bit saying the TCP/UDP checksum still has to be computed. */
const NEEDS_CSUM = 0x01;

/** Why {@linkcode segmentFrame} refused a frame; stable, for drop counters. */
export type GsoRefusal =
  /** What netkit does not segment: UFO, tunnels, IPv6 extension headers before TCP/UDP. */
  | "gso_unsupported"
  /** The frame's headers contradict its GSO metadata, or are cut short. */
  | "gso_malformed"
  /** Headers plus one segment (a whole datagram, for UDP) exceed the largest frame. */
  | "mtu_exceeded";

/** The GSO type of the vnet header at `header[offset..]`, without the ECN bit. */
export function vnetGsoType(header: Uint8Array, offset = 0): number {
  return header[offset + 1]! & ~GSO_ECN;
}

/** The segment size of the vnet header at `header[offset..]` (host order: little endian). */
export function vnetGsoSize(header: Uint8Array, offset = 0): number {
  return header[offset + 4]! | (header[offset + 5]! << 8);
}

/** Where the pending checksum of the vnet header at `header[offset..]` starts in the frame. */
export function vnetChecksumStart(header: Uint8Array, offset = 0): number {
  return header[offset + 6]! | (header[offset + 7]! << 8);
}

/** Where that checksum goes, relative to {@linkcode vnetChecksumStart}. */
export function vnetChecksumOffset(header: Uint8Array, offset = 0): number {
  return header[offset + 8]! | (header[offset + 9]! << 8);
}

/** True when the vnet header at `header[offset..]` says the checksum is left to complete. */
export function vnetNeedsChecksum(header: Uint8Array, offset = 0): boolean {
  return (header[offset]! & NEEDS_CSUM) !== 0;
}

const TCP = 6;
const UDP = 17;
/** IP-in-IP, IPv6-in-IP, UDP (VXLAN, Geneve), GRE: outer protocols of tunnels with GSO. */
const ENCAPSULATIONS = new Set([4, 41, UDP, 47]);
const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** Where the headers of a GSO frame end, and what to rewrite in each segment. */
interface Layout {
  ip: number;
  ipv4: boolean;
  l4: number;
  /** Bytes of headers (Ethernet to TCP/UDP) every segment starts with. */
  headers: number;
  /** End of the IP packet in the frame (trailing bytes are not part of it). */
  end: number;
  tcp: boolean;
}

/**
 * Computes the TCP or UDP checksum of a segment whose headers `layout` already found: no second
 * parse of the headers per segment.
 */
function setTransportChecksum(segment: Uint8Array, l: Layout): void {
  const field = l.l4 + (l.tcp ? 16 : 6);
  setU16(segment, field, 0);
  const [from, to] = l.ipv4 ? [l.ip + 12, l.ip + 20] : [l.ip + 8, l.ip + 40];
  const pseudo = onesComplementSum(segment, from, to, (l.tcp ? TCP : UDP) + segment.length - l.l4);
  const sum = internetChecksum(segment, l.l4, segment.length, pseudo);
  setU16(segment, field, sum === 0 && !l.tcp ? 0xffff : sum); // UDP sends 0 as 0xffff
}

/** Reads and checks the headers of a frame of GSO type `type`, or says why it cannot be cut. */
function layout(frame: Uint8Array, type: number): Layout | GsoRefusal {
  if (type !== GsoType.TCPV4 && type !== GsoType.TCPV6 && type !== GsoType.UDP_L4) {
    return "gso_unsupported";
  }
  const ip = ethernetHeaderLengthAt(frame);
  if (ip < 0) return "gso_malformed";
  const etherType = etherTypeAt(frame);
  let protocol: number;
  let l4: number;
  let end: number;
  const ipv4 = etherType === EtherType.IPV4;
  if (ipv4) {
    if (type === GsoType.TCPV6 || frame.length < ip + 20 || frame[ip]! >> 4 !== 4) {
      return "gso_malformed";
    }
    l4 = ip + (frame[ip]! & 0x0f) * 4;
    end = ip + u16(frame, ip + 2);
    if (l4 < ip + 20 || u16(frame, ip + 6) & 0x3fff) return "gso_malformed"; // or a fragment
    protocol = frame[ip + 9]!;
  } else if (etherType === EtherType.IPV6) {
    if (type === GsoType.TCPV4 || frame.length < ip + 40 || frame[ip]! >> 4 !== 6) {
      return "gso_malformed";
    }
    l4 = ip + 40;
    end = l4 + u16(frame, ip + 4); // 0 for a BIG TCP jumbogram: refused below
    protocol = frame[ip + 6]!;
    if (protocol !== TCP && protocol !== UDP) return "gso_unsupported"; // extension headers
  } else {
    return "gso_malformed";
  }
  const tcp = type !== GsoType.UDP_L4;
  // TCP GSO over UDP (VXLAN, Geneve), GRE or IP-in-IP: the kernel describes a tunnel's stream
  // by its inner type; cutting one would take rewriting both headers.
  if (tcp && protocol !== TCP) {
    return ENCAPSULATIONS.has(protocol) ? "gso_unsupported" : "gso_malformed";
  }
  if (!tcp && protocol !== UDP) return "gso_malformed";
  const l4Header = tcp ? (frame[l4 + 12]! >> 4) * 4 : 8;
  const headers = l4 + l4Header;
  if (end > frame.length || l4Header < (tcp ? 20 : 8) || headers > end) return "gso_malformed";
  return { ip, ipv4, l4, headers, end, tcp };
}

/**
 * Cuts `frame`, a super-frame of GSO type `type` (a {@linkcode GsoType}) and segment size
 * `gsoSize`, into frames of at most `scratch.length` bytes and calls `emit` with each, in
 * order. Each segment is built in `scratch` and is valid only until `emit` returns.
 *
 * TCP payload is cut at `gsoSize` bytes, or less when that does not fit `scratch` (a TCP
 * receiver takes segments of any size up to its MSS); a UDP datagram of a USO frame is never
 * cut, so one that does not fit is refused `mtu_exceeded`. Returns the number of segments,
 * or why nothing was emitted. Never throws on malformed input.
 */
export function segmentFrame(
  frame: Uint8Array,
  type: number,
  gsoSize: number,
  scratch: Uint8Array,
  emit: (segment: Uint8Array) => void,
): number | GsoRefusal {
  const l = layout(frame, type);
  if (typeof l === "string") return l;
  const payload = l.end - l.headers;
  const room = scratch.length - l.headers;
  let size: number;
  if (l.tcp) {
    size = gsoSize > 0 ? Math.min(gsoSize, room) : room;
    if (size < 1) return "mtu_exceeded";
  } else {
    if (gsoSize < 1) return "gso_malformed";
    if (gsoSize > room) return "mtu_exceeded";
    size = gsoSize;
  }
  const firstSeq = l.tcp ? u32(frame, l.l4 + 4) : 0;
  const id = l.ipv4 ? u16(frame, l.ip + 4) : 0;
  const flags = l.tcp ? frame[l.l4 + 13]! : 0;
  let count = 0;
  // A payload of 0 (a bare header) still makes one segment.
  for (let offset = 0; offset < payload || count === 0; offset += size, count++) {
    const chunk = Math.min(size, payload - offset);
    const last = offset + chunk >= payload;
    const segment = scratch.subarray(0, l.headers + chunk);
    segment.set(frame.subarray(0, l.headers));
    segment.set(frame.subarray(l.headers + offset, l.headers + offset + chunk), l.headers);
    const ipLength = l.headers - l.ip + chunk;
    if (l.ipv4) {
      setU16(segment, l.ip + 2, ipLength);
      setU16(segment, l.ip + 4, (id + count) & 0xffff);
      setU16(segment, l.ip + 10, 0);
      setU16(segment, l.ip + 10, internetChecksum(segment, l.ip, l.l4));
    } else {
      setU16(segment, l.ip + 4, ipLength - 40);
    }
    if (l.tcp) {
      const s = (firstSeq + offset) % 0x1_0000_0000;
      setU16(segment, l.l4 + 4, Math.floor(s / 0x10000));
      setU16(segment, l.l4 + 6, s & 0xffff);
      let f = flags;
      if (!last) f &= ~(TCP_FIN | TCP_PSH);
      if (count > 0) f &= ~TCP_CWR;
      segment[l.l4 + 13] = f;
    } else {
      setU16(segment, l.l4 + 4, 8 + chunk);
    }
    setTransportChecksum(segment, l);
    emit(segment);
  }
  return count;
}
