import assert from "node:assert/strict";
import { fuzzDecoder, plain, prng, strictBytes } from "./total_decoders.ts";

Deno.test("strictBytes() throws on reads past either end; with guardViews, through subarray() too", () => {
  const bytes = strictBytes(new Uint8Array([1, 2, 3]));
  assert.equal(bytes[2], 3);
  assert.equal(bytes.length, 3);
  assert.throws(() => bytes[3], RangeError);
  assert.equal(bytes.subarray(1)[2], undefined); // a plain view by default
  const guarded = strictBytes(new Uint8Array([1, 2, 3]), true);
  assert.throws(() => guarded.subarray(1)[2], RangeError);
  assert.throws(() => guarded.subarray(1).subarray(1)[1], RangeError);
  assert.deepEqual([...guarded.slice(1)], [2, 3]);
});

Deno.test("fuzzDecoder() fails a decoder that reads one byte too far, also in a view", () => {
  const sloppy = (bytes: Uint8Array) => bytes[bytes.length];
  assert.throws(() => fuzzDecoder(sloppy, [new Uint8Array(8)], { mutations: 1 }), /decoder threw/);
  const sloppyInView = (bytes: Uint8Array) => {
    const view = bytes.subarray(1);
    return view[view.length];
  };
  fuzzDecoder(sloppyInView, [new Uint8Array(8)], { mutations: 1 }); // unseen without guardViews
  assert.throws(
    () => fuzzDecoder(sloppyInView, [new Uint8Array(8)], { mutations: 1, guardViews: true }),
    /decoder threw/,
  );
});

Deno.test("plain() turns byte views into arrays at any depth; prng() repeats for a seed", () => {
  const bytes = new Uint8Array([9, 8, 7]);
  assert.deepEqual(plain({ a: bytes.subarray(1), b: [{ c: bytes }], d: 1 }), {
    a: [8, 7],
    b: [{ c: [9, 8, 7] }],
    d: 1,
  });
  const a = prng(7);
  const b = prng(7);
  for (let i = 0; i < 50; i++) assert.equal(a(), b());
});
