/**
 * Polling a condition in tests: the one waiting loop the integration tests and the rigs share,
 * with a positional signature kept for the tests that call it; it is lib/async.ts's waitFor.
 *
 * @module
 */

import { waitFor } from "../lib/async.ts";

/** Polls `probe` every 50 ms until `accept` holds or `timeoutMs` passes; throws with `what`. */
export function waitUntil<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return waitFor(probe, accept, { timeoutMs, what });
}
