/**
 * Folder-internal: a quantity every connection of one control server draws from, such as the
 * bytes buffered or the subscriptions streaming, so that many connections together stay bounded.
 *
 * @module
 */

/** A shared allowance: takes that would pass the limit are refused; forced takes never are. */
export class Allowance {
  /** The most that may be taken at once (forced takes aside). */
  readonly limit: number;
  #used = 0;

  /** Creates an allowance of `limit`. */
  constructor(limit: number) {
    this.limit = limit;
  }

  /** How much is taken now (may exceed {@linkcode limit} after forced takes). */
  get used(): number {
    return this.#used;
  }

  /** Whether forced takes have pushed the total past the limit. */
  get overdrawn(): boolean {
    return this.#used > this.limit;
  }

  /** Takes `amount` if the total stays within the limit; returns whether it did. */
  take(amount: number): boolean {
    if (this.#used + amount > this.limit) return false;
    this.#used += amount;
    return true;
  }

  /** Takes `amount` that is already spent (a reply being written), even past the limit. */
  force(amount: number): void {
    this.#used += amount;
  }

  /** Gives `amount` back. */
  give(amount: number): void {
    this.#used -= amount;
  }

  /** Takes `delta` when positive (refusable), gives it back when negative: a buffer's growth hook. */
  allot(delta: number): boolean {
    if (delta > 0) return this.take(delta);
    this.give(-delta);
    return true;
  }
}
