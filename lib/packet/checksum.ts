/**
 * The Internet checksum (RFC 1071) used by IPv4, ICMP, IGMP, UDP and TCP, with IPv4/IPv6
 * pseudo-header sums and the RFC 1624 incremental update.
 *
 * Sums are kept unfolded as plain integers (exact up to 2^53), so partial sums over several
 * pieces (pseudo header, header, payload) can simply be added before {@linkcode internetChecksum}
 * folds and complements them. Every piece except the last must start at an even offset of the
 * checksummed data and have even length, since an odd trailing byte is padded with zero.
 *
 * @example Checksum a UDP datagram over IPv4
 * ```ts
 * import { internetChecksum, ipv4PseudoHeaderSum } from "./checksum.ts";
 *
 * const src = new Uint8Array([192, 0, 2, 1]);
 * const dst = new Uint8Array([192, 0, 2, 2]);
 * const udp = new Uint8Array(12); // header (checksum field zero) + payload
 * const pseudo = ipv4PseudoHeaderSum(src, dst, 17, udp.length);
 * const checksum = internetChecksum(udp, 0, udp.length, pseudo) || 0xffff; // UDP sends 0 as 0xffff
 * ```
 *
 * @module
 */

function checkRange(bytes: Uint8Array, start: number, end: number): void {
  if (
    !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start ||
    end > bytes.length
  ) {
    throw new RangeError(
      `Invalid checksum range ${start}..${end}: expected 0 <= start <= end <= ${bytes.length} (the buffer length)`,
    );
  }
}

function checkUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Invalid ${what} "${value}": expected an integer from 0 to ${max}`);
  }
}

function checkAddress(address: Uint8Array, length: number, what: string): void {
  if (address.length !== length) {
    throw new RangeError(`Invalid ${what}: expected ${length} bytes, got ${address.length}`);
  }
}

/**
 * Adds the big-endian 16-bit words of `bytes[start..end)` to `initial` without folding; an odd
 * trailing byte counts as the high byte of a word. The result is a partial sum for
 * {@linkcode internetChecksum}'s `initial` or {@linkcode foldOnesComplementSum}.
 *
 * @example
 * ```ts
 * import { onesComplementSum } from "./checksum.ts";
 *
 * onesComplementSum(new Uint8Array([0xff, 0xff, 0x00, 0x02])); // 0x10001
 * ```
 */
export function onesComplementSum(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
  initial = 0,
): number {
  checkRange(bytes, start, end);
  if (!Number.isSafeInteger(initial) || initial < 0) {
    throw new RangeError(`Invalid initial sum "${initial}": expected a non-negative integer`);
  }
  let sum = initial;
  const last = end - 1;
  let i = start;
  for (; i < last; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i === last) sum += bytes[i]! << 8;
  return sum;
}

/** Folds a partial sum into 16 bits with end-around carry (not complemented). */
export function foldOnesComplementSum(sum: number): number {
  // Division, not `>>> 16`: partial sums may exceed 32 bits.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The RFC 1071 Internet checksum of `bytes[start..end)` plus the partial sum `initial` (such as a
 * pseudo-header sum): the one's complement of the folded one's complement sum, 0..0xffff.
 * Computed over data that already contains its correct checksum, the result is 0.
 *
 * UDP transmits a computed 0 as 0xffff (0 means "no checksum"); that is the caller's job.
 *
 * @example RFC 1071 section 3's example bytes
 * ```ts
 * import { internetChecksum } from "./checksum.ts";
 *
 * internetChecksum(new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])); // 0x220d
 * ```
 */
export function internetChecksum(
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
  initial = 0,
): number {
  return ~foldOnesComplementSum(onesComplementSum(bytes, start, end, initial)) & 0xffff;
}

/**
 * The unfolded sum of the IPv4 pseudo header (RFC 768 / RFC 793): source and destination
 * addresses (4 bytes each), protocol, and the upper-layer length.
 *
 * In a frame the two addresses are adjacent (IPv4 header bytes 12..20), so a hot path can use
 * `onesComplementSum(packet, ip + 12, ip + 20, protocol + length)` instead.
 *
 * @example
 * ```ts
 * import { ipv4PseudoHeaderSum } from "./checksum.ts";
 *
 * ipv4PseudoHeaderSum(new Uint8Array([10, 0, 0, 1]), new Uint8Array([10, 0, 0, 2]), 17, 8);
 * ```
 */
export function ipv4PseudoHeaderSum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  length: number,
): number {
  checkAddress(src, 4, "IPv4 source address");
  checkAddress(dst, 4, "IPv4 destination address");
  checkUint(protocol, 0xff, "IP protocol");
  checkUint(length, 0xffff, "upper-layer length");
  return onesComplementSum(dst, 0, 4, onesComplementSum(src, 0, 4, protocol + length));
}

/**
 * The unfolded sum of the IPv6 pseudo header (RFC 8200 section 8.1): source and destination
 * addresses (16 bytes each), the 32-bit upper-layer length and the next header value.
 *
 * @example
 * ```ts
 * import { ipv6PseudoHeaderSum } from "./checksum.ts";
 *
 * const linkLocal = new Uint8Array(16);
 * linkLocal.set([0xfe, 0x80]);
 * ipv6PseudoHeaderSum(linkLocal, linkLocal, 58, 8); // ICMPv6
 * ```
 */
export function ipv6PseudoHeaderSum(
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  length: number,
): number {
  checkAddress(src, 16, "IPv6 source address");
  checkAddress(dst, 16, "IPv6 destination address");
  checkUint(nextHeader, 0xff, "IPv6 next header");
  checkUint(length, 0xffff_ffff, "upper-layer length");
  const lengthWords = Math.floor(length / 0x10000) + (length % 0x10000);
  return onesComplementSum(dst, 0, 16, onesComplementSum(src, 0, 16, nextHeader + lengthWords));
}

/**
 * Updates a checksum after one aligned 16-bit word of the data changed from `oldWord` to
 * `newWord`, without touching the rest of the data: RFC 1624 equation 3,
 * `HC' = ~(~HC + ~m + m')`.
 *
 * Matches a full recompute except when the data becomes all zeros (impossible for an IP header,
 * whose version field is non-zero): the update then yields 0x0000 where a recompute gives 0xffff.
 *
 * @example Decrement the IPv4 TTL (the high byte of header word 4)
 * ```ts
 * import { updateChecksum } from "./checksum.ts";
 *
 * const ttl = 64;
 * const protocol = 17;
 * const next = updateChecksum(0xb861, (ttl << 8) | protocol, ((ttl - 1) << 8) | protocol);
 * ```
 */
export function updateChecksum(oldChecksum: number, oldWord: number, newWord: number): number {
  checkUint(oldChecksum, 0xffff, "checksum");
  checkUint(oldWord, 0xffff, "old word");
  checkUint(newWord, 0xffff, "new word");
  return ~foldOnesComplementSum((~oldChecksum & 0xffff) + (~oldWord & 0xffff) + newWord) & 0xffff;
}
