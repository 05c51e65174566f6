import assert from "node:assert/strict";
import {
  decodeIfComplete,
  decodeJson,
  encodeLine,
  errorReplyMessage,
  type Frame,
  JsonText,
  LineFramer,
  ReadBuffer,
} from "./_wire.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function lines(framer: LineFramer): string[] {
  const out: string[] = [];
  for (let frame = framer.next(); frame !== null; frame = framer.next()) {
    assert.equal(frame.kind, "line");
    if (frame.kind === "line") out.push(decoder.decode(frame.bytes));
  }
  return out;
}

Deno.test("LineFramer splits several lines in one chunk and keeps the unterminated rest", () => {
  const framer = new LineFramer(100);
  framer.push(encoder.encode('{"a":1}\n{"b":2}\n{"c"'));
  assert.deepEqual(lines(framer), ['{"a":1}', '{"b":2}']);
  assert.equal(decoder.decode(framer.peekRest()), '{"c"');
  framer.push(encoder.encode(":3}\n"));
  assert.deepEqual(lines(framer), ['{"c":3}']);
  assert.equal(framer.buffered, 0);
});

Deno.test("LineFramer reassembles lines from any chunking of the stream", () => {
  const sent = Array.from({ length: 200 }, (_, i) => `{"seq":${i},"pad":"${"x".repeat(i * 7)}"}`);
  const stream = encoder.encode(sent.join("\n") + "\n");
  // Chunk sizes from 1 byte to larger than the initial buffer exercise compaction and growth.
  for (const size of [1, 3, 1000, 5000]) {
    const framer = new LineFramer(10_000);
    const got: string[] = [];
    for (let at = 0; at < stream.length; at += size) {
      framer.push(stream.subarray(at, at + size));
      got.push(...lines(framer));
    }
    assert.deepEqual(got, sent, `chunks of ${size} bytes`);
  }
});

Deno.test("LineFramer accepts a line of exactly maxBytes and refuses one byte more", () => {
  const framer = new LineFramer(8);
  framer.push(encoder.encode("12345678\n"));
  assert.deepEqual(framer.next(), { kind: "line", bytes: encoder.encode("12345678") });
  framer.push(encoder.encode("123456789\n"));
  assert.deepEqual(framer.next(), { kind: "overflow", bytes: 9 } satisfies Frame);
});

Deno.test("LineFramer refuses an unterminated line as soon as it exceeds maxBytes", () => {
  const framer = new LineFramer(8);
  framer.push(encoder.encode("12345678"));
  assert.equal(framer.next(), null);
  framer.push(encoder.encode("9"));
  assert.deepEqual(framer.next(), { kind: "overflow", bytes: 9 } satisfies Frame);
});

Deno.test("decodeIfComplete waits for a value that may continue and parses a complete one", () => {
  assert.equal(decodeIfComplete(encoder.encode('{"cmd":"sh')), null);
  assert.equal(decodeIfComplete(encoder.encode("12")), null, "more digits may follow");
  assert.equal(decodeIfComplete(encoder.encode("  ")), null);
  assert.deepEqual(decodeIfComplete(encoder.encode('{"cmd":"show"}')), {
    ok: true,
    value: { cmd: "show" },
  });
  assert.deepEqual(decodeIfComplete(encoder.encode('["a", true] \t')), {
    ok: true,
    value: ["a", true],
  });
  assert.equal(decodeIfComplete(encoder.encode('[{"a": 1}, ')), null);
  // A multi-byte character split across reads is incomplete, not an error.
  assert.equal(decodeIfComplete(encoder.encode('{"name":"é"}').subarray(0, 10)), null);
});

Deno.test("decodeJson explains invalid UTF-8 and invalid JSON on one line", () => {
  assert.deepEqual(decodeJson(new Uint8Array([0x22, 0xff, 0x22])), {
    ok: false,
    reason: "the message is not valid UTF-8",
  });
  const bad = decodeJson(encoder.encode("{oops"));
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.doesNotMatch(bad.reason, /\n/);
});

Deno.test("encodeLine keeps line breaks inside strings escaped", () => {
  const line = encodeLine({ text: "a\nb" });
  assert.ok(line !== null);
  assert.equal(decoder.decode(line), '{"text":"a\\nb"}\n');
  assert.equal(encodeLine(undefined), null);
});

Deno.test("errorReplyMessage recognises only the error reply shape", () => {
  assert.equal(errorReplyMessage({ status: "error", message: "No such port" }), "No such port");
  assert.equal(errorReplyMessage({ status: "ok" }), null);
  assert.equal(errorReplyMessage({ status: "error", message: 3 }), null);
  assert.equal(errorReplyMessage([]), null);
});

Deno.test("ReadBuffer grows fourfold while reads fill it, up to 1 MiB", () => {
  const buffer = new ReadBuffer();
  const sizes = [buffer.bytes.length];
  for (let i = 0; i < 5; i++) {
    buffer.bytes.fill(7);
    const got = buffer.filled(buffer.bytes.length);
    assert.equal(got[got.length - 1], 7, "what was read stays readable");
    sizes.push(buffer.bytes.length);
  }
  assert.deepEqual(sizes, [65536, 262144, 1048576, 1048576, 1048576, 1048576]);
  buffer.filled(10);
  assert.equal(buffer.bytes.length, 1048576, "a short read keeps the size");
});

Deno.test("encodeLine sends JsonText as it is", () => {
  assert.equal(
    new TextDecoder().decode(encodeLine(new JsonText('{"status":"success","n":[1,2]}'))!),
    '{"status":"success","n":[1,2]}\n',
  );
});
