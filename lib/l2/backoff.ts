/**
 * Reconnect delays: exponential steps with full jitter (a uniformly random delay up to the
 * step), so peers that lost the same relay do not come back in lockstep.
 *
 * @module
 */

/** The steps of docs/l2-protocol.md §2 (ms); the last one repeats. */
export const RECONNECT_STEPS: readonly number[] = [500, 1000, 2000, 4000, 8000, 15000, 30000];

/** A sequence of reconnect delays. */
export class Backoff {
  readonly #steps: readonly number[];
  readonly #random: () => number;
  #attempt = 0;

  /** `random` returns [0, 1) (tests pass a fixed one). */
  constructor(steps: readonly number[] = RECONNECT_STEPS, random: () => number = Math.random) {
    if (steps.length === 0) throw new RangeError("Backoff needs at least one step");
    this.#steps = steps;
    this.#random = random;
  }

  /** The delay before the next attempt, in ms. */
  next(): number {
    const step = this.#steps[Math.min(this.#attempt, this.#steps.length - 1)]!;
    this.#attempt++;
    return Math.floor(this.#random() * step);
  }

  /** Starts again from the first step (after a connection that lasted). */
  reset(): void {
    this.#attempt = 0;
  }
}
