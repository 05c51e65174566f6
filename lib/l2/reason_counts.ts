/**
 * Counts by reason (drops, malformed datagrams), reported as a JSON object.
 *
 * @module
 */

/** A count per reason; reasons appear in the order they first happened. */
export class ReasonCounts {
  readonly #counts = new Map<string, number>();

  /** Adds `n` (default 1) to `reason`. */
  add(reason: string, n = 1): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + n);
  }

  /** Adds every count of `other`. */
  addAll(other: ReasonCounts): void {
    for (const [reason, n] of other.#counts) this.add(reason, n);
  }

  /** The count of `reason` (0 when it never happened). */
  get(reason: string): number {
    return this.#counts.get(reason) ?? 0;
  }

  /** The sum over every reason. */
  total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  /** `{ reason: count }`. */
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }
}
