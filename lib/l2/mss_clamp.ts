/**
 * TCP MSS clamping for `--clamp-mss` (docs/l2-protocol.md §5): the tunnel carries smaller frames
 * than the LAN, so SYNs crossing the gateway get their MSS option lowered to what fits the
 * client's TAP MTU, and the connection never needs frames the tunnel cannot carry.
 *
 * @example
 * ```ts
 * import { clampMss } from "./mss_clamp.ts";
 *
 * const frame = new Uint8Array(60); // a frame read from the LAN (this one is no SYN: unchanged)
 * clampMss(frame, 1380); // IPv4 SYNs now announce at most MSS 1340, IPv6 SYNs 1320
 * ```
 *
 * @module
 */

import { u16 } from "../packet/bytes.ts";
import { updateChecksum } from "../packet/checksum.ts";
import { ethernetHeaderLengthAt, EtherType } from "../packet/ethernet.ts";
import { IpProtocol, IPV4_HEADER_LEN } from "../packet/ipv4.ts";
import { IPV6_HEADER_LEN } from "../packet/ipv6.ts";

const TCP_HEADER_LEN = 20;
const TCP_FLAG_SYN = 0x02;
const TCP_OPTION_EOL = 0;
const TCP_OPTION_NOP = 1;
const TCP_OPTION_MSS = 2;
const TCP_OPTION_MSS_LEN = 4;

/**
 * The largest TCP MSS whose segments fit an MTU of `mtu` bytes: `mtu - 40` over IPv4 (20-byte IP
 * and TCP headers), `mtu - 60` over IPv6 (40-byte IP header).
 *
 * @example
 * ```ts
 * import { mssForMtu } from "./mss_clamp.ts";
 *
 * mssForMtu(1500, false); // 1460
 * mssForMtu(1500, true); // 1440
 * ```
 */
export function mssForMtu(mtu: number, ipv6: boolean): number {
  return mtu - (ipv6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN) - TCP_HEADER_LEN;
}

/**
 * Lowers, in place, the MSS option of a TCP SYN (or SYN-ACK) in `frame` to what fits `tapMtu`
 * ({@linkcode mssForMtu}) and fixes the TCP checksum incrementally (RFC 1624). Returns whether the
 * frame changed.
 *
 * Handles VLAN-tagged frames, IPv4 with any header length (first fragments only) and IPv6 with
 * TCP directly after the fixed header. Allocation-free and never throws: anything truncated,
 * malformed or not a SYN with a larger MSS is left untouched.
 */
export function clampMss(frame: Uint8Array, tapMtu: number): boolean {
  const ip = ethernetHeaderLengthAt(frame);
  if (ip < 0) return false;
  const etherType = u16(frame, ip - 2);
  let tcp: number;
  let end: number; // end of the IP packet: Ethernet padding must not pass for TCP options
  let maxMss: number;
  if (etherType === EtherType.IPV4) {
    if (ip + IPV4_HEADER_LEN > frame.length || frame[ip]! >>> 4 !== 4) return false;
    if (frame[ip + 9] !== IpProtocol.TCP || (u16(frame, ip + 6) & 0x1fff) !== 0) return false;
    tcp = ip + (frame[ip]! & 0x0f) * 4;
    if (tcp < ip + IPV4_HEADER_LEN) return false;
    end = Math.min(frame.length, ip + u16(frame, ip + 2));
    maxMss = mssForMtu(tapMtu, false);
  } else if (etherType === EtherType.IPV6) {
    if (ip + IPV6_HEADER_LEN > frame.length || frame[ip]! >>> 4 !== 6) return false;
    if (frame[ip + 6] !== IpProtocol.TCP) return false;
    tcp = ip + IPV6_HEADER_LEN;
    end = Math.min(frame.length, tcp + u16(frame, ip + 4));
    maxMss = mssForMtu(tapMtu, true);
  } else {
    return false;
  }
  // An MSS must be a positive 16-bit value; a nonsensical MTU clamps nothing.
  if (!Number.isInteger(maxMss) || maxMss < 1 || maxMss > 0xffff) return false;
  if (tcp + TCP_HEADER_LEN > end || (frame[tcp + 13]! & TCP_FLAG_SYN) === 0) return false;
  const optionsEnd = Math.min(end, tcp + (frame[tcp + 12]! >>> 4) * 4);
  let option = tcp + TCP_HEADER_LEN;
  while (option < optionsEnd) {
    const kind = frame[option]!;
    if (kind === TCP_OPTION_EOL) return false;
    if (kind === TCP_OPTION_NOP) {
      option++;
      continue;
    }
    if (option + 1 >= optionsEnd) return false;
    const length = frame[option + 1]!;
    if (length < 2 || option + length > optionsEnd) return false;
    if (kind === TCP_OPTION_MSS) {
      if (length !== TCP_OPTION_MSS_LEN) return false;
      return rewriteMss(frame, tcp, option + 2, maxMss);
    }
    option += length;
  }
  return false;
}

/** Writes `maxMss` at `value` if the MSS there is larger, updating the checksum at `tcp + 16`. */
function rewriteMss(frame: Uint8Array, tcp: number, value: number, maxMss: number): boolean {
  const mss = u16(frame, value);
  if (mss <= maxMss) return false;
  let oldWord = mss;
  let newWord = maxMss;
  if ((value - tcp) % 2 === 1) {
    // After a NOP the value sits at an odd offset and straddles two checksum words; there its
    // bytes add to the sum byte-swapped (high byte in a word's low half and vice versa).
    oldWord = ((mss & 0xff) << 8) | (mss >>> 8);
    newWord = ((maxMss & 0xff) << 8) | (maxMss >>> 8);
  }
  const checksum = u16(frame, tcp + 16);
  const updated = updateChecksum(checksum, oldWord, newWord);
  frame[value] = maxMss >>> 8;
  frame[value + 1] = maxMss & 0xff;
  frame[tcp + 16] = updated >>> 8;
  frame[tcp + 17] = updated & 0xff;
  return true;
}
