import assert from "node:assert/strict";
import {
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

/** What a framer fed `chunks` (and no newline) offers as one complete value after each chunk. */
function completeValues(...chunks: string[]): (unknown | null)[] {
  const framer = new LineFramer(1000);
  return chunks.map((chunk) => {
    framer.push(encoder.encode(chunk));
    assert.equal(framer.next(), null);
    const decoded = framer.completeValue();
    if (decoded === null) return null;
    assert.ok(decoded.ok);
    return decoded.value;
  });
}

Deno.test("LineFramer.completeValue waits for a value that may continue and parses a complete one", () => {
  assert.deepEqual(completeValues('{"cmd":"sh', 'ow"', "}"), [null, null, { cmd: "show" }]);
  assert.deepEqual(completeValues("12", "3"), [null, null], "more digits may follow");
  assert.deepEqual(completeValues("  "), [null]);
  assert.deepEqual(completeValues('["a", true] \t'), [["a", true]]);
  assert.deepEqual(completeValues('[{"a": 1}, ', "2]"), [null, [{ a: 1 }, 2]]);
  assert.deepEqual(completeValues('{"s":"}\\"}', '"}'), [null, { s: '}"}' }]);
  assert.deepEqual(completeValues('"top"'), ["top"]);
  assert.deepEqual(completeValues("nul", "l"), [null, null]);
  assert.deepEqual(completeValues(" tru", "e "), [null, true]);
  const split = encoder.encode('{"name":"é"}');
  const framer = new LineFramer(100);
  framer.push(split.subarray(0, 10));
  assert.equal(framer.next(), null);
  assert.equal(framer.completeValue(), null, "half a UTF-8 character");
  framer.push(split.subarray(10));
  assert.equal(framer.next(), null);
  assert.deepEqual(framer.completeValue(), { ok: true, value: { name: "é" } });
  assert.equal(framer.buffered, 0, "a complete value is taken from the framer");
});

Deno.test("LineFramer.completeValue gives up on a line that cannot be one value until it ends", () => {
  const framer = new LineFramer(1000);
  for (const chunk of ["{bad}", "{}", "[]", '"s"']) {
    framer.push(encoder.encode(chunk));
    assert.equal(framer.next(), null);
    assert.equal(framer.completeValue(), null);
  }
  assert.equal(framer.parses, 1, "only the first closed value is parsed");
  framer.push(encoder.encode('\n{"a":1}'));
  assert.deepEqual(framer.next(), { kind: "line", bytes: encoder.encode('{bad}{}[]"s"') });
  assert.equal(framer.next(), null);
  assert.deepEqual(
    framer.completeValue(),
    { ok: true, value: { a: 1 } },
    "the next line starts afresh",
  );
});

Deno.test("LineFramer parses a 1 MB request sent in 100-byte chunks a bounded number of times", () => {
  // Every chunk ends in "}" as a complete value would; parsing the held bytes each time
  // would cost time growing with the square of the request's size.
  const framer = new LineFramer(2 * 1024 * 1024);
  const item = `,{"p":"${"x".repeat(92)}"}`;
  const chunks = ['{"value":[{"p":""}', ...Array(10_000).fill(item)];
  for (const chunk of chunks) {
    framer.push(encoder.encode(chunk));
    assert.equal(framer.next(), null);
    assert.equal(framer.completeValue(), null);
  }
  assert.equal(framer.parses, 0);
  framer.push(encoder.encode("]}"));
  assert.equal(framer.next(), null);
  const decoded = framer.completeValue();
  assert.ok(decoded?.ok);
  assert.equal((decoded.value as { value: unknown[] }).value.length, 10_001);
  assert.equal(framer.parses, 1);
});

Deno.test("LineFramer scans a megabyte of blanks once, not once per chunk", () => {
  const framer = new LineFramer(2 * 1024 * 1024);
  for (let i = 0; i < 10_000; i++) {
    framer.push(encoder.encode(" ".repeat(100)));
    assert.equal(framer.next(), null);
    assert.equal(framer.completeValue(), null);
  }
  framer.push(encoder.encode("null"));
  assert.equal(framer.next(), null);
  assert.deepEqual(framer.completeValue(), { ok: true, value: null });
  assert.equal(framer.parses, 1);
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

Deno.test("LineFramer asks before growing, keeps nothing of a refused chunk, and gives growth back", () => {
  let granted = 0;
  let budget = 20_000;
  const framer = new LineFramer(1_000_000, (delta) => {
    if (delta > 0 && granted + delta > budget) return false;
    granted += delta;
    return true;
  });
  assert.ok(framer.push(encoder.encode("x".repeat(3000))), "the first 4 KiB need no grant");
  assert.equal(granted, 0);
  assert.ok(framer.push(encoder.encode("y".repeat(10_000))));
  assert.equal(granted, framer.capacity - 4096);
  assert.equal(framer.push(encoder.encode("z".repeat(20_000))), false);
  assert.equal(framer.buffered, 13_000, "a refused chunk is not kept");
  budget = Infinity;
  assert.ok(framer.push(encoder.encode("\n")));
  assert.equal(framer.next()?.kind, "line");
  framer.shrink();
  assert.equal(framer.capacity, 4096);
  assert.equal(granted, 0, "the growth is given back");
});

Deno.test("LineFramer grows to at most one longest line plus the chunk, not the next power of two", () => {
  const framer = new LineFramer(5000);
  framer.push(new Uint8Array(4000));
  framer.push(new Uint8Array(1000));
  assert.ok(framer.capacity <= 5000 + 1 + 1000, `capacity ${framer.capacity}`);
});

Deno.test("ReadBuffer stays small when growth is refused and gives growth back when it shrinks", () => {
  let granted = 0;
  let allow = true;
  const buffer = new ReadBuffer((delta) => {
    if (delta > 0 && !allow) return false;
    granted += delta;
    return true;
  });
  buffer.filled(buffer.bytes.length);
  assert.equal(buffer.bytes.length, 262144);
  assert.equal(granted, 262144 - 65536);
  allow = false;
  buffer.filled(buffer.bytes.length);
  assert.equal(buffer.bytes.length, 262144, "refused growth only means smaller reads");
  buffer.shrink();
  assert.equal(buffer.bytes.length, 65536);
  assert.equal(granted, 0);
});
