/**
 * Publish/subscribe for control-socket subscriptions: a daemon publishes events, each
 * subscriber reads them as an async iterable (what a `ControlServer` handler returns to stream).
 * Queues are bounded: a subscriber that falls behind loses its oldest events, and the next event
 * it reads says how many it missed.
 *
 * @module
 */

/** An event, or a note that this many earlier events were dropped for a slow reader. */
export type Delivery<T> = T | { event: "dropped"; count: number };

interface Subscriber<T> {
  queue: T[];
  dropped: number;
  wake: (() => void) | null;
  ended: boolean;
}

/** Fans events out to subscribers. */
export class EventHub<T> {
  readonly #subscribers = new Set<Subscriber<T>>();
  readonly #limit: number;

  /** `limit`: events queued per subscriber before the oldest are dropped. */
  constructor(limit = 1000) {
    this.#limit = limit;
  }

  /** How many subscribers there are. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Queues `event` for every subscriber. */
  publish(event: T): void {
    for (const s of this.#subscribers) {
      s.queue.push(event);
      if (s.queue.length > this.#limit) {
        s.queue.shift();
        s.dropped++;
      }
      s.wake?.();
    }
  }

  /**
   * Events from now on, until `signal` aborts or the hub closes. The subscription starts when
   * this is called, not when the iterable is first read, so nothing published in between is lost.
   */
  subscribe(signal: AbortSignal): AsyncGenerator<Delivery<T>> {
    const s: Subscriber<T> = { queue: [], dropped: 0, wake: null, ended: false };
    if (signal.aborted) return this.#deliver(s, signal);
    this.#subscribers.add(s);
    // A generator that is never read never runs its cleanup: the signal removes the subscriber,
    // so a subscription refused before its first read (e.g. at the server's cap) leaks nothing.
    signal.addEventListener("abort", () => this.#subscribers.delete(s), { once: true });
    return this.#deliver(s, signal);
  }

  async *#deliver(s: Subscriber<T>, signal: AbortSignal): AsyncGenerator<Delivery<T>> {
    const onAbort = () => {
      s.ended = true;
      s.wake?.();
    };
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) s.ended = true;
    try {
      while (!s.ended) {
        if (s.dropped > 0) {
          yield { event: "dropped", count: s.dropped };
          s.dropped = 0;
        }
        const next = s.queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => s.wake = resolve);
        s.wake = null;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#subscribers.delete(s);
    }
  }

  /** Ends every subscription. */
  close(): void {
    for (const s of this.#subscribers) {
      s.ended = true;
      s.wake?.();
    }
  }
}
