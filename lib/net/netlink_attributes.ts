/**
 * Netlink attributes (`struct nlattr` / `struct rtattr`: 16-bit length, 16-bit type, value,
 * padded to 4 bytes): the one walker every netlink decoder uses, and readers for the values.
 * Pure and bounds-checked; host byte order, as netlink is.
 *
 * @module
 */

/** Bytes of an attribute header (length and type). */
export const NLA_HDRLEN = 4;

/** The type bits of `nla_type`; the top two are `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`. */
const NLA_TYPE_MASK = 0x3fff;

const decoder = new TextDecoder();

/** `n` rounded up to the 4-byte alignment of netlink messages and attributes. */
export function netlinkAlign(n: number): number {
  return (n + 3) & ~3;
}

/** A view on exactly `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Walks the attributes in `bytes`, calling `visit(type, value)` for each well-formed one (the
 * type without its flag bits). Stops at the first attribute whose length does not fit.
 */
export function forEachAttribute(
  bytes: Uint8Array,
  visit: (type: number, value: Uint8Array) => void,
): void {
  const view = viewOf(bytes);
  let offset = 0;
  while (offset + NLA_HDRLEN <= bytes.length) {
    const len = view.getUint16(offset, true);
    if (len < NLA_HDRLEN || offset + len > bytes.length) return;
    visit(
      view.getUint16(offset + 2, true) & NLA_TYPE_MASK,
      bytes.subarray(offset + NLA_HDRLEN, offset + len),
    );
    offset += netlinkAlign(len);
  }
}

/** A u32 attribute value, or undefined when it is shorter than 4 bytes. */
export function attributeU32(value: Uint8Array): number | undefined {
  return value.length >= 4 ? viewOf(value).getUint32(0, true) : undefined;
}

/** A u64 attribute value, or undefined when it is shorter than 8 bytes. */
export function attributeU64(value: Uint8Array): bigint | undefined {
  return value.length >= 8 ? viewOf(value).getBigUint64(0, true) : undefined;
}

/** A string attribute value, up to its first NUL (or the whole value when there is none). */
export function attributeString(value: Uint8Array): string {
  const end = value.indexOf(0);
  return decoder.decode(end < 0 ? value : value.subarray(0, end));
}
