/**
 * C string marshalling for libnetkit calls.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` as a NUL-terminated UTF-8 buffer for a `const char *` parameter. */
export function cString(text: string): Uint8Array {
  return encoder.encode(text + "\0");
}

/** The string in `buffer` up to its first NUL (or the whole buffer when there is none). */
export function readCString(buffer: Uint8Array): string {
  const end = buffer.indexOf(0);
  return decoder.decode(end < 0 ? buffer : buffer.subarray(0, end));
}
