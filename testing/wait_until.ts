/**
 * Polling a condition in tests: the one waiting loop the integration tests and the rigs share.
 *
 * @module
 */

/** Polls `probe` every 50 ms until `accept` holds or `timeoutMs` passes; throws with `what`. */
export async function waitUntil<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (err) {
      error = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)} ${
      error ?? ""
    }`,
  );
}
