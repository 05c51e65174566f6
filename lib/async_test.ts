import assert from "node:assert/strict";
import { delay, TimeoutError, waitFor, withTimeout } from "./async.ts";

Deno.test("delay resolves at once when its signal aborts, never rejecting", async () => {
  const stop = new AbortController();
  const started = performance.now();
  const waiting = delay(10_000, stop.signal);
  stop.abort(new Error("stop"));
  await waiting;
  assert.ok(performance.now() - started < 1000);
  await delay(10_000, stop.signal); // already aborted: returns at once
});

Deno.test("withTimeout rejects with TimeoutError and its message after the deadline", async () => {
  await assert.rejects(withTimeout(new Promise(() => {}), 5, "too slow"), (err) => {
    assert.ok(err instanceof TimeoutError);
    assert.equal((err as Error).message, "too slow");
    return true;
  });
  assert.equal(await withTimeout(Promise.resolve("ok"), 1000, "never"), "ok");
});

Deno.test("waitFor returns the first accepted value, treats a throwing probe as not yet", async () => {
  let polls = 0;
  const value = await waitFor(
    () => {
      polls++;
      if (polls === 1) throw new Error("not up yet");
      return polls;
    },
    (n) => n === 3,
    { timeoutMs: 2000, intervalMs: 1, what: "three polls" },
  );
  assert.equal(value, 3);
});

Deno.test("waitFor times out naming what it waited for and the last value", async () => {
  await assert.rejects(
    waitFor(() => 41, (n) => n === 42, { timeoutMs: 20, intervalMs: 1, what: "the answer" }),
    /waiting for the answer; last: 41/,
  );
});

Deno.test("waitFor stops with the signal's reason when it aborts", async () => {
  const stop = new AbortController();
  const waiting = waitFor(() => 0, () => false, {
    timeoutMs: 10_000,
    intervalMs: 5,
    what: "never",
    signal: stop.signal,
  });
  stop.abort(new Error("cancelled"));
  await assert.rejects(waiting, /cancelled/);
});
