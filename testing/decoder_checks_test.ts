import assert from "node:assert/strict";
import { fuzzDecoder, guardBytes, OutOfBoundsRead, seededRandom } from "./decoder_checks.ts";

Deno.test("guardBytes() throws on reads past either end, also through subarray()", () => {
  const bytes = guardBytes(new Uint8Array([1, 2, 3]));
  assert.equal(bytes[2], 3);
  assert.equal(bytes.length, 3);
  assert.throws(() => bytes[3], OutOfBoundsRead);
  assert.throws(() => bytes.subarray(1)[2], OutOfBoundsRead);
  assert.deepEqual([...bytes.slice(1)], [2, 3]);
});

Deno.test("fuzzDecoder() fails a decoder that reads one byte too far, or throws", () => {
  const sloppy = (bytes: Uint8Array) => bytes[bytes.length - 1 + (bytes.length > 3 ? 1 : 0)] ?? 0;
  assert.throws(
    () => fuzzDecoder([new Uint8Array(8)], sloppy, { mutations: 1 }),
    /threw OutOfBoundsRead/,
  );
  assert.throws(
    () =>
      fuzzDecoder([new Uint8Array(8)], () => {
        throw new Error("bug");
      }, { mutations: 1 }),
    /threw Error: bug/,
  );
  fuzzDecoder([new Uint8Array(8)], (bytes) => bytes.length, { mutations: 5 });
});

Deno.test("seededRandom() repeats for a seed and stays in [0, 1)", () => {
  const a = seededRandom(7);
  const b = seededRandom(7);
  for (let i = 0; i < 100; i++) {
    const value = a();
    assert.equal(value, b());
    assert.ok(value >= 0 && value < 1);
  }
});
