/**
 * Folder-internal wire helpers for the control protocol: splitting a byte stream into
 * size-capped lines, encoding replies as lines, and the error reply shape.
 *
 * @module
 */

import { z } from "zod";

/** The newline byte that ends every message. */
const NEWLINE = 0x0a;

/** A unit taken from the byte stream by {@linkcode LineFramer.next}. */
export type Frame =
  | { kind: "line"; bytes: Uint8Array }
  | { kind: "overflow"; bytes: number };

/**
 * Splits incoming bytes into "\n"-terminated lines, refusing any line longer than
 * `maxBytes` (newline not counted) as soon as that is certain, so a client can never make the
 * buffer grow past one message plus one read.
 */
export class LineFramer {
  /** The longest accepted line in bytes, newline not counted. */
  readonly maxBytes: number;
  #buffer = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  // Where to resume the newline search, so each byte is scanned once.
  #scanned = 0;

  /** Creates a framer for lines of at most `maxBytes` bytes. */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes held that are not yet returned as a line. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Appends received bytes (copied, so the caller may reuse `chunk`). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#buffer.length) {
      const held = this.#end - this.#start;
      const needed = held + chunk.length;
      if (needed > this.#buffer.length) {
        let size = this.#buffer.length;
        while (size < needed) size *= 2;
        const grown = new Uint8Array(size);
        grown.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = grown;
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
      }
      this.#scanned -= this.#start;
      this.#start = 0;
      this.#end = held;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next complete line (without its newline, copied), an overflow when the line at the
   * front is or will be longer than `maxBytes`, or `null` when more bytes are needed.
   * After an overflow the stream cannot be resynchronised; the caller should stop reading.
   */
  next(): Frame | null {
    const at = this.#buffer.subarray(this.#scanned, this.#end).indexOf(NEWLINE);
    if (at === -1) {
      this.#scanned = this.#end;
      const held = this.#end - this.#start;
      return held > this.maxBytes ? { kind: "overflow", bytes: held } : null;
    }
    const stop = this.#scanned + at;
    const length = stop - this.#start;
    if (length > this.maxBytes) return { kind: "overflow", bytes: length };
    const bytes = this.#buffer.slice(this.#start, stop);
    this.#start = stop + 1;
    this.#scanned = this.#start;
    return { kind: "line", bytes };
  }

  /** The bytes held after the last complete line, without removing them. */
  peekRest(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Removes and returns the bytes held after the last complete line. */
  takeRest(): Uint8Array {
    const rest = this.#buffer.slice(this.#start, this.#end);
    this.#start = this.#end = this.#scanned = 0;
    return rest;
  }
}

/** True when `bytes` holds only JSON whitespace (blank lines are not requests). */
export function isBlank(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a);
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The result of decoding one message: its value, or why it is not JSON. */
export type Decoded = { ok: true; value: unknown } | { ok: false; reason: string };

/** Decodes one message: strict UTF-8, then `JSON.parse`. */
export function decodeJson(bytes: Uint8Array): Decoded {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, reason: "the message is not valid UTF-8" };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: oneLine(err instanceof Error ? err.message : String(err)) };
  }
}

const FIRST_READ_BYTES = 64 * 1024;
const MAX_READ_BYTES = 1024 * 1024;

/**
 * The buffer a connection reads into. It starts at 64 KiB and grows fourfold, up to 1 MiB,
 * whenever a read fills it: a large message then arrives in a few reads instead of dozens.
 */
export class ReadBuffer {
  #bytes = new Uint8Array(FIRST_READ_BYTES);

  /** Where the next read goes. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The `n` bytes the last read put into {@linkcode bytes}; valid until the next read. */
  filled(n: number): Uint8Array {
    const got = this.#bytes.subarray(0, n);
    if (n === this.#bytes.length && n < MAX_READ_BYTES) this.#bytes = new Uint8Array(n * 4);
    return got;
  }
}

/** Bytes a complete JSON value can end with, apart from digits: `}` `]` `"` and true/false/null. */
const VALUE_ENDS = new Set([0x7d, 0x5d, 0x22, 0x65, 0x6c]);

/**
 * Decodes bytes that arrived without a newline if they already form one complete JSON value.
 * A trailing digit could still be the start of a longer number, so such input waits for more.
 * Only input that ends like a value is parsed: a large request arrives in many reads, and
 * parsing each partial buffer to the end would cost time growing with the square of its size.
 */
export function decodeIfComplete(bytes: Uint8Array): Decoded | null {
  let end = bytes.length;
  while (end > 0 && isBlank(bytes.subarray(end - 1, end))) end--;
  if (end === 0 || !VALUE_ENDS.has(bytes[end - 1]!)) return null;
  const decoded = decodeJson(bytes);
  return decoded.ok ? decoded : null;
}

/**
 * A reply already encoded as JSON text (one line), sent as is. For replies assembled from parts
 * the daemon keeps encoded, such as thousands of routes.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** Encodes `value` as one JSON line, or returns `null` when it has no JSON form. */
export function encodeLine(value: unknown): Uint8Array | null {
  const text = value instanceof JsonText ? value.text : JSON.stringify(value);
  // JSON.stringify returns undefined for functions, symbols and undefined.
  if (typeof text !== "string") return null;
  return encoder.encode(text + "\n");
}

/** The reply to a request that failed, as sent on the wire. */
export interface ErrorReply {
  /** Always `"error"`. */
  status: "error";
  /** One line saying what went wrong and, when possible, what to do. */
  message: string;
}

/** Builds the error reply for `message`. */
export function errorReply(message: string): ErrorReply {
  return { status: "error", message: oneLine(message) };
}

const errorReplySchema = z.object({ status: z.literal("error"), message: z.string() });

/** The message of an error reply, or `null` when `value` is not one. */
export function errorReplyMessage(value: unknown): string | null {
  const parsed = errorReplySchema.safeParse(value);
  return parsed.success ? parsed.data.message : null;
}

/** Collapses line breaks so a message fits the one-line error style. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/** Writes all of `bytes`; a single `write` may accept only part of them. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await conn.write(bytes.subarray(offset));
  }
}

/** Closes `conn` unless it is already closed. */
export function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource)) throw err;
  }
}
