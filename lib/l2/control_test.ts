// deno-lint-ignore-file camelcase
import assert from "node:assert/strict";
import {
  type ControlMessage,
  ControlProtocolError,
  ControlReader,
  ControlWriter,
  encodeControl,
  type Hello,
  MAX_CONTROL_MESSAGE,
  MAX_STATS_ENTRIES,
  parseControl,
  type Welcome,
} from "./control.ts";
import { concat } from "../../testing/bytes.ts";

const HELLO: Hello = {
  v: 1,
  type: "hello",
  role: "client",
  credential: `nk1:LAN42:alice:${"Ab-_".repeat(10)}xyz`,
  mac: "02:00:00:AA:bb:01",
  budget: 1400,
  sw: "netkit/0.1.0",
  resume: "tok-1",
};

const WELCOME: Welcome = {
  v: 1,
  type: "welcome",
  seq: 1,
  room_id: 0x1_0002,
  peer_id: 3,
  frame_max: 1392,
  tap_mtu: 1378,
  gateway: { present: true, peer_id: 1, mac: "02:00:00:00:00:0a" },
  peers: [{ peer_id: 1, role: "gateway", mac: "02:00:00:00:00:0a" }, {
    peer_id: 2,
    role: "client",
    mac: "02:00:00:00:00:02",
  }],
  stats_interval_ms: 10_000,
  cam_refresh_ms: 60_000,
  resume: "tok-3",
  resume_window_ms: 120_000,
  resumed: false,
};

/** One valid sample of every message type. */
const SAMPLES: ControlMessage[] = [
  HELLO,
  WELCOME,
  { v: 1, type: "reject", seq: 1, code: "room_full", reason: 'Room "LAN42" is full' },
  { v: 1, type: "peer_joined", seq: 2, peer_id: 4, role: "client", mac: "02:00:00:00:00:04" },
  { v: 1, type: "peer_left", seq: 3, peer_id: 4, reason: "timeout" },
  {
    v: 1,
    type: "stats",
    frames_to_relay: 10,
    frames_from_relay: 20,
    datagrams_in: 21,
    bytes_to_relay: 1000,
    bytes_from_relay: 2000,
    malformed: 1,
    seq_gaps: 2,
    dropped: { jumbo: 1, l2_control: 3 },
  },
  {
    v: 1,
    type: "stats",
    id: 0xffff_ffff,
    frames_to_relay: 1,
    frames_from_relay: 2,
    datagrams_in: 2,
    bytes_to_relay: 100,
    bytes_from_relay: 200,
    malformed: 0,
    seq_gaps: 0,
    dropped: {},
    counters: { lan_frames: 5, gso_frames: 1 },
  },
  { v: 1, type: "stats_request", id: 7 },
  { v: 1, type: "disconnect", reason: "signal", text: "SIGTERM" },
  { v: 1, type: "disconnect", seq: 9, reason: "shutdown", text: "Relay is exiting" },
  { v: 1, type: "error", seq: 4, code: "internal", text: "Oops", fatal: false },
  { v: 1, type: "ping", nonce: 0xffff_ffff, t: 12.5 },
  { v: 1, type: "pong", seq: 5, nonce: 7, t: 1_700_000_000_000 },
];

const encoder = new TextEncoder();

/** A length-prefixed body built from raw JSON text or bytes, bypassing encodeControl. */
function frame(body: string | Uint8Array): Uint8Array {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** A stream that delivers `chunks` and then ends (unless `end` is false). */
function streamOf(chunks: Uint8Array[], end = true): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (end) controller.close();
    },
  });
}

/** Splits `bytes` into chunks of `size` bytes. */
function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

async function readAll(reader: ControlReader): Promise<ControlMessage[]> {
  const messages: ControlMessage[] = [];
  for (let m = await reader.read(); m !== null; m = await reader.read()) messages.push(m);
  return messages;
}

function parseText(text: string): ControlMessage | null {
  return parseControl(encoder.encode(text));
}

function assertProtocolError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ControlProtocolError, `not a ControlProtocolError: ${err}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

Deno.test("encodeControl prefixes the JSON with its big-endian u32 length", () => {
  const ping: ControlMessage = { v: 1, type: "ping", nonce: 1, t: 2 };
  const bytes = encodeControl(ping);
  const json = JSON.stringify(ping);
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 0, json.length]);
  assert.equal(new TextDecoder().decode(bytes.subarray(4)), json);
});

Deno.test("encodeControl throws a RangeError for JSON over 65536 bytes", () => {
  const big: ControlMessage = {
    v: 1,
    type: "disconnect",
    reason: "error",
    text: "x".repeat(70_000),
  };
  const size = JSON.stringify(big).length;
  assert.throws(() => encodeControl(big), {
    name: "RangeError",
    message: `Control message of ${size} bytes exceeds 65536`,
  });
});

Deno.test("encodeControl accepts JSON of exactly 65536 bytes", () => {
  const base: ControlMessage = { v: 1, type: "disconnect", reason: "error", text: "" };
  const text = "x".repeat(MAX_CONTROL_MESSAGE - JSON.stringify(base).length);
  const bytes = encodeControl({ ...base, text });
  assert.equal(bytes.length, 4 + MAX_CONTROL_MESSAGE);
});

Deno.test("every message type survives encodeControl and ControlReader unchanged", async () => {
  const reader = new ControlReader(streamOf(SAMPLES.map(encodeControl)));
  assert.deepEqual(await readAll(reader), SAMPLES);
});

Deno.test("ControlReader reassembles messages split across chunks of any size", async () => {
  const bytes = concat(...SAMPLES.map(encodeControl));
  for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
    const reader = new ControlReader(streamOf(split(bytes, size)));
    assert.deepEqual(await readAll(reader), SAMPLES, `chunks of ${size} bytes`);
  }
});

Deno.test("ControlReader reads several messages from one chunk", async () => {
  const reader = new ControlReader(streamOf([concat(...SAMPLES.map(encodeControl))]));
  assert.deepEqual(await readAll(reader), SAMPLES);
});

Deno.test("ControlReader reassembles a 64 KiB message sent one byte per chunk", async () => {
  const big: ControlMessage = { v: 1, type: "disconnect", reason: "error", text: "" };
  const text = "é".repeat((MAX_CONTROL_MESSAGE - JSON.stringify(big).length) / 2);
  const message = { ...big, text };
  const bytes = encodeControl(message);
  assert.equal(bytes.length, 4 + MAX_CONTROL_MESSAGE);
  const reader = new ControlReader(streamOf(split(bytes, 1)));
  assert.deepEqual(await reader.read(), message);
  assert.equal(await reader.read(), null);
});

Deno.test("ControlReader skips empty chunks", async () => {
  const bytes = encodeControl(HELLO);
  const empty = new Uint8Array(0);
  const reader = new ControlReader(
    streamOf([empty, bytes.subarray(0, 2), empty, bytes.subarray(2), empty]),
  );
  assert.deepEqual(await readAll(reader), [HELLO]);
});

Deno.test("ControlReader returns null for a stream that ends before any message", async () => {
  const reader = new ControlReader(streamOf([]));
  assert.equal(await reader.read(), null);
  assert.equal(await reader.read(), null);
});

Deno.test("ControlReader throws for a stream that ends inside the length prefix", async () => {
  const reader = new ControlReader(streamOf([encodeControl(HELLO).subarray(0, 3)]));
  await assert.rejects(reader.read(), {
    name: "ControlProtocolError",
    message: "Control stream ended inside a length prefix: 3 of 4 bytes",
  });
});

Deno.test("ControlReader throws for a stream that ends inside a message body", async () => {
  const bytes = encodeControl(HELLO);
  const reader = new ControlReader(streamOf([encodeControl(WELCOME), bytes.subarray(0, 14)]));
  assert.deepEqual(await reader.read(), WELCOME);
  await assert.rejects(reader.read(), {
    name: "ControlProtocolError",
    message: `Control stream ended inside a message: 10 of ${bytes.length - 4} bytes`,
  });
});

Deno.test("ControlReader rejects a length of 0", async () => {
  const reader = new ControlReader(streamOf([new Uint8Array(4), encodeControl(HELLO)]));
  await assert.rejects(reader.read(), {
    name: "ControlProtocolError",
    message: "Control message of 0 bytes: a length must be 1 to 65536",
  });
});

Deno.test("ControlReader rejects a length over 65536 without waiting for the body", async () => {
  // The stream stays open: the reader must not wait for 65537 bytes that never come.
  const reader = new ControlReader(streamOf([new Uint8Array([0, 1, 0, 1])], false));
  await assert.rejects(reader.read(), {
    name: "ControlProtocolError",
    message: "Control message of 65537 bytes exceeds 65536",
  });
  await reader.cancel();
});

Deno.test("ControlReader rejects a length prefix with the top bit set as oversize", async () => {
  const reader = new ControlReader(streamOf([new Uint8Array([0xff, 0xff, 0xff, 0xff])]));
  await assert.rejects(reader.read(), {
    message: "Control message of 4294967295 bytes exceeds 65536",
  });
});

Deno.test("ControlReader skips a message of an unknown type", async () => {
  const unknown = frame('{"v":1,"type":"future_thing","x":[1,2]}');
  const reader = new ControlReader(streamOf([unknown, encodeControl(HELLO), unknown]));
  assert.deepEqual(await readAll(reader), [HELLO]);
});

Deno.test("ControlReader throws the schema error of an invalid message", async () => {
  const reader = new ControlReader(
    streamOf([frame(JSON.stringify({ ...WELCOME, peer_id: 0 })), encodeControl(HELLO)]),
  );
  await assert.rejects(reader.read(), {
    name: "ControlProtocolError",
    message: /^Invalid "welcome" message: "peer_id": /,
  });
});

Deno.test("ControlReader.cancel cancels the stream, is safe twice, and ends reading", async () => {
  let cancelled = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encodeControl(HELLO).subarray(0, 6));
    },
    cancel() {
      cancelled++;
    },
  });
  const reader = new ControlReader(stream);
  const pending = reader.read();
  await reader.cancel();
  await reader.cancel();
  assert.equal(await pending, null);
  assert.equal(await reader.read(), null);
  assert.equal(cancelled, 1);
  assert.equal(stream.locked, false);
});

Deno.test("ControlReader refuses a second read while one is pending", async () => {
  const reader = new ControlReader(streamOf([], false));
  const first = reader.read();
  await assert.rejects(reader.read(), /another read is pending/);
  await reader.cancel();
  assert.equal(await first, null);
});

Deno.test("ControlReader passes a stream error through", async () => {
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.error(new Error("stream reset"));
    },
  });
  await assert.rejects(new ControlReader(stream).read(), { message: "stream reset" });
});

Deno.test("parseControl rejects invalid UTF-8", () => {
  assertProtocolError(
    () => parseControl(new Uint8Array([0x7b, 0xff, 0x7d])),
    "Control message is not valid UTF-8",
  );
});

Deno.test("parseControl rejects invalid JSON", () => {
  assertProtocolError(() => parseText('{"v":1,'), /^Control message is not valid JSON: /);
});

Deno.test("parseControl rejects JSON that is not an object", () => {
  for (const text of ["[1]", "null", "1", '"hello"']) {
    assertProtocolError(() => parseText(text), "Control message is not a JSON object");
  }
});

Deno.test("parseControl rejects a missing or wrong version", () => {
  assertProtocolError(
    () => parseText('{"v":2,"type":"ping","nonce":1,"t":1}'),
    'Control message has version 2: expected "v": 1',
  );
  assertProtocolError(
    () => parseText('{"v":"1","type":"ping","nonce":1,"t":1}'),
    'Control message has version "1": expected "v": 1',
  );
  assertProtocolError(
    () => parseText('{"type":"ping","nonce":1,"t":1}'),
    'Control message has version (none): expected "v": 1',
  );
});

Deno.test("parseControl rejects a message without a type string", () => {
  assertProtocolError(() => parseText('{"v":1}'), 'Control message has no "type" string');
  assertProtocolError(() => parseText('{"v":1,"type":7}'), 'Control message has no "type" string');
});

Deno.test("parseControl returns null for unknown types, including Object.prototype names", () => {
  assert.equal(parseText('{"v":1,"type":"relay_gossip"}'), null);
  assert.equal(parseText('{"v":1,"type":"constructor"}'), null);
  assert.equal(parseText('{"v":1,"type":"__proto__"}'), null);
  assert.equal(parseText('{"v":1,"type":"toString"}'), null);
});

Deno.test("parseControl drops unknown fields of a known type", () => {
  const parsed = parseText(JSON.stringify({ ...HELLO, future_field: { x: 1 } }));
  assert.deepEqual(parsed, HELLO);
});

Deno.test("parseControl requires tap_mtu to be frame_max - 14", () => {
  assertProtocolError(
    () => parseText(JSON.stringify({ ...WELCOME, tap_mtu: 1500 })),
    'Invalid "welcome" message: "tap_mtu": Expected frame_max - 14 = 1378, got 1500',
  );
});

Deno.test("parseControl requires a unicast, nonzero MAC in hello", () => {
  assertProtocolError(
    () => parseText(JSON.stringify({ ...HELLO, mac: "03:00:00:00:00:01" })),
    'Invalid "hello" message: "mac": Expected a unicast MAC address: the group bit of the first octet is set',
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...HELLO, mac: "00:00:00:00:00:00" })),
    'Invalid "hello" message: "mac": Expected a nonzero MAC address',
  );
});

Deno.test("parseControl reports one issue for a MAC that is not colon-separated hex", () => {
  for (
    const mac of ["02-00-00-00-00-01", "0200.0000.0001", "02:00:00:00:00", "zz:00:00:00:00:01"]
  ) {
    assertProtocolError(
      () => parseText(JSON.stringify({ ...HELLO, mac })),
      'Invalid "hello" message: "mac": Expected a MAC address like 02:00:00:00:00:01',
    );
  }
});

Deno.test("parseControl checks credentials and budgets in hello", () => {
  assertProtocolError(
    () => parseText(JSON.stringify({ ...HELLO, credential: "nk1:lan42:alice:x" })),
    'Invalid "hello" message: "credential": Expected nk1:ROOM:NAME:SECRET',
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...HELLO, credential: undefined })),
    /^Invalid "hello" message: "credential": /,
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...HELLO, budget: 63 })),
    /^Invalid "hello" message: "budget": /,
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...HELLO, budget: 65536 })),
    /^Invalid "hello" message: "budget": /,
  );
  assert.deepEqual(parseText(JSON.stringify({ ...HELLO, budget: 64 })), { ...HELLO, budget: 64 });
});

Deno.test("parseControl names nested fields of an invalid message", () => {
  const peers = [{ peer_id: 65535, role: "client", mac: "02:00:00:00:00:02" }];
  assertProtocolError(
    () => parseText(JSON.stringify({ ...WELCOME, peers })),
    /^Invalid "welcome" message: "peers\[0\]\.peer_id": /,
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...SAMPLES[5], dropped: { jumbo: -1 } })),
    /^Invalid "stats" message: "dropped\.jumbo": /,
  );
});

Deno.test("parseControl requires a positive integer seq on relay messages", () => {
  for (const seq of [0, 1.5, -1, "1"]) {
    assertProtocolError(
      () => parseText(JSON.stringify({ ...SAMPLES[4], seq })),
      /^Invalid "peer_left" message: "seq": /,
    );
  }
  assertProtocolError(
    () => parseText('{"v":1,"type":"peer_left","peer_id":4,"reason":"timeout"}'),
    /^Invalid "peer_left" message: "seq": /,
  );
});

Deno.test("parseControl rejects an unknown enum value of a known type", () => {
  assertProtocolError(
    () => parseText(JSON.stringify({ ...SAMPLES[2], code: "too_cool" })),
    /^Invalid "reject" message: "code": /,
  );
  assertProtocolError(
    () => parseText('{"v":1,"type":"hello"}'),
    /^Invalid "hello" message: "role": .*; and \d+ more$/,
  );
});

/** A writable stream recording each chunk; each write takes a few event-loop turns. */
function recordingStream(): { stream: WritableStream<Uint8Array>; chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      chunks.push(chunk.slice());
    },
  });
  return { stream, chunks };
}

Deno.test("ControlWriter writes concurrent sends whole and in call order", async () => {
  const { stream, chunks } = recordingStream();
  const writer = new ControlWriter(stream);
  await Promise.all(SAMPLES.map((m) => writer.send(m)));
  await writer.close();
  assert.equal(chunks.length, SAMPLES.length);
  const reader = new ControlReader(streamOf(chunks));
  assert.deepEqual(await readAll(reader), SAMPLES);
});

Deno.test("ControlWriter.close closes the stream once and is safe to repeat", async () => {
  let closes = 0;
  const stream = new WritableStream<Uint8Array>({
    close() {
      closes++;
    },
  });
  const writer = new ControlWriter(stream);
  await writer.send(HELLO);
  await Promise.all([writer.close(), writer.close()]);
  await writer.close();
  assert.equal(closes, 1);
});

Deno.test("ControlWriter rejects a send after close without writing", async () => {
  const { stream, chunks } = recordingStream();
  const writer = new ControlWriter(stream);
  await writer.close();
  await assert.rejects(writer.send(HELLO), {
    message: 'Cannot send "hello": the control stream is closed',
  });
  assert.equal(chunks.length, 0);
});

Deno.test("ControlWriter.close does not reject on a stream that already failed", async () => {
  const stream = new WritableStream<Uint8Array>({
    write() {
      throw new Error("connection lost");
    },
  });
  const writer = new ControlWriter(stream);
  await assert.rejects(writer.send(HELLO), { message: "connection lost" });
  await writer.close();
  await writer.close();
});

Deno.test("ControlWriter rejects an oversize message and keeps the stream usable", async () => {
  const { stream, chunks } = recordingStream();
  const writer = new ControlWriter(stream);
  const big: ControlMessage = {
    v: 1,
    type: "disconnect",
    reason: "error",
    text: "x".repeat(70_000),
  };
  await assert.rejects(writer.send(big), { name: "RangeError" });
  await writer.send(HELLO);
  await writer.close();
  assert.equal(chunks.length, 1);
  assert.deepEqual(parseControl(chunks[0]!.subarray(4)), HELLO);
});

Deno.test("parseControl bounds what stats may carry: its id, and how many names and how long", () => {
  const stats = SAMPLES[5] as Record<string, unknown>;
  const many = Object.fromEntries(
    Array.from({ length: MAX_STATS_ENTRIES + 1 }, (_, i) => [`reason_${i}`, i]),
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...stats, dropped: many })),
    /^Invalid "stats" message: "dropped": Expected at most 64 entries/,
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...stats, counters: many })),
    /^Invalid "stats" message: "counters": Expected at most 64 entries/,
  );
  delete many[`reason_${MAX_STATS_ENTRIES}`];
  assert.equal(
    Object.keys(
      (parseText(JSON.stringify({ ...stats, dropped: many })) as { dropped: object })
        .dropped,
    ).length,
    MAX_STATS_ENTRIES,
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...stats, dropped: { ["x".repeat(65)]: 1 } })),
    /^Invalid "stats" message: "dropped\.x+": /,
  );
  assertProtocolError(
    () => parseText(JSON.stringify({ ...stats, counters: { lan_frames: 1.5 } })),
    /^Invalid "stats" message: "counters\.lan_frames": /,
  );
  for (const id of [-1, 0x1_0000_0000, "1"]) {
    assertProtocolError(
      () => parseText(JSON.stringify({ ...stats, id })),
      /^Invalid "stats" message: "id": /,
    );
    assertProtocolError(
      () => parseText(JSON.stringify({ v: 1, type: "stats_request", id })),
      /^Invalid "stats_request" message: "id": /,
    );
  }
});
