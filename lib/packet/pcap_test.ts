import assert from "node:assert/strict";
import { MalformedPacketError } from "./errors.ts";
import {
  DEFAULT_SNAPLEN,
  encodePcapFileHeader,
  encodePcapRecord,
  LINKTYPE_ETHERNET,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PcapWriter,
  readPcap,
} from "./pcap.ts";
import { concat } from "../../testing/bytes.ts";

const T1 = 1_700_000_000_123_456_789n;
const T2 = 1_700_000_001_000_000_999n;

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24];
}

/** Byte-swaps the file header and every record header of a little-endian capture. */
function toBigEndian(file: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = file.slice();
  const swap = (offset: number, size: number) => out.subarray(offset, offset + size).reverse();
  swap(0, 4);
  swap(4, 2);
  swap(6, 2);
  for (let o = 8; o < 24; o += 4) swap(o, 4);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let offset = 24; offset < file.length;) {
    const capturedLength = view.getUint32(offset + 8, true);
    for (let o = offset; o < offset + 16; o += 4) swap(o, 4);
    offset += 16 + capturedLength;
  }
  return out;
}

function frameOf(length: number, seed: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(length).map((_, i) => (i * 7 + seed) & 0xff);
}

function assertMalformed(fn: () => unknown, reason: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedPacketError, `expected MalformedPacketError, got ${err}`);
    assert.equal(err.reason, reason);
    assert.equal(err.message, message);
    return true;
  });
}

Deno.test("encodePcapFileHeader() writes a little-endian 2.4 header with nanosecond magic by default", () => {
  assert.deepEqual(
    [...encodePcapFileHeader()],
    [
      0x4d,
      0x3c,
      0xb2,
      0xa1,
      2,
      0,
      4,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...le32(DEFAULT_SNAPLEN),
      1,
      0,
      0,
      0,
    ],
  );
  assert.equal(DEFAULT_SNAPLEN, 262144);
  assert.equal(LINKTYPE_ETHERNET, 1);
});

Deno.test("encodePcapFileHeader() honours microseconds, snaplen and link type", () => {
  const header = encodePcapFileHeader({ nanosecond: false, snaplen: 96, linkType: 101 });
  assert.deepEqual([...header.subarray(0, 4)], [0xd4, 0xc3, 0xb2, 0xa1]);
  assert.deepEqual([...header.subarray(16)], [...le32(96), ...le32(101)]);
  assert.deepEqual([...encodePcapFileHeader({ snaplen: 0xffff_ffff }).subarray(16, 20)], [
    0xff,
    0xff,
    0xff,
    0xff,
  ]);
});

Deno.test("encodePcapFileHeader() rejects snaplens outside 1..2^32-1 and bad link types", () => {
  for (const snaplen of [0, -1, 1.5, 2 ** 32]) {
    assert.throws(() => encodePcapFileHeader({ snaplen }), {
      name: "RangeError",
      message: `Invalid pcap snaplen "${snaplen}": expected an integer from 1 to 4294967295`,
    });
  }
  assert.throws(() => encodePcapFileHeader({ linkType: -1 }), {
    name: "RangeError",
    message: 'Invalid pcap link type "-1": expected an integer from 0 to 4294967295',
  });
});

Deno.test("encodePcapRecord() splits the timestamp into seconds and nanoseconds", () => {
  const frame = frameOf(60, 1);
  const record = encodePcapRecord(frame, T1);
  assert.equal(record.length, 16 + 60);
  assert.deepEqual([...record.subarray(0, 16)], [
    ...le32(1_700_000_000),
    ...le32(123_456_789),
    ...le32(60),
    ...le32(60),
  ]);
  assert.deepEqual(record.subarray(16), frame);
});

Deno.test("encodePcapRecord() truncates microsecond timestamps toward zero", () => {
  const record = encodePcapRecord(frameOf(60, 1), T1, { nanosecond: false });
  assert.deepEqual([...record.subarray(0, 8)], [...le32(1_700_000_000), ...le32(123_456)]);
});

Deno.test("encodePcapRecord() keeps the original length when the snaplen truncates", () => {
  const frame = frameOf(1514, 3);
  const record = encodePcapRecord(frame, T1, { snaplen: 96 });
  assert.equal(record.length, 16 + 96);
  assert.deepEqual([...record.subarray(8, 16)], [...le32(96), ...le32(1514)]);
  assert.deepEqual(record.subarray(16), frame.subarray(0, 96));
  assert.equal(encodePcapRecord(frame, T1, { snaplen: 1514 }).length, 16 + 1514);
  assert.equal(encodePcapRecord(new Uint8Array(0), 0n).length, 16);
});

Deno.test("encodePcapRecord() rejects timestamps outside 32-bit seconds and bad snaplens", () => {
  const frame = frameOf(60, 0);
  for (const ts of [-1n, 2n ** 32n * 1_000_000_000n]) {
    assert.throws(() => encodePcapRecord(frame, ts), {
      name: "RangeError",
      message:
        `Invalid pcap timestamp "${ts}" ns: expected 0 up to 2^32 seconds after the Unix epoch`,
    });
  }
  assert.equal(encodePcapRecord(frame, 2n ** 32n * 1_000_000_000n - 1n).length, 76);
  assert.throws(() => encodePcapRecord(frame, T1, { snaplen: 0 }), RangeError);
});

Deno.test("readPcap() reads back what the encoders write, in both resolutions", () => {
  const a = frameOf(60, 1);
  const b = frameOf(1514, 2);
  for (const nanosecond of [true, false]) {
    const file = concat(
      encodePcapFileHeader({ nanosecond, snaplen: 1000 }),
      encodePcapRecord(a, T1, { snaplen: 1000, nanosecond }),
      encodePcapRecord(b, T2, { snaplen: 1000, nanosecond }),
    );
    const capture = readPcap(file);
    assert.equal(capture.linkType, LINKTYPE_ETHERNET);
    assert.equal(capture.nanosecond, nanosecond);
    assert.equal(capture.littleEndian, true);
    assert.equal(capture.snaplen, 1000);
    assert.equal(capture.records.length, 2);
    const [r1, r2] = capture.records;
    assert.equal(r1?.timestampNs, nanosecond ? T1 : 1_700_000_000_123_456_000n);
    assert.deepEqual(r1?.frame, a);
    assert.equal(r1?.originalLength, 60);
    assert.equal(r2?.timestampNs, nanosecond ? T2 : 1_700_000_001_000_000_000n);
    assert.deepEqual(r2?.frame, b.subarray(0, 1000));
    assert.equal(r2?.originalLength, 1514);
  }
});

Deno.test("readPcap() reads big-endian files with either magic", () => {
  for (const nanosecond of [true, false]) {
    const little = concat(
      encodePcapFileHeader({ nanosecond, snaplen: 128 }),
      encodePcapRecord(frameOf(64, 5), T1, { snaplen: 128, nanosecond }),
    );
    const big = toBigEndian(little);
    assert.deepEqual(
      [...big.subarray(0, 4)],
      nanosecond ? [0xa1, 0xb2, 0x3c, 0x4d] : [0xa1, 0xb2, 0xc3, 0xd4],
    );
    const capture = readPcap(big);
    assert.equal(capture.littleEndian, false);
    assert.equal(capture.nanosecond, nanosecond);
    assert.equal(capture.snaplen, 128);
    assert.equal(capture.linkType, 1);
    assert.deepEqual(capture.records, readPcap(little).records);
  }
  assert.equal(PCAP_MAGIC_MICROSECONDS, 0xa1b2c3d4);
  assert.equal(PCAP_MAGIC_NANOSECONDS, 0xa1b23c4d);
});

Deno.test("readPcap() returns record frames as views into the input", () => {
  const file = concat(encodePcapFileHeader(), encodePcapRecord(frameOf(60, 0), T1));
  const frame = readPcap(file).records[0]!.frame;
  assert.equal(frame.buffer, file.buffer);
  assert.equal(frame.byteOffset, 24 + 16);
});

Deno.test("readPcap() accepts a header-only file and reads files inside larger buffers", () => {
  assert.deepEqual(readPcap(encodePcapFileHeader()).records, []);
  const file = concat(encodePcapFileHeader(), encodePcapRecord(frameOf(60, 9), T1));
  const padded = concat(new Uint8Array(3), file, new Uint8Array(5));
  const capture = readPcap(padded.subarray(3, 3 + file.length));
  assert.equal(capture.records.length, 1);
  assert.deepEqual(capture.records[0]?.frame, frameOf(60, 9));
});

Deno.test("readPcap() masks FCS information out of the link type", () => {
  const file = encodePcapFileHeader();
  file.set(le32(0x1000_0001 | 0x0400_0000), 20); // F bit and a 4-byte FCS length
  assert.equal(readPcap(file).linkType, 1);
});

Deno.test("readPcap() rejects files shorter than the file header", () => {
  for (const length of [0, 4, 23]) {
    assertMalformed(
      () => readPcap(encodePcapFileHeader().subarray(0, length)),
      "truncated_pcap_header",
      `Pcap file too short: ${length} bytes, the file header needs 24`,
    );
  }
});

Deno.test("readPcap() rejects pcapng and unknown magics", () => {
  const pcapng = encodePcapFileHeader();
  pcapng.set([0x0a, 0x0d, 0x0d, 0x0a]);
  assertMalformed(
    () => readPcap(pcapng),
    "pcapng_unsupported",
    'Capture is pcapng, not classic pcap: convert it with "editcap -F pcap IN OUT"',
  );
  const junk = encodePcapFileHeader();
  junk.set([0x12, 0x34, 0x56, 0x78]);
  assertMalformed(
    () => readPcap(junk),
    "bad_pcap_magic",
    'Not a pcap file: magic "0x12345678" is not 0xa1b2c3d4 or 0xa1b23c4d in either byte order',
  );
});

Deno.test("readPcap() rejects major versions other than 2", () => {
  const file = encodePcapFileHeader();
  file.set([1, 0, 0, 0], 4);
  assertMalformed(
    () => readPcap(file),
    "unsupported_pcap_version",
    'Unsupported pcap version "1.0": expected 2.x',
  );
  file.set([2, 0, 3, 0], 4); // 2.3 is what some old writers produce
  assert.equal(readPcap(file).records.length, 0);
});

Deno.test("readPcap() rejects a truncated record header", () => {
  const file = concat(
    encodePcapFileHeader(),
    encodePcapRecord(frameOf(60, 0), T1),
    new Uint8Array(10),
  );
  assertMalformed(
    () => readPcap(file),
    "truncated_pcap_record_header",
    "Pcap record 2 at offset 100 is truncated: its header needs 16 bytes and 10 remain",
  );
});

Deno.test("readPcap() rejects a record whose data is cut off", () => {
  const file = concat(encodePcapFileHeader(), encodePcapRecord(frameOf(60, 0), T1));
  assertMalformed(
    () => readPcap(file.subarray(0, file.length - 1)),
    "truncated_pcap_record",
    "Pcap record 1 at offset 24 is truncated: it holds 60 bytes and 59 remain",
  );
  // An absurd captured length must fail the same way, not read past the buffer.
  file.set(le32(0xffff_ffff), 24 + 8);
  assertMalformed(
    () => readPcap(file),
    "truncated_pcap_record",
    "Pcap record 1 at offset 24 is truncated: it holds 4294967295 bytes and 60 remain",
  );
});

Deno.test("readPcap() rejects sub-second fields beyond the file's resolution", () => {
  const ns = concat(encodePcapFileHeader(), encodePcapRecord(frameOf(60, 0), T1));
  ns.set(le32(1_000_000_000), 24 + 4);
  assertMalformed(
    () => readPcap(ns),
    "bad_pcap_timestamp",
    'Pcap record 1 at offset 24 has sub-second field "1000000000": expected below 1000000000',
  );
  const us = concat(
    encodePcapFileHeader({ nanosecond: false }),
    encodePcapRecord(frameOf(60, 0), T1, { snaplen: 100, nanosecond: false }),
  );
  us.set(le32(999_999), 24 + 4);
  assert.equal(readPcap(us).records[0]?.timestampNs, 1_700_000_000_999_999_000n);
  us.set(le32(1_000_000), 24 + 4);
  assertMalformed(
    () => readPcap(us),
    "bad_pcap_timestamp",
    'Pcap record 1 at offset 24 has sub-second field "1000000": expected below 1000000',
  );
});

Deno.test("PcapWriter writes a file readPcap() decodes, truncating to the snaplen", () => {
  const path = Deno.makeTempFileSync({ prefix: "netkit_pcap_test_", suffix: ".pcap" });
  try {
    const big = frameOf(9000, 4); // larger than the writer's initial buffer
    {
      using pcap = PcapWriter.create(openOutput(path), { snaplen: 9000, name: path });
      assert.equal(pcap.name, path);
      pcap.write(frameOf(60, 1), T1);
      pcap.write(big, T2);
      pcap.write(frameOf(9500, 6), T2 + 1n);
      pcap.write(frameOf(42, 3), T2 + 2n);
      assert.equal(pcap.recordCount, 4);
    }
    const capture = readPcap(Deno.readFileSync(path));
    assert.equal(capture.nanosecond, true);
    assert.equal(capture.snaplen, 9000);
    assert.deepEqual(capture.records.map((r) => r.timestampNs), [T1, T2, T2 + 1n, T2 + 2n]);
    assert.deepEqual(capture.records.map((r) => [r.frame.length, r.originalLength]), [
      [60, 60],
      [9000, 9000],
      [9000, 9500],
      [42, 42],
    ]);
    assert.deepEqual(capture.records[1]?.frame, big);
    assert.deepEqual(capture.records[2]?.frame, frameOf(9500, 6).subarray(0, 9000));
    assert.deepEqual(capture.records[3]?.frame, frameOf(42, 3));
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("PcapWriter stamps frames with the wall clock by default", () => {
  const path = Deno.makeTempFileSync({ prefix: "netkit_pcap_test_", suffix: ".pcap" });
  try {
    const before = BigInt(Date.now()) * 1_000_000n;
    using pcap = PcapWriter.create(openOutput(path), { nanosecond: false });
    pcap.write(frameOf(60, 0));
    pcap.close();
    const after = BigInt(Date.now()) * 1_000_000n;
    const [record] = readPcap(Deno.readFileSync(path)).records;
    // Date.now() has millisecond resolution, so allow 1 ms either side.
    assert.ok(
      record && record.timestampNs >= before - 1_000_000n &&
        record.timestampNs <= after + 1_000_000n,
    );
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("PcapWriter starts with the file header, where the caller's output is", () => {
  const path = Deno.makeTempFileSync({ prefix: "netkit_pcap_test_", suffix: ".pcap" });
  try {
    Deno.writeFileSync(path, new Uint8Array(1000).fill(0xee));
    PcapWriter.create(openOutput(path)).close();
    assert.deepEqual(Deno.readFileSync(path), encodePcapFileHeader());
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("PcapWriter close() is safe to repeat and write() after it throws", () => {
  const path = Deno.makeTempFileSync({ prefix: "netkit_pcap_test_", suffix: ".pcap" });
  try {
    const pcap = PcapWriter.create(openOutput(path), { name: path });
    assert.equal(pcap.closed, false);
    pcap.close();
    pcap.close();
    pcap[Symbol.dispose]();
    assert.equal(pcap.closed, true);
    assert.throws(() => pcap.write(frameOf(60, 0), T1), {
      name: "Error",
      message: `Cannot write to pcap file "${path}": the writer is closed`,
    });
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("PcapWriter rejects an out-of-range timestamp without writing anything", () => {
  const path = Deno.makeTempFileSync({ prefix: "netkit_pcap_test_", suffix: ".pcap" });
  try {
    using pcap = PcapWriter.create(openOutput(path));
    assert.throws(() => pcap.write(frameOf(60, 0), -1n), RangeError);
    assert.equal(pcap.recordCount, 0);
    assert.equal(Deno.statSync(path).size, 24);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("PcapWriter.create() refuses bad options before writing, and closes the output", () => {
  let written = 0;
  let closed = 0;
  const output = {
    writeSync: (bytes: Uint8Array) => (written += bytes.length, bytes.length),
    close: () => void closed++,
  };
  assert.throws(() => PcapWriter.create(output, { snaplen: 0 }), RangeError);
  assert.deepEqual({ written, closed }, { written: 0, closed: 1 });
  PcapWriter.create(output, { snaplen: 64 }).close();
  assert.deepEqual({ written, closed }, { written: 24, closed: 2 });
});

/** The output a caller gives PcapWriter: the test's own temporary file, emptied. */
function openOutput(path: string): Deno.FsFile {
  return Deno.openSync(path, { write: true, truncate: true });
}
