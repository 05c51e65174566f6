/**
 * A token bucket for per-peer rate limits (broadcast frames per second, bytes per second). It
 * holds no clock: callers pass `now` in milliseconds from a monotonic source such as
 * `performance.now()`, so tests drive it with a fake clock.
 *
 * @example 100 broadcasts per second, bursts of 20
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 *
 * const bucket = new TokenBucket(100, 20, performance.now());
 * if (!bucket.take(1, performance.now())) {
 *   // drop the frame and count it as "broadcast_rate"
 * }
 * ```
 *
 * @module
 */

/** Refills continuously at a fixed rate up to a burst size; {@linkcode take} spends tokens. */
export class TokenBucket {
  readonly #unlimited: boolean;
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  /**
   * Starts full. `ratePerSecond` of 0 or `Infinity` means unlimited. Throws a `RangeError` for a
   * negative or NaN rate or burst.
   *
   * @param ratePerSecond tokens added per second
   * @param burst the most tokens the bucket holds; an amount larger than this never succeeds
   * @param now the current time in milliseconds
   */
  constructor(ratePerSecond: number, burst: number, now: number) {
    if (!(ratePerSecond >= 0)) {
      throw new RangeError(`Invalid token rate "${ratePerSecond}": expected a number >= 0`);
    }
    if (!(burst >= 0)) {
      throw new RangeError(`Invalid token burst "${burst}": expected a number >= 0`);
    }
    this.#unlimited = ratePerSecond === 0 || ratePerSecond === Infinity;
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /**
   * Takes `amount` tokens at time `now` (ms) if the bucket holds that many, and says whether it
   * did; a refusal takes nothing. Allocation-free, for per-frame use.
   */
  take(amount: number, now: number): boolean {
    if (!this.holds(amount, now)) return false;
    if (!this.#unlimited) this.#tokens -= amount;
    return true;
  }

  /** Whether the bucket holds `amount` tokens at time `now` (ms), taking none. */
  holds(amount: number, now: number): boolean {
    if (this.#unlimited) return true;
    // Only forward time refills. A clock that steps back refills nothing, and `#last` stays put
    // so the same interval is not credited twice when the clock comes forward again.
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
      this.#last = now;
    }
    return this.#tokens >= amount;
  }
}
