/**
 * Big-endian fields of packets, read and written in place. Allocation-free and unchecked: the
 * caller has checked that the bytes are there (an out-of-range read yields garbage, not an
 * exception), which is what the per-frame paths want.
 *
 * @module
 */

/** The big-endian 16-bit value at `offset`. */
export function u16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** The big-endian 32-bit value at `offset`, as an unsigned number. */
export function u32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>> 0;
}

/** Writes `value` (0 to 0xffff) big-endian at `offset`. */
export function setU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

/** Writes `value` (0 to 0xffffffff) big-endian at `offset`. */
export function setU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 24) & 0xff;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

/** Whether `a` and `b` hold the same bytes (and as many). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && bytesEqualAt(a, 0, b);
}

/**
 * Whether `bytes` holds `expected` at `offset` (a field compared in place, as a frame's MAC or
 * address against a configured one, with no copy). Past the end of `bytes` is no match.
 */
export function bytesEqualAt(bytes: Uint8Array, offset: number, expected: Uint8Array): boolean {
  if (offset < 0 || offset + expected.length > bytes.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[offset + i] !== expected[i]) return false;
  return true;
}

/**
 * `a` and `b` in byte order (a shorter prefix first): negative, 0 or positive, for sorting
 * addresses and other byte strings.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
