/**
 * Classic libpcap capture files: pure encoders, a pure reader, and {@linkcode PcapWriter} for
 * writing captures Wireshark and tshark open directly to an output its caller opened (netkit opens
 * files with `lib/net/safe_file.ts`; this module does no file I/O of its own).
 *
 * We write little-endian files, version 2.4, with nanosecond timestamps by default (magic
 * 0xa1b23c4d). The reader accepts microsecond and nanosecond files in either byte order.
 *
 * @example Write a capture, then read it back
 * ```ts
 * import { PcapWriter, readPcap } from "./pcap.ts";
 *
 * const path = Deno.makeTempFileSync({ suffix: ".pcap" });
 * {
 *   using pcap = PcapWriter.create(Deno.openSync(path, { write: true, truncate: true }));
 *   pcap.write(new Uint8Array(60), 1_700_000_000_123_456_789n);
 * }
 * const capture = readPcap(Deno.readFileSync(path));
 * capture.records[0]?.timestampNs; // 1_700_000_000_123_456_789n
 * ```
 *
 * @module
 */

import { MalformedPacketError } from "./errors.ts";

/** File magic for microsecond timestamps. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
/** File magic for nanosecond timestamps. */
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** Link type of Ethernet frames (without FCS). */
export const LINKTYPE_ETHERNET = 1;
/** Length of the pcap file header. */
export const PCAP_FILE_HEADER_LEN = 24;
/** Length of each record's header. */
export const PCAP_RECORD_HEADER_LEN = 16;
/** Default snapshot length, as tcpdump uses: large enough for any Ethernet frame. */
export const DEFAULT_SNAPLEN = 262144;

const PCAPNG_MAGIC = 0x0a0d0d0a;
const NS_PER_SECOND = 1_000_000_000n;
// Record timestamps carry unsigned 32-bit seconds.
const MAX_TIMESTAMP_NS = 0x1_0000_0000n * NS_PER_SECOND;
// libpcap's LT_LINKTYPE(): the upper bits of the link-type field carry FCS information.
const LINKTYPE_MASK = 0x03ff_ffff;

/** Options for the file header. */
export interface PcapFileOptions {
  /** Longest frame prefix stored per record, 1..2^32-1 (default 262144). */
  snaplen?: number;
  /** Nanosecond timestamps (default true); false writes microseconds. */
  nanosecond?: boolean;
  /** Link type of every record (default {@linkcode LINKTYPE_ETHERNET}). */
  linkType?: number;
}

/** One captured frame. */
export interface PcapRecord {
  /** Capture time in nanoseconds since the Unix epoch. */
  timestampNs: bigint;
  /** The captured bytes, at most the snapshot length; a view into the file's bytes. */
  frame: Uint8Array;
  /** The frame's length on the wire, which may exceed `frame.length`. */
  originalLength: number;
}

/** A decoded capture file. */
export interface PcapCapture {
  /** Link type of the records, e.g. {@linkcode LINKTYPE_ETHERNET}. */
  linkType: number;
  /** Whether the file stores nanosecond (rather than microsecond) timestamps. */
  nanosecond: boolean;
  /** Whether the file is little endian. */
  littleEndian: boolean;
  /** The snapshot length from the file header. */
  snaplen: number;
  /** The records in file order. */
  records: PcapRecord[];
}

function checkUint32(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min || value > 0xffff_ffff) {
    throw new RangeError(
      `Invalid ${what} "${value}": expected an integer from ${min} to ${0xffff_ffff}`,
    );
  }
}

function checkTimestamp(timestampNs: bigint): void {
  if (timestampNs < 0n || timestampNs >= MAX_TIMESTAMP_NS) {
    throw new RangeError(
      `Invalid pcap timestamp "${timestampNs}" ns: expected 0 up to 2^32 seconds after the Unix epoch`,
    );
  }
}

/**
 * Writes a record header at `offset`; the caller has validated arguments and bounds.
 * Microsecond files truncate the sub-microsecond part, as libpcap does.
 */
function writeRecordHeader(
  view: DataView,
  offset: number,
  timestampNs: bigint,
  capturedLength: number,
  originalLength: number,
  nanosecond: boolean,
): void {
  const fractionNs = Number(timestampNs % NS_PER_SECOND);
  view.setUint32(offset, Number(timestampNs / NS_PER_SECOND), true);
  view.setUint32(offset + 4, nanosecond ? fractionNs : Math.floor(fractionNs / 1000), true);
  view.setUint32(offset + 8, capturedLength, true);
  view.setUint32(offset + 12, originalLength, true);
}

/**
 * Encodes a little-endian pcap file header, version 2.4, for `linkType` (default Ethernet).
 * Throws a `RangeError` for a snaplen outside 1..2^32-1 or a link type outside 0..2^32-1.
 *
 * @example
 * ```ts
 * import { encodePcapFileHeader } from "./pcap.ts";
 *
 * const header = encodePcapFileHeader({ nanosecond: false }); // 24 bytes, magic d4 c3 b2 a1
 * ```
 */
export function encodePcapFileHeader(options: PcapFileOptions = {}): Uint8Array<ArrayBuffer> {
  const { snaplen = DEFAULT_SNAPLEN, nanosecond = true, linkType = LINKTYPE_ETHERNET } = options;
  checkUint32(snaplen, 1, "pcap snaplen");
  checkUint32(linkType, 0, "pcap link type");
  const header = new Uint8Array(PCAP_FILE_HEADER_LEN);
  const view = new DataView(header.buffer);
  view.setUint32(0, nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  // Bytes 8..16 (time zone offset, timestamp accuracy) stay zero, as every modern writer does.
  view.setUint32(16, snaplen, true);
  view.setUint32(20, linkType, true);
  return header;
}

/**
 * Encodes one record: its header and the first `snaplen` bytes of `frame`, keeping
 * `frame.length` as the original length. `options` must match the file header's.
 * Throws a `RangeError` for a timestamp before 1970 or past 2106, or a bad snaplen.
 *
 * @example
 * ```ts
 * import { encodePcapRecord } from "./pcap.ts";
 *
 * const record = encodePcapRecord(new Uint8Array(1514), 1_700_000_000_000_000_000n, { snaplen: 96 });
 * record.length; // 16 + 96
 * ```
 */
export function encodePcapRecord(
  frame: Uint8Array,
  timestampNs: bigint,
  options: Pick<PcapFileOptions, "snaplen" | "nanosecond"> = {},
): Uint8Array<ArrayBuffer> {
  const { snaplen = DEFAULT_SNAPLEN, nanosecond = true } = options;
  checkUint32(snaplen, 1, "pcap snaplen");
  checkTimestamp(timestampNs);
  const capturedLength = Math.min(frame.length, snaplen);
  const record = new Uint8Array(PCAP_RECORD_HEADER_LEN + capturedLength);
  writeRecordHeader(
    new DataView(record.buffer),
    0,
    timestampNs,
    capturedLength,
    frame.length,
    nanosecond,
  );
  record.set(frame.subarray(0, capturedLength), PCAP_RECORD_HEADER_LEN);
  return record;
}

/**
 * Decodes a classic pcap file held in memory: microsecond or nanosecond magic, either byte
 * order. Record frames are views into `bytes`. Throws {@linkcode MalformedPacketError} with
 * reason `"truncated_pcap_header"`, `"pcapng_unsupported"`, `"bad_pcap_magic"`,
 * `"unsupported_pcap_version"`, `"truncated_pcap_record_header"`, `"truncated_pcap_record"` or
 * `"bad_pcap_timestamp"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodePcapFileHeader, encodePcapRecord, LINKTYPE_ETHERNET, readPcap } from "./pcap.ts";
 *
 * // Normally the bytes of a file (Deno.readFileSync); here one written in memory.
 * const file = new Uint8Array([
 *   ...encodePcapFileHeader(),
 *   ...encodePcapRecord(new Uint8Array(60), 1_700_000_000_000_000_000n),
 * ]);
 * const capture = readPcap(file);
 * if (capture.linkType !== LINKTYPE_ETHERNET) throw new Error("not an Ethernet capture");
 * for (const { frame } of capture.records) assert.equal(frame.length, 60);
 * ```
 */
export function readPcap(bytes: Uint8Array): PcapCapture {
  if (bytes.length < PCAP_FILE_HEADER_LEN) {
    throw new MalformedPacketError(
      "truncated_pcap_header",
      `Pcap file too short: ${bytes.length} bytes, the file header needs ${PCAP_FILE_HEADER_LEN}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicLe = view.getUint32(0, true);
  const magicBe = view.getUint32(0, false);
  let littleEndian: boolean;
  if (magicLe === PCAP_MAGIC_MICROSECONDS || magicLe === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = true;
  } else if (magicBe === PCAP_MAGIC_MICROSECONDS || magicBe === PCAP_MAGIC_NANOSECONDS) {
    littleEndian = false;
  } else if (magicLe === PCAPNG_MAGIC) {
    throw new MalformedPacketError(
      "pcapng_unsupported",
      `Capture is pcapng, not classic pcap: convert it with "editcap -F pcap IN OUT"`,
    );
  } else {
    throw new MalformedPacketError(
      "bad_pcap_magic",
      `Not a pcap file: magic "0x${
        magicBe.toString(16).padStart(8, "0")
      }" is not 0xa1b2c3d4 or 0xa1b23c4d in either byte order`,
    );
  }
  const le = littleEndian;
  const nanosecond = view.getUint32(0, le) === PCAP_MAGIC_NANOSECONDS;
  const major = view.getUint16(4, le);
  if (major !== 2) {
    throw new MalformedPacketError(
      "unsupported_pcap_version",
      `Unsupported pcap version "${major}.${view.getUint16(6, le)}": expected 2.x`,
    );
  }
  const fractionLimit = nanosecond ? 1_000_000_000 : 1_000_000;
  const fractionScale = nanosecond ? 1n : 1000n;
  const records: PcapRecord[] = [];
  let offset = PCAP_FILE_HEADER_LEN;
  while (offset < bytes.length) {
    const index = records.length + 1;
    const remaining = bytes.length - offset - PCAP_RECORD_HEADER_LEN;
    if (remaining < 0) {
      throw new MalformedPacketError(
        "truncated_pcap_record_header",
        `Pcap record ${index} at offset ${offset} is truncated: its header needs ${PCAP_RECORD_HEADER_LEN} bytes and ${
          bytes.length - offset
        } remain`,
      );
    }
    const seconds = view.getUint32(offset, le);
    const fraction = view.getUint32(offset + 4, le);
    const capturedLength = view.getUint32(offset + 8, le);
    const originalLength = view.getUint32(offset + 12, le);
    if (fraction >= fractionLimit) {
      throw new MalformedPacketError(
        "bad_pcap_timestamp",
        `Pcap record ${index} at offset ${offset} has sub-second field "${fraction}": expected below ${fractionLimit}`,
      );
    }
    if (capturedLength > remaining) {
      throw new MalformedPacketError(
        "truncated_pcap_record",
        `Pcap record ${index} at offset ${offset} is truncated: it holds ${capturedLength} bytes and ${remaining} remain`,
      );
    }
    const start = offset + PCAP_RECORD_HEADER_LEN;
    records.push({
      timestampNs: BigInt(seconds) * NS_PER_SECOND + BigInt(fraction) * fractionScale,
      frame: bytes.subarray(start, start + capturedLength),
      originalLength,
    });
    offset = start + capturedLength;
  }
  return {
    linkType: view.getUint32(20, le) & LINKTYPE_MASK,
    nanosecond,
    littleEndian,
    snaplen: view.getUint32(16, le),
    records,
  };
}

/** The wall clock in nanoseconds since the Unix epoch, to sub-microsecond precision. */
function wallClockNs(): bigint {
  const ms = performance.timeOrigin + performance.now();
  const wholeMs = Math.floor(ms);
  return BigInt(wholeMs) * 1_000_000n + BigInt(Math.floor((ms - wholeMs) * 1e6));
}

/** Where a {@linkcode PcapWriter} writes, e.g. a `Deno.FsFile` opened for writing. */
export interface PcapOutput {
  /** Writes some of `bytes`, returning how many. */
  writeSync(bytes: Uint8Array): number;
  /** Closes the output. */
  close(): void;
}

/** Options of {@linkcode PcapWriter.create}. */
export interface PcapWriterOptions extends PcapFileOptions {
  /** What messages call the output, e.g. its path (default `"pcap output"`). */
  name?: string;
}

/**
 * Writes frames to a classic pcap output as they come, one `write` system call per frame. The
 * caller opens the output (a new or truncated file); the writer owns it from then on.
 *
 * @example
 * ```ts
 * import { PcapWriter } from "./pcap.ts";
 *
 * const path = Deno.makeTempFileSync({ suffix: ".pcap" });
 * using pcap = PcapWriter.create(Deno.openSync(path, { write: true }), { snaplen: 128, name: path });
 * pcap.write(new Uint8Array(60)); // stamped with the current wall clock
 * ```
 */
export class PcapWriter implements Disposable {
  #output: PcapOutput | null;
  readonly #name: string;
  readonly #snaplen: number;
  readonly #nanosecond: boolean;
  // Reused record buffer, so each frame costs one write system call and no new buffer.
  #scratch = new Uint8Array(2048);
  #scratchView = new DataView(this.#scratch.buffer);
  #records = 0;

  private constructor(output: PcapOutput, name: string, snaplen: number, nanosecond: boolean) {
    this.#output = output;
    this.#name = name;
    this.#snaplen = snaplen;
    this.#nanosecond = nanosecond;
  }

  /**
   * Takes ownership of `output` and writes the file header to it. Throws a `RangeError` for bad
   * options (before writing anything) and whatever the output throws; either way `output` is
   * closed.
   */
  static create(output: PcapOutput, options: PcapWriterOptions = {}): PcapWriter {
    let header: Uint8Array;
    try {
      header = encodePcapFileHeader(options);
    } catch (err) {
      output.close();
      throw err;
    }
    const writer = new PcapWriter(
      output,
      options.name ?? "pcap output",
      options.snaplen ?? DEFAULT_SNAPLEN,
      options.nanosecond ?? true,
    );
    try {
      writer.#writeAll(header);
    } catch (err) {
      writer.close();
      throw err;
    }
    return writer;
  }

  /** What messages call the output: {@linkcode PcapWriterOptions.name}. */
  get name(): string {
    return this.#name;
  }

  /** How many records have been written. */
  get recordCount(): number {
    return this.#records;
  }

  /** Whether {@linkcode PcapWriter.close} has been called. */
  get closed(): boolean {
    return this.#output === null;
  }

  /**
   * Appends `frame`, truncated to the snaplen, stamped `timestampNs` (nanoseconds since the
   * Unix epoch; default now). Throws if the writer is closed or the timestamp is out of range.
   */
  write(frame: Uint8Array, timestampNs: bigint = wallClockNs()): void {
    if (this.#output === null) {
      throw new Error(`Cannot write to pcap file "${this.#name}": the writer is closed`);
    }
    checkTimestamp(timestampNs);
    const capturedLength = Math.min(frame.length, this.#snaplen);
    const length = PCAP_RECORD_HEADER_LEN + capturedLength;
    if (this.#scratch.length < length) {
      this.#scratch = new Uint8Array(Math.max(length, 2 * this.#scratch.length));
      this.#scratchView = new DataView(this.#scratch.buffer);
    }
    const scratch = this.#scratch;
    writeRecordHeader(
      this.#scratchView,
      0,
      timestampNs,
      capturedLength,
      frame.length,
      this.#nanosecond,
    );
    scratch.set(frame.subarray(0, capturedLength), PCAP_RECORD_HEADER_LEN);
    this.#writeAll(scratch.subarray(0, length));
    this.#records++;
  }

  /** Closes the output; safe to call more than once. */
  close(): void {
    const output = this.#output;
    this.#output = null;
    output?.close();
  }

  /** Closes the output, as {@linkcode PcapWriter.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #writeAll(bytes: Uint8Array): void {
    // writeSync may write less than asked; loop until everything is on disk.
    let written = 0;
    while (written < bytes.length) written += this.#output!.writeSync(bytes.subarray(written));
  }
}
