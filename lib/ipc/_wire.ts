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
 * Asks for `delta` more bytes of buffer (a negative `delta` gives bytes back) and says whether
 * they were granted: how a server keeps the buffers of all its connections within one budget.
 */
export type Allot = (delta: number) => boolean;

const grantAll: Allot = () => true;

/** The buffer a {@linkcode LineFramer} starts with and shrinks back to. */
const FRAMER_BASE_BYTES = 4096;

/**
 * Splits incoming bytes into "\n"-terminated lines, refusing any line longer than
 * `maxBytes` (newline not counted) as soon as that is certain, so a client can never make the
 * buffer grow past one message plus one read. Each byte is scanned once, however the stream is
 * chunked: for the newline, and for where an unterminated line could end one JSON value
 * ({@linkcode LineFramer.completeValue}). Growth past the first 4 KiB is asked of `allot`.
 */
export class LineFramer {
  /** The longest accepted line in bytes, newline not counted. */
  readonly maxBytes: number;
  #allot: Allot;
  #buffer = new Uint8Array(FRAMER_BASE_BYTES);
  #start = 0;
  #end = 0;
  // Where to resume the newline search, so each byte is scanned once.
  #scanned = 0;
  #value = new ValueEndScanner();
  #parses = 0;

  /**
   * Creates a framer for lines of at most `maxBytes` bytes; `allot` grants growth of its
   * buffer beyond the first 4 KiB (default: always).
   */
  constructor(maxBytes: number, allot: Allot = grantAll) {
    this.maxBytes = maxBytes;
    this.#allot = allot;
  }

  /** The size of the buffer held, in bytes. */
  get capacity(): number {
    return this.#buffer.length;
  }

  /** Bytes held that are not yet returned as a line. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** How many times {@linkcode completeValue} has parsed the held bytes (for tests). */
  get parses(): number {
    return this.#parses;
  }

  /**
   * Appends received bytes (copied, so the caller may reuse `chunk`). Returns `false`, keeping
   * nothing of `chunk`, when the buffer would have to grow and `allot` refuses.
   */
  push(chunk: Uint8Array): boolean {
    if (chunk.length === 0) return true;
    if (this.#end + chunk.length > this.#buffer.length) {
      const held = this.#end - this.#start;
      const needed = held + chunk.length;
      if (needed > this.#buffer.length) {
        let size = this.#buffer.length;
        while (size < needed) size *= 2;
        // Doubling must not make room for more than one longest line, its newline and this chunk.
        size = Math.max(needed, Math.min(size, this.maxBytes + 1 + chunk.length));
        if (!this.#allot(size - this.#buffer.length)) return false;
        this.#replaceBuffer(size);
      } else {
        this.#buffer.copyWithin(0, this.#start, this.#end);
        this.#moveToFront(held);
      }
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
    return true;
  }

  /**
   * Gives a buffer grown for a large line back (through `allot`) once little is held, so a
   * connection that sent one large request does not keep its buffer.
   */
  shrink(): void {
    const held = this.#end - this.#start;
    if (this.#buffer.length === FRAMER_BASE_BYTES || held > FRAMER_BASE_BYTES / 2) return;
    const released = this.#buffer.length - FRAMER_BASE_BYTES;
    this.#replaceBuffer(FRAMER_BASE_BYTES);
    this.#allot(-released);
  }

  /** Moves the held bytes to the front of a new buffer of `size` bytes. */
  #replaceBuffer(size: number): void {
    const held = this.#end - this.#start;
    const replaced = new Uint8Array(size);
    replaced.set(this.#buffer.subarray(this.#start, this.#end));
    this.#buffer = replaced;
    this.#moveToFront(held);
  }

  /** Rebases the offsets after the `held` bytes moved to the front of the buffer. */
  #moveToFront(held: number): void {
    this.#scanned -= this.#start;
    this.#start = 0;
    this.#end = held;
  }

  /**
   * The next complete line (without its newline, copied), an overflow when the line at the
   * front is or will be longer than `maxBytes`, or `null` when more bytes are needed.
   * After an overflow the stream cannot be resynchronised; the caller should stop reading.
   */
  next(): Frame | null {
    const unscanned = this.#buffer.subarray(this.#scanned, this.#end);
    const at = unscanned.indexOf(NEWLINE);
    if (at === -1) {
      this.#value.feed(unscanned);
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
    this.#value = new ValueEndScanner();
    return { kind: "line", bytes };
  }

  /**
   * Removes and returns the unterminated rest when it already forms one complete JSON value,
   * for one-shot clients that send no newline; `null` otherwise. A value ending in a digit
   * waits, as more digits may follow. Call after {@linkcode next} returned `null`. The held
   * bytes are parsed only when the bytes scanned since the last call could end a value, at
   * most a few times per line, so a large request in small chunks costs linear time.
   */
  completeValue(): Decoded | null {
    if (!this.#value.takeCandidate()) return null;
    this.#parses++;
    const decoded = decodeJson(this.#buffer.subarray(this.#start, this.#end));
    if (!decoded.ok) {
      this.#value.parseFailed();
      return null;
    }
    this.takeRest();
    return decoded;
  }

  /** The bytes held after the last complete line, without removing them. */
  peekRest(): Uint8Array {
    return this.#buffer.subarray(this.#start, this.#end);
  }

  /** Removes and returns the bytes held after the last complete line. */
  takeRest(): Uint8Array {
    const rest = this.#buffer.slice(this.#start, this.#end);
    this.#start = this.#end = this.#scanned = 0;
    this.#value = new ValueEndScanner();
    return rest;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x7b, 0x5b]); // { [
const CLOSERS = new Set([0x7d, 0x5d]); // } ]
/** `true`, `false` and `null` end in `e` or `l` and are at most 5 bytes long. */
const LITERAL_ENDS = new Set([0x65, 0x6c]);
const LONGEST_LITERAL = 5;

function isJsonSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

/**
 * Follows the nesting of one unterminated line, byte by byte, to say when it may hold one
 * complete JSON value: when a top-level object, array or string closes (the first time only:
 * if that does not parse, no longer input can), or when a short top-level literal may be whole.
 */
class ValueEndScanner {
  #depth = 0;
  #inString = false;
  #escaped = false;
  #nonBlank = 0;
  #candidate = false;
  #closed = false;
  // Set when no longer input can be one JSON value: only the newline or end of input ends it.
  #hopeless = false;

  feed(bytes: Uint8Array): void {
    if (this.#hopeless) return;
    for (const b of bytes) {
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (b === BACKSLASH) this.#escaped = true;
        else if (b === QUOTE) {
          this.#inString = false;
          if (this.#depth === 0) this.#close();
        }
        continue;
      }
      if (isJsonSpace(b)) continue;
      this.#nonBlank++;
      if (b === QUOTE) this.#inString = true;
      else if (OPENERS.has(b)) this.#depth++;
      else if (CLOSERS.has(b)) {
        this.#depth--;
        if (this.#depth < 0) this.#hopeless = true;
        else if (this.#depth === 0) this.#close();
      } else if (
        this.#depth === 0 && !this.#closed && this.#nonBlank <= LONGEST_LITERAL &&
        LITERAL_ENDS.has(b)
      ) {
        this.#candidate = true;
      }
      if (this.#hopeless) return;
    }
  }

  #close(): void {
    if (this.#closed) {
      // A second top-level value after the first: the line is not one value.
      this.#hopeless = true;
      this.#candidate = false;
      return;
    }
    this.#closed = true;
    this.#candidate = true;
  }

  /** Whether a parse is worth trying for the bytes fed so far; true at most once per event. */
  takeCandidate(): boolean {
    const candidate = this.#candidate && !this.#hopeless;
    this.#candidate = false;
    return candidate;
  }

  /** The candidate did not parse: if it closed a container or string, no longer input will. */
  parseFailed(): void {
    if (this.#closed) this.#hopeless = true;
  }
}

/** True when `bytes` holds only JSON whitespace (blank lines are not requests). */
export function isBlank(bytes: Uint8Array): boolean {
  return bytes.every(isJsonSpace);
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
 * whenever a read fills it and `allot` grants the growth: a large message then arrives in a
 * few reads instead of dozens. Refused growth only means smaller reads.
 */
export class ReadBuffer {
  #bytes = new Uint8Array(FIRST_READ_BYTES);
  #allot: Allot;

  /** Creates the buffer; `allot` grants growth beyond 64 KiB (default: always). */
  constructor(allot: Allot = grantAll) {
    this.#allot = allot;
  }

  /** Where the next read goes. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The `n` bytes the last read put into {@linkcode bytes}; valid until the next read. */
  filled(n: number): Uint8Array {
    const got = this.#bytes.subarray(0, n);
    if (n === this.#bytes.length && n < MAX_READ_BYTES && this.#allot(n * 3)) {
      this.#bytes = new Uint8Array(n * 4);
    }
    return got;
  }

  /** Returns to 64 KiB, giving the growth back through `allot`. */
  shrink(): void {
    if (this.#bytes.length === FIRST_READ_BYTES) return;
    this.#allot(FIRST_READ_BYTES - this.#bytes.length);
    this.#bytes = new Uint8Array(FIRST_READ_BYTES);
  }
}

/**
 * A reply already encoded as JSON text (one line), sent as is. For replies assembled from parts
 * the daemon keeps encoded, such as thousands of routes.
 */
export class JsonText {
  /** `text` must be one JSON value with no newline: it is sent unchecked. */
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

// Built on first use: building zod schemas costs a client command 1-2 ms of its start
// (bench/cli.ts), and one that finds no daemon never checks a reply.
const errorReplySchema = z.lazy(() =>
  z.object({ status: z.literal("error"), message: z.string() })
);

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
