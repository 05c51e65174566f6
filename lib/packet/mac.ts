/**
 * 48-bit MAC addresses: parsing, formatting, and allocation-free helpers that read an address
 * in place inside a frame (`bytes`, `offset`) for hot paths such as MAC tables.
 *
 * @example
 * ```ts
 * import { formatMac, macKey, parseMac } from "./mac.ts";
 *
 * const mac = parseMac("0200.00AA.BBCC");
 * formatMac(mac); // "02:00:00:aa:bb:cc"
 * const table = new Map<number, string>([[macKey(mac), "eth0"]]);
 * ```
 *
 * @module
 */

/** Length of a MAC address in bytes. */
export const MAC_LEN = 6;

/** The broadcast address ff:ff:ff:ff:ff:ff. Shared: never write to it; `.slice()` it first. */
export const BROADCAST_MAC: Readonly<Uint8Array<ArrayBuffer>> = new Uint8Array(MAC_LEN).fill(0xff);

/** Largest value {@linkcode macKey} can return: 2^48 - 1. */
export const MAX_MAC_KEY = 0xffff_ffff_ffff;

const HEX: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);
// One separator used throughout (":" or "-"), or Cisco's three dot-separated groups of four.
const SEPARATED = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;
const CISCO = /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i;

/** Throws unless `bytes` holds a whole MAC address at `offset`. */
function checkMacAt(bytes: Uint8Array, offset: number): void {
  // `>>> 0` rejects negative, fractional and NaN offsets in one cheap comparison.
  if (offset >>> 0 !== offset || offset + MAC_LEN > bytes.length) {
    throw new RangeError(
      `MAC address at offset ${offset} is out of bounds: it needs ${MAC_LEN} bytes and the buffer has ${bytes.length}`,
    );
  }
}

/**
 * Parses a MAC address written as `02:00:00:aa:bb:cc`, `02-00-00-AA-BB-CC` or Cisco-style
 * `0200.00aa.bbcc` (any case) into 6 new bytes. Throws a `TypeError` for anything else,
 * including mixed separators and surrounding whitespace.
 *
 * @example
 * ```ts
 * import { parseMac } from "./mac.ts";
 *
 * parseMac("02-00-00-AA-BB-CC"); // Uint8Array [2, 0, 0, 170, 187, 204]
 * ```
 */
export function parseMac(text: string): Uint8Array<ArrayBuffer> {
  if (!SEPARATED.test(text) && !CISCO.test(text)) {
    throw new TypeError(
      `Invalid MAC address "${text}": expected six hex octets like 02:00:00:00:00:01, 02-00-00-00-00-01 or 0200.0000.0001`,
    );
  }
  const digits = text.replace(/[:.-]/g, "");
  const mac = new Uint8Array(MAC_LEN);
  for (let i = 0; i < MAC_LEN; i++) mac[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return mac;
}

/**
 * Formats the 6 bytes at `offset` as lowercase colon-separated hex, as iproute2 prints them.
 *
 * @example
 * ```ts
 * import { formatMac } from "./mac.ts";
 *
 * const frame = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1]);
 * formatMac(frame, 6); // "02:00:00:00:00:01"
 * ```
 */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  checkMacAt(bytes, offset);
  const b = bytes;
  const o = offset;
  return `${HEX[b[o]!]}:${HEX[b[o + 1]!]}:${HEX[b[o + 2]!]}:${HEX[b[o + 3]!]}:${HEX[b[o + 4]!]}:${
    HEX[b[o + 5]!]
  }`;
}

/**
 * Returns the MAC address at `offset` as an exact integer in 0..2^48-1 (first byte most
 * significant), without allocating: a cheap `Map` key for MAC tables on hot paths.
 *
 * @example
 * ```ts
 * import { macKey, parseMac } from "./mac.ts";
 *
 * macKey(parseMac("00:00:00:00:01:00")); // 256
 * ```
 */
export function macKey(bytes: Uint8Array, offset = 0): number {
  checkMacAt(bytes, offset);
  const b = bytes;
  const o = offset;
  // The high 16 bits are scaled by 2^32 rather than shifted: JS shifts are 32-bit only.
  const high = (b[o]! << 8) | b[o + 1]!;
  const low = ((b[o + 2]! << 24) | (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!) >>> 0;
  return high * 0x1_0000_0000 + low;
}

/** Turns a {@linkcode macKey} value back into 6 new bytes; throws a `RangeError` if out of range. */
export function macFromKey(key: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(key) || key < 0 || key > MAX_MAC_KEY) {
    throw new RangeError(`Invalid MAC key "${key}": expected an integer from 0 to ${MAX_MAC_KEY}`);
  }
  const high = Math.floor(key / 0x1_0000_0000);
  const low = key >>> 0;
  return new Uint8Array([
    high >>> 8,
    high & 0xff,
    low >>> 24,
    (low >>> 16) & 0xff,
    (low >>> 8) & 0xff,
    low & 0xff,
  ]);
}

/**
 * Whether the address at `offset` is a group (multicast or broadcast) address: the I/G bit,
 * the least significant bit of the first byte, is set.
 */
export function isMulticastMac(bytes: Uint8Array, offset = 0): boolean {
  checkMacAt(bytes, offset);
  return (bytes[offset]! & 0x01) !== 0;
}

/** Whether the address at `offset` is the broadcast address ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(bytes: Uint8Array, offset = 0): boolean {
  checkMacAt(bytes, offset);
  for (let i = offset; i < offset + MAC_LEN; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/**
 * Whether the address at `offset` is locally administered (the U/L bit, second least
 * significant bit of the first byte, is set), as virtual MACs such as 02:xx:... should be.
 */
export function isLocallyAdministeredMac(bytes: Uint8Array, offset = 0): boolean {
  checkMacAt(bytes, offset);
  return (bytes[offset]! & 0x02) !== 0;
}

/** Whether the address at `aOffset` in `a` equals the one at `bOffset` in `b`. */
export function macEquals(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): boolean {
  checkMacAt(a, aOffset);
  checkMacAt(b, bOffset);
  for (let i = 0; i < MAC_LEN; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}
