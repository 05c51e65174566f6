import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

function takeAll(bucket: TokenBucket, now: number, limit = 1000): number {
  let taken = 0;
  while (taken < limit && bucket.take(1, now)) taken++;
  return taken;
}

Deno.test("TokenBucket allows a full burst, then refuses", () => {
  const bucket = new TokenBucket(10, 5, 0);
  assert.equal(takeAll(bucket, 0), 5);
  assert.equal(bucket.take(1, 0), false);
});

Deno.test("TokenBucket refills at the rate as time passes", () => {
  const bucket = new TokenBucket(10, 5, 0);
  takeAll(bucket, 0);
  assert.equal(bucket.take(1, 99), false); // 0.99 tokens
  assert.equal(bucket.take(1, 100), true);
  assert.equal(bucket.take(1, 100), false);
  assert.equal(takeAll(bucket, 400), 3);
});

Deno.test("TokenBucket never holds more than the burst", () => {
  const bucket = new TokenBucket(10, 5, 0);
  takeAll(bucket, 0);
  assert.equal(takeAll(bucket, 60_000), 5);
});

Deno.test("TokenBucket refuses an amount it does not hold and keeps its tokens", () => {
  const bucket = new TokenBucket(1000, 1500, 0);
  assert.equal(bucket.take(1000, 0), true);
  assert.equal(bucket.take(600, 0), false);
  assert.equal(bucket.take(500, 0), true);
  assert.equal(bucket.take(1, 0), false);
});

Deno.test("TokenBucket mints no tokens when the clock goes backwards", () => {
  const bucket = new TokenBucket(10, 5, 1000);
  takeAll(bucket, 1000);
  assert.equal(bucket.take(1, 0), false);
  // Back at the original time: nothing was earned in between.
  assert.equal(bucket.take(1, 1000), false);
  assert.equal(bucket.take(1, 1100), true);
});

Deno.test("TokenBucket with rate 0 or Infinity is unlimited", () => {
  for (const rate of [0, Infinity]) {
    const bucket = new TokenBucket(rate, 0, 0);
    assert.equal(takeAll(bucket, 0), 1000, `rate ${rate}`);
    assert.equal(bucket.take(1e12, 0), true, `rate ${rate}`);
  }
});

Deno.test("TokenBucket rejects a negative or NaN rate or burst", () => {
  assert.throws(() => new TokenBucket(-1, 5, 0), RangeError);
  assert.throws(() => new TokenBucket(NaN, 5, 0), RangeError);
  assert.throws(() => new TokenBucket(10, -1, 0), RangeError);
  assert.throws(() => new TokenBucket(10, NaN, 0), RangeError);
});
