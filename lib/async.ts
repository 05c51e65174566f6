/**
 * The one async toolkit: waiting that a signal can cut short, deadlines on promises, and polling
 * a condition. Everything in netkit that waits uses these, so every wait is abortable the same way.
 *
 * @example Waiting at most one second for a condition
 * ```ts
 * import assert from "node:assert/strict";
 * import { delay, waitFor, withTimeout } from "./async.ts";
 *
 * await delay(1);
 * let n = 0;
 * const value = await waitFor(() => ++n, (v) => v >= 3, { timeoutMs: 1000, intervalMs: 1, what: "three polls" });
 * assert.ok(value === 3);
 * assert.ok(await withTimeout(Promise.resolve(7), 1000, "never") === 7);
 * ```
 *
 * @module
 */

/** Thrown by {@linkcode withTimeout} and {@linkcode waitFor} when the deadline passes first. */
export class TimeoutError extends Error {}

/**
 * Resolves after `ms`, or at once when `signal` aborts (it never rejects: a caller that must
 * stop on abort checks `signal.aborted` after the wait).
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Resolves as `promise` does, or rejects with `TimeoutError(message)` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** How {@linkcode waitFor} polls. */
export interface WaitForOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between polls (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what: string;
  /** Stops the polling early; the wait then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Polls `probe` until `accept` holds for its value and returns that value. A probe that throws
 * counts as not yet; the last value and error are in the `TimeoutError` message.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  options: WaitForOptions,
): Promise<T> {
  const { timeoutMs, intervalMs = 50, what, signal } = options;
  const deadline = performance.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (err) {
      error = err;
    }
    if (performance.now() >= deadline) break;
    await delay(intervalMs, signal);
  }
  throw new TimeoutError(
    `Timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}${
      error === undefined ? "" : ` ${error}`
    }`,
  );
}
