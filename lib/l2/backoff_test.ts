import assert from "node:assert/strict";
import { Backoff, RECONNECT_STEPS } from "./backoff.ts";

Deno.test("Backoff doubles up to its cap and repeats the cap", () => {
  const backoff = new Backoff(RECONNECT_STEPS, () => 0.999999);
  const delays = Array.from({ length: 9 }, () => backoff.next());
  assert.deepEqual(delays, [499, 999, 1999, 3999, 7999, 14999, 29999, 29999, 29999]);
});

Deno.test("Backoff jitters each delay over the whole step", () => {
  const values = [0, 0.5];
  const backoff = new Backoff([1000], () => values.shift() ?? 0);
  assert.equal(backoff.next(), 0);
  assert.equal(backoff.next(), 500);
});

Deno.test("Backoff starts over after reset", () => {
  const backoff = new Backoff([100, 200, 400], () => 0.5);
  backoff.next();
  backoff.next();
  backoff.reset();
  assert.equal(backoff.next(), 50);
});
