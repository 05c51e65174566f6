/**
 * Completing the TCP or UDP checksum of a whole Ethernet frame. A frame captured from a sender
 * with checksum offload (this host, or a veth peer) carries only the pseudo-header sum in its
 * checksum field; forwarded elsewhere as it is, the receiver drops it as corrupt.
 *
 * @module
 */

import { foldOnesComplementSum, onesComplementSum } from "./checksum.ts";
import { ethernetHeaderLengthAt, EtherType, etherTypeAt } from "./ethernet.ts";

const TCP = 6;
const UDP = 17;

/**
 * Computes the TCP or UDP checksum of `frame` (IPv4, or IPv6 with TCP/UDP as the first next
 * header; VLAN tags allowed) from scratch and writes it in place. Returns false, leaving the
 * frame as it was, for anything else: other protocols, IPv4 fragments, truncated packets.
 * Allocation-free and never throws on malformed input.
 */
export function completeTransportChecksum(frame: Uint8Array): boolean {
  const ip = ethernetHeaderLengthAt(frame);
  if (ip < 0) return false;
  const type = etherTypeAt(frame);
  let protocol: number;
  let l4: number;
  let end: number;
  let sum: number;
  if (type === EtherType.IPV4) {
    if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4) return false;
    const ihl = (frame[ip]! & 0x0f) * 4;
    end = ip + ((frame[ip + 2]! << 8) | frame[ip + 3]!);
    if (ihl < 20 || end > frame.length || end < ip + ihl) return false;
    if (((frame[ip + 6]! << 8) | frame[ip + 7]!) & 0x3fff) return false; // a fragment
    protocol = frame[ip + 9]!;
    l4 = ip + ihl;
    sum = onesComplementSum(frame, ip + 12, ip + 20, protocol + (end - l4));
  } else if (type === EtherType.IPV6) {
    if (frame.length < ip + 40 || frame[ip]! >> 4 !== 6) return false;
    protocol = frame[ip + 6]!;
    l4 = ip + 40;
    end = l4 + ((frame[ip + 4]! << 8) | frame[ip + 5]!);
    if (end > frame.length) return false;
    sum = onesComplementSum(frame, ip + 8, ip + 40, protocol + (end - l4));
  } else {
    return false;
  }
  const field = protocol === TCP ? l4 + 16 : protocol === UDP ? l4 + 6 : -1;
  if (field < 0 || field + 2 > end) return false;
  frame[field] = 0;
  frame[field + 1] = 0;
  sum = onesComplementSum(frame, l4, end, sum);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  let checksum = ~sum & 0xffff;
  if (checksum === 0 && protocol === UDP) checksum = 0xffff; // 0 means "none" in UDP
  frame[field] = checksum >> 8;
  frame[field + 1] = checksum & 0xff;
  return true;
}

/**
 * Completes a checksum the sender left to offload where its vnet header says it is, as the
 * kernel's `skb_checksum_help` does: the sum of `frame[start..]` (the field holds the
 * pseudo-header sum) goes, complemented, at `start + offset`; a 0 result is sent as 0xffff.
 * Unlike {@linkcode completeTransportChecksum} this is right for a tunnel too, whose pending
 * checksum is the inner TCP/UDP one. Returns false, changing nothing, for offsets outside the
 * frame.
 */
export function completeChecksumAt(frame: Uint8Array, start: number, offset: number): boolean {
  const field = start + offset;
  if (start < 14 || offset < 0 || field + 2 > frame.length) return false;
  const checksum = ~foldOnesComplementSum(onesComplementSum(frame, start, frame.length)) & 0xffff;
  const sent = checksum === 0 ? 0xffff : checksum;
  frame[field] = sent >> 8;
  frame[field + 1] = sent & 0xff;
  return true;
}
